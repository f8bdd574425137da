/** The server as a real process: start-up, demo data, and a graceful stop with a request in flight. */
import { connect, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '@yika/db/testing';
import { childDatabase, runCli, startServer, type ChildDatabase } from './test/processes.js';

describe('main.ts as a process', { timeout: 120_000 }, () => {
  let database: ChildDatabase;
  /** Demo mode starts the bank simulator as a child process; give it a port nobody else uses. */
  let bankSim: { BANK_SIM_URL: string };
  beforeAll(async () => {
    database = await childDatabase();
    bankSim = { BANK_SIM_URL: `http://127.0.0.1:${await freePort()}` };
  });
  afterAll(async () => {
    await database.dispose();
  });

  it('stops with one line naming the variable when the configuration is bad', async () => {
    const server = startServer({ ...database.env, PORT: 'abc' });
    const { code } = await server.exited;
    expect(code).toBe(1);
    expect(server.stderr()).toBe('Configuration error: PORT must be an integer between 0 and 65535 (got "abc")\n');
  });

  it('seeds demo data on first start, serves, and on SIGTERM finishes the in-flight request before exiting 0', async () => {
    const server = startServer({ ...database.env, ...bankSim, SHUTDOWN_TIMEOUT_MS: '20000' });
    try {
      const ready = await server.waitForLine(
        (line) => typeof line.msg === 'string' && line.msg.startsWith('Yika ready at'),
      );
      expect(server.lines.some((line) => line.msg?.startsWith('demo data: 4 accounts created'))).toBe(true);
      const url = new URL(String(ready.url));

      const readyz = await fetch(new URL('/readyz', url));
      expect(readyz.status).toBe(200);
      // Demo mode: the simulated bank runs beside the server as its own process, and stops with it.
      expect(
        server.lines.some((line) => line.msg?.startsWith(`demo mode: bank simulator at ${bankSim.BANK_SIM_URL}`)),
      ).toBe(true);
      expect((await fetch(`${bankSim.BANK_SIM_URL}/healthz`)).status).toBe(200);

      if (!testDatabaseUrl()) {
        // PGlite files belong to one process: a CLI command against them must refuse, not corrupt them.
        const cli = await runCli(['ledger:verify'], database.env);
        expect(cli.code).toBe(1);
        expect(cli.stderr).toMatch(/in use by process \d+/);
      }

      // A request whose body is still arriving when the signal comes.
      const socket = connect(Number(url.port), url.hostname);
      let response = '';
      socket.on('data', (chunk: Buffer) => (response += chunk.toString()));
      const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
      const body = JSON.stringify({ note: 'slow upload' });
      socket.write(
        `POST /v1/slow-upload HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n`,
      );
      socket.write(body.slice(0, 5));
      await server.waitForLine((line) => (line.req as { url?: string } | undefined)?.url === '/v1/slow-upload');

      server.child.kill('SIGTERM');
      await server.waitForLine((line) => line.msg?.startsWith('SIGTERM received') === true);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(server.lines.some((line) => line.msg === 'database closed')).toBe(false); // still waiting for us

      socket.end(body.slice(5));
      await closed;
      expect(response).toMatch(/^HTTP\/1\.1 404 /);
      expect(response).toContain('"code":"not_found"');

      const { code, signal } = await server.exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
      await expect(fetch(`${bankSim.BANK_SIM_URL}/healthz`)).rejects.toThrow();
      const messages = server.lines.map((line) => line.msg);
      const order = [
        'HTTP server closed; in-flight requests finished',
        'ledger writer flushed',
        'database closed',
        'bye',
      ].map((message) => messages.indexOf(message));
      expect(order.every((index) => index >= 0)).toBe(true);
      expect([...order].sort((a, b) => a - b)).toEqual(order);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
  });

  it('does not seed again on the next start, and the ledger it left verifies', async () => {
    const server = startServer({ ...database.env, ...bankSim });
    try {
      await server.waitForLine((line) => typeof line.msg === 'string' && line.msg.startsWith('Yika ready at'));
      expect(server.lines.some((line) => line.msg?.startsWith('demo data:'))).toBe(false);
      server.child.kill('SIGINT');
      expect((await server.exited).code).toBe(0);
    } finally {
      if (server.child.exitCode === null) server.child.kill('SIGKILL');
    }
    const verify = await runCli(['ledger:verify'], database.env);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('ledger OK: 4 accounts, 4 transfers');
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
