/**
 * The system under test as real processes: the bank simulator and the API server (serving the built web
 * app) from their dist builds, on free ports, with a throwaway DATA_DIR — or, when TEST_DATABASE_URL is
 * set, a throwaway schema on that PostgreSQL, so `npm test` runs end to end on both databases. Nothing is
 * reused from the developer's machine (no :3000, no ./.data).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestSchema, testDatabaseUrl } from '@yika/db/testing';

export const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const SERVER_MAIN = join(repositoryRoot, 'apps/server/dist/main.js');
const SERVER_CLI = join(repositoryRoot, 'apps/server/dist/cli.js');
const BANK_SIM_MAIN = join(repositoryRoot, 'apps/bank-sim/dist/main.js');
const WEB_INDEX = join(repositoryRoot, 'apps/web/dist/index.html');
const READY_TIMEOUT_MS = 60_000;
const LOG_TAIL_MAX = 200;

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface Child {
  name: string;
  process: ChildProcess;
  /** The last lines it printed, for the failure message. */
  log: string[];
}

function start(name: string, entry: string, env: Record<string, string>, args: string[] = []): Child {
  const child = spawn(process.execPath, [entry, ...args], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log.push(line);
    if (log.length > LOG_TAIL_MAX) log.splice(0, log.length - LOG_TAIL_MAX);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  return { name, process: child, log };
}

async function waitUntilReady(child: Child, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) {
      throw new Error(`${child.name} exited with code ${child.process.exitCode}:\n${child.log.slice(-30).join('\n')}`);
    }
    const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(
    `${child.name} not ready at ${url} within ${READY_TIMEOUT_MS} ms:\n${child.log.slice(-30).join('\n')}`,
  );
}

async function stop(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export interface System {
  serverUrl: string;
  bankSimUrl: string;
  logs(): string;
  /** Stops the server, runs `work` (e.g. the CLI on its database), then starts it again with `env` added. */
  whileServerStopped<T>(work: () => Promise<T>, env?: Record<string, string>): Promise<T>;
  /** Runs `yika <args>` on the system's database (stop the server first on PGlite: one process at a time). */
  cli(args: string[]): Promise<{ code: number; output: string }>;
  stop(): Promise<void>;
}

export interface SystemOptions {
  /** Extra server environment (e.g. OPS_API_TOKEN, settlement timing). */
  env?: Record<string, string>;
}

export async function startSystem(options: SystemOptions = {}): Promise<System> {
  const missing = [SERVER_MAIN, BANK_SIM_MAIN, WEB_INDEX].filter((path) => !existsSync(path));
  if (missing.length > 0) {
    throw new Error(`not built: ${missing.join(', ')}. Run \`npm run build\` from the repository root first.`);
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'yika-e2e-'));
  const [serverPort, bankSimPort] = [await freePort(), await freePort()];
  const serverUrl = `http://127.0.0.1:${serverPort}`;
  const bankSimUrl = `http://127.0.0.1:${bankSimPort}`;
  const apiKey = 'e2e-bank-key';
  const callbackSecret = 'e2e-bank-callback-secret';

  const bankSim = start('bank-sim', BANK_SIM_MAIN, {
    BANK_SIM_HOST: '127.0.0.1',
    BANK_SIM_PORT: String(bankSimPort),
    BANK_SIM_API_KEY: apiKey,
    BANK_SIM_CALLBACK_SECRET: callbackSecret,
    BANK_SIM_CALLBACK_RETRY_BASE_MS: '200',
    BANK_SIM_LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
  });
  const children: Child[] = [bankSim];
  const postgres = testDatabaseUrl() ? await createTestSchema(testDatabaseUrl()!) : null;
  const database: Record<string, string> = {};
  if (postgres) {
    const url = new URL(testDatabaseUrl()!);
    url.searchParams.set('options', `-c search_path=${postgres.schema}`);
    database.DATABASE_URL = url.toString();
  }
  const stopAll = async () => {
    for (const child of children.reverse()) await stop(child);
    await postgres?.drop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(bankSim, `${bankSimUrl}/healthz`);
    const serverEnv: Record<string, string> = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(serverPort),
      DATA_DIR: dataDir,
      ...database,
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
      SEED_DEMO_DATA: 'false',
      RATE_LIMIT_MAX: '0',
      BANK_SIM_URL: bankSimUrl,
      BANK_SIM_SPAWN: 'false',
      BANK_SIM_API_KEY: apiKey,
      BANK_CALLBACK_SECRET: callbackSecret,
      PUBLIC_URL: serverUrl,
      BANK_POLL_AFTER_MS: '1000',
      BANK_POLL_INTERVAL_MS: '1000',
      ...options.env,
    };
    const startServer = async (extra: Record<string, string> = {}) => {
      Object.assign(serverEnv, extra);
      const server = start('server', SERVER_MAIN, serverEnv);
      children.push(server);
      await waitUntilReady(server, `${serverUrl}/readyz`);
      return server;
    };
    let server = await startServer();
    return {
      serverUrl,
      bankSimUrl,
      logs: () =>
        children
          .map((child) => {
            const exit = child.process.exitCode ?? child.process.signalCode;
            return `--- ${child.name}${exit === null ? '' : ` (exited: ${exit})`}\n${child.log.slice(-40).join('\n')}`;
          })
          .join('\n'),
      async whileServerStopped(work, env = {}) {
        await stop(server);
        children.splice(children.indexOf(server), 1);
        try {
          return await work();
        } finally {
          server = await startServer(env);
        }
      },
      cli(args) {
        const child = start('cli', SERVER_CLI, serverEnv, args);
        return new Promise((resolve) => {
          child.process.once('exit', (code) => resolve({ code: code ?? 1, output: child.log.join('\n') }));
        });
      },
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

/** The newest 6-digit code texted to `phone` after `since` (the bank-sim inbox is newest first). */
export async function latestCode(
  bankSimUrl: string,
  phone: string,
  since: number,
  timeoutMs = 15_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${bankSimUrl}/sms/inbox?to=${encodeURIComponent(phone)}&limit=5`);
    if (response.ok) {
      const { messages } = (await response.json()) as { messages: { text: string; sentAt: string }[] };
      const fresh = messages.find((message) => Date.parse(message.sentAt) >= since - 1_000);
      const code = fresh ? /\b(\d{6})\b/.exec(fresh.text)?.[1] : undefined;
      if (code) return code;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`no SMS code for ${phone} in the bank-sim inbox within ${timeoutMs} ms`);
}
