/** Builds the app around a throwaway database (PGlite in memory, or a fresh PostgreSQL schema). */
import { Writable } from 'node:stream';
import { migrate, type Database, type Migration } from '@yika/db';
import { openTestDatabase } from '@yika/db/testing';
import { Ledger } from '@yika/ledger';
import { buildApp, type App } from '../app.js';
import { loadConfig } from '../config.js';
import { serverMigrations } from '../migrations.js';
import { createLogger } from '../platform/logger.js';
import type { AppModule } from '../platform/module.js';
import { createSmsSender, type SmsSender } from '../platform/sms.js';
import { buildServices, type Services } from '../services.js';

export interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  err?: { message: string; stack?: string };
  [key: string]: unknown;
}

export interface TestApp {
  app: App;
  db: Database;
  ledger: Ledger;
  services: Services;
  /** Every log line the app wrote, parsed. */
  logs: LogLine[];
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  modules?: readonly AppModule[];
  migrations?: readonly Migration[];
  rateLimitWindowMs?: number;
  /** Use this database instead of a fresh one (not closed by `close()`). */
  db?: Database;
  /** Defaults to the provider the environment selects (the bank-sim at BANK_SIM_URL). */
  sms?: SmsSender;
  /** The identity clock; tests move it to expire codes, locks and sessions. */
  now?: () => Date;
  /** Where the bank calls back (tests that listen set it once they know their port). */
  publicUrl?: () => string;
  /** Start the risk engine (reads its rules from the database); off for a database that must fail. */
  startRisk?: boolean;
}

export async function openMigratedDatabase(): Promise<Database> {
  const db = await openTestDatabase();
  await migrate(db, serverMigrations);
  return db;
}

export async function buildTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const config = loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'info', ...options.env });
  const db = options.db ?? (await openMigratedDatabase());
  const ledger = new Ledger(db);
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) logs.push(JSON.parse(line) as LogLine);
      done();
    },
  });
  const services = buildServices({
    config,
    db,
    ledger,
    sms: options.sms ?? createSmsSender(config),
    ...(options.now ? { now: options.now } : {}),
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
  });
  // As main does: rules loaded before the first request can move money.
  const riskStarted = options.startRisk ?? true;
  if (riskStarted) await services.risk.start();
  const app = await buildApp({
    config,
    db,
    ledger,
    services,
    logger: createLogger(config, sink),
    ...(options.modules ? { modules: options.modules } : {}),
    ...(options.migrations ? { migrations: options.migrations } : {}),
    ...(options.rateLimitWindowMs ? { rateLimitWindowMs: options.rateLimitWindowMs } : {}),
  });
  await app.ready();
  return {
    app,
    db,
    ledger,
    services,
    logs,
    async close() {
      await app.close();
      if (riskStarted) await services.risk.stop();
      await ledger.close();
      if (!options.db) await db.close();
    },
  };
}
