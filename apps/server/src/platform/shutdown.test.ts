import { describe, expect, it } from 'vitest';
import { createShutdown, type Closable } from './shutdown.js';

function recorder() {
  const events: string[] = [];
  const exits: number[] = [];
  const closable = (name: string, work: () => Promise<void> = async () => {}): Closable => ({
    async close() {
      events.push(`${name}:start`);
      await work();
      events.push(`${name}:done`);
    },
  });
  const logger = {
    info: (message: string) => events.push(`log:${message}`),
    error: (_object: object, message: string) => events.push(`error:${message}`),
  };
  return { events, exits, closable, logger, exit: (code: number) => void exits.push(code) };
}

describe('graceful shutdown', () => {
  it('closes the HTTP server, then flushes the ledger, then closes the database, and exits 0', async () => {
    const { events, exits, closable, logger, exit } = recorder();
    const shutdown = createShutdown({
      app: closable('app'),
      ledger: closable('ledger'),
      db: closable('db'),
      logger,
      timeoutMs: 5_000,
      exit,
    });
    await shutdown('SIGTERM');
    expect(events.filter((event) => !event.startsWith('log:'))).toEqual([
      'app:start',
      'app:done',
      'ledger:start',
      'ledger:done',
      'db:start',
      'db:done',
    ]);
    expect(exits).toEqual([0]);
  });

  it('exits 1 at once on a second signal', async () => {
    const { exits, closable, logger, exit } = recorder();
    let release: () => void = () => {};
    const app = closable('app', () => new Promise<void>((resolve) => (release = resolve)));
    const shutdown = createShutdown({
      app,
      ledger: closable('ledger'),
      db: closable('db'),
      logger,
      timeoutMs: 5_000,
      exit,
    });
    const first = shutdown('SIGTERM');
    await shutdown('SIGINT');
    expect(exits).toEqual([1]);
    release();
    await first;
  });

  it('exits 1 when shutdown outlasts its deadline', async () => {
    const { exits, closable, logger, exit } = recorder();
    let release: () => void = () => {};
    const app = closable('app', () => new Promise<void>((resolve) => (release = resolve)));
    const shutdown = createShutdown({
      app,
      ledger: closable('ledger'),
      db: closable('db'),
      logger,
      timeoutMs: 50,
      exit,
    });
    const done = shutdown('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(exits).toEqual([1]);
    release();
    await done;
  });

  it('exits 1 when a step fails, without skipping the log', async () => {
    const { events, exits, closable, logger, exit } = recorder();
    const ledger = closable('ledger', () => Promise.reject(new Error('disk full')));
    const shutdown = createShutdown({
      app: closable('app'),
      ledger,
      db: closable('db'),
      logger,
      timeoutMs: 5_000,
      exit,
    });
    await shutdown('SIGTERM');
    expect(exits).toEqual([1]);
    expect(events).toContain('error:shutdown failed');
    expect(events).not.toContain('db:start');
  });
});
