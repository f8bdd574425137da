/**
 * The server process: config → database → migrations → (demo data) → listen, and a graceful stop on
 * SIGTERM/SIGINT. Everything here is wiring; the parts live in app.ts and platform/.
 */
import type { AddressInfo } from 'node:net';
import type { Database } from '@yika/db';
import { migrate } from '@yika/db';
import { Ledger } from '@yika/ledger';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { demoDataPresent, formatSeedReport, seedDemoData } from './demo-data.js';
import { serverMigrations } from './migrations.js';
import { describeDatabase, openConfiguredDatabase } from './platform/database.js';
import { startBankSim, type BankSimProcess } from './platform/bank-sim-process.js';
import { startJobs } from './platform/jobs.js';
import { createLogger } from './platform/logger.js';
import { createShutdown } from './platform/shutdown.js';
import { createSmsSender } from './platform/sms.js';
import { buildServices } from './services.js';

function readConfig(): Config | null {
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return null;
  }
}

function publicUrl(config: Config, address: AddressInfo): string {
  // 0.0.0.0 / :: are not addresses a browser can open.
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? 'localhost' : address.address;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

async function main(): Promise<void> {
  const config = readConfig();
  if (!config) {
    process.exitCode = 1;
    return;
  }
  const logger = createLogger(config);
  let db: Database | undefined;
  let bankSim: BankSimProcess | null = null;
  try {
    if (config.BANK_SIM_SPAWN) {
      bankSim = await startBankSim({
        url: config.BANK_SIM_URL,
        apiKey: config.BANK_SIM_API_KEY,
        callbackSecret: config.BANK_CALLBACK_SECRET,
      });
      logger.info(`demo mode: bank simulator at ${bankSim.url} (SMS inbox ${bankSim.url}/sms/inbox)`);
    }
    db = await openConfiguredDatabase(config);
    const report = await migrate(db, serverMigrations);
    logger.info(
      `database: ${describeDatabase(config)}; ${report.applied.length} migrations applied, ${report.alreadyApplied} already applied`,
    );

    const ledger = new Ledger(db);
    if (config.SEED_DEMO_DATA && !(await demoDataPresent(ledger))) {
      logger.info(formatSeedReport(await seedDemoData(ledger)));
    }

    // The bank calls back on our own address unless PUBLIC_URL says otherwise; known once listening.
    let listeningOn = `http://127.0.0.1:${config.PORT}`;
    const services = buildServices({
      config,
      db,
      ledger,
      sms: createSmsSender(config),
      publicUrl: () => config.PUBLIC_URL ?? listeningOn,
      onBackgroundError: (error) => logger.error({ err: error }, 'risk events writer failed'),
    });
    // Rules loaded and history warmed before the first request can move money.
    await services.risk.start();
    const app = await buildApp({ config, db, ledger, logger, services });
    const jobs = startJobs(
      [
        {
          name: 'ledger.sweep-expired',
          intervalMs: config.LEDGER_SWEEP_INTERVAL_MS,
          // Voids expired holds, then closes the risk reviews whose holds expired (the movement fails).
          run: async () => ({
            ledger: await ledger.sweepExpired(),
            riskReviews: await services.risk.sweepExpiredReviews(),
          }),
        },
        {
          name: 'risk.refresh-rules',
          intervalMs: config.RISK_RULES_REFRESH_INTERVAL_MS,
          run: () => services.risk.refreshActiveRules(),
        },
        {
          name: 'wallet.poll-bank-orders',
          intervalMs: config.BANK_POLL_INTERVAL_MS,
          run: () => services.wallet.pollOpenOrders(),
        },
        { name: 'merchants.webhooks', intervalMs: config.WEBHOOK_INTERVAL_MS, run: () => services.webhooks.run() },
        // T+1: settles every due business date, polls and retries payouts; safe with several processes.
        {
          name: 'payments.settlement',
          intervalMs: config.SETTLEMENT_INTERVAL_MS,
          run: () => services.settlement.run(),
        },
      ],
      logger,
    );
    const shutdown = createShutdown({
      app,
      // After the jobs, the risk engine writes its queued events: before the ledger and the database close.
      jobs: {
        stop: async () => {
          await jobs.stop();
          await services.risk.stop();
        },
      },
      ledger,
      db,
      children: bankSim,
      logger,
      timeoutMs: config.SHUTDOWN_TIMEOUT_MS,
      exit: (code) => process.exit(code),
    });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void shutdown(signal));

    await app.listen({ host: config.HOST, port: config.PORT });
    const address = app.server.address() as AddressInfo;
    listeningOn = `http://127.0.0.1:${address.port}`;
    const url = publicUrl(config, address);
    logger.info({ url }, `Yika ready at ${url} (web app /, API reference ${url}/docs)`);
  } catch (error) {
    // Operating errors at start (database unreachable, port taken): one fatal line, exit 1.
    logger.fatal({ err: error }, `startup failed: ${error instanceof Error ? error.message : String(error)}`);
    await db?.close().catch(() => {});
    await bankSim?.stop().catch(() => {});
    // Exit now rather than wait on whatever half-started part still holds the event loop.
    process.exit(1);
  }
}

await main();
