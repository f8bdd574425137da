/**
 * `yika <command>`: operator commands against the configured database (same environment variables as
 * the server). Exit codes: 0 success, 1 failure (bad config, ledger violation), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { migrate, type Database } from '@yika/db';
import { Ledger } from '@yika/ledger';
import { ConfigError, configReferenceMarkdown, loadConfig, type Config } from './config.js';
import { formatSeedReport, seedDemoData } from './demo-data.js';
import { encryptedColumns } from './encrypted-columns.js';
import { serverMigrations } from './migrations.js';
import { AuditTrail } from './platform/audit.js';
import { DataCipher } from './platform/crypto.js';
import { describeDatabase, openConfiguredDatabase } from './platform/database.js';
import { formatReencryptReport, reencryptAll } from './platform/key-rotation.js';
import { createSmsSender } from './platform/sms.js';
import { isBusinessDate } from './modules/payments/index.js';
import { buildServices } from './services.js';

const USAGE = `Usage: yika <command>

Commands:
  migrate             apply pending database migrations
  seed                create the demo accounts and transfers (idempotent)
  ledger:verify       check the ledger invariants; exit 1 on any violation
  audit:verify        check the audit trail's hash chain; exit 1 naming the first broken record
  keys:reencrypt      re-encrypt personal data under the current key (the first of
                      DATA_ENCRYPTION_KEYS); resumable, safe while servers run (PostgreSQL)
  settlement:verify [--date YYYY-MM-DD]
                      check every settlement file (or one business date's) against its hash and
                      the ledger; exit 1 naming the first mismatch
  config:reference    print the environment variable table (Markdown)
  help                show this help

The database is chosen like the server's: DATABASE_URL, else PGlite under DATA_DIR (default ./.data).
With PGlite, stop the server first: only one process may open its files.`;

interface Output {
  out: (line: string) => void;
  err: (line: string) => void;
}

const console_: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

async function withDatabase(config: Config, io: Output, work: (db: Database) => Promise<number>): Promise<number> {
  const db = await openConfiguredDatabase(config);
  io.out(`database: ${describeDatabase(config)}`);
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

async function withLedger(db: Database, work: (ledger: Ledger) => Promise<number>): Promise<number> {
  const ledger = new Ledger(db);
  try {
    return await work(ledger);
  } finally {
    await ledger.close();
  }
}

interface CommandOptions {
  /** settlement:verify: one business date. */
  date?: string | undefined;
}

const commands: Record<string, (config: Config, io: Output, options: CommandOptions) => Promise<number>> = {
  migrate: (config, io) =>
    withDatabase(config, io, async (db) => {
      const report = await migrate(db, serverMigrations);
      for (const id of report.applied) io.out(`applied ${id}`);
      io.out(`migrations: ${report.applied.length} applied, ${report.alreadyApplied} already applied`);
      return 0;
    }),

  seed: (config, io) =>
    withDatabase(config, io, (db) =>
      withLedger(db, async (ledger) => {
        io.out(formatSeedReport(await seedDemoData(ledger)));
        return 0;
      }),
    ),

  'audit:verify': (config, io) =>
    withDatabase(config, io, async (db) => {
      const report = await new AuditTrail({ db, cipher: DataCipher.fromConfig(config) }).verify();
      const head = `head seq ${report.head.seq} hash ${report.head.hash}`;
      if (report.ok) {
        io.out(`audit trail OK: ${report.records} records, ${head}`);
        return 0;
      }
      const broken = report.firstBroken!;
      io.err(
        `audit trail BROKEN at record ${broken.seq}: ${broken.reason} (${report.records} records intact before it; ${head})`,
      );
      return 1;
    }),

  'keys:reencrypt': (config, io) =>
    withDatabase(config, io, async (db) => {
      const cipher = DataCipher.fromConfig(config);
      // Ctrl-C stops between rows; values already moved stay moved and a second run continues.
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        io.out(`re-encrypting under key ${cipher.currentKeyId}`);
        const reports = await reencryptAll(db, cipher, encryptedColumns, { signal: stop.signal });
        for (const line of formatReencryptReport(reports, cipher.currentKeyId)) io.out(line);
        if (stop.signal.aborted) {
          io.err('interrupted: run keys:reencrypt again to continue');
          return 1;
        }
        return reports.some((report) => report.failed > 0) ? 1 : 0;
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    }),

  'ledger:verify': (config, io) =>
    withDatabase(config, io, (db) =>
      withLedger(db, async (ledger) => {
        const report = await ledger.verify();
        const totals = report.ledgers
          .map(
            (entry) =>
              `ledger ${entry.ledger}: posted ${entry.debitsPosted}/${entry.creditsPosted}, pending ${entry.debitsPending}/${entry.creditsPending}`,
          )
          .join('; ');
        const summary = `${report.accounts} accounts, ${report.transfers} transfers${totals ? ` (${totals})` : ''}`;
        if (report.ok) {
          io.out(`ledger OK: ${summary}`);
          return 0;
        }
        io.err(`ledger FAILED: ${report.violations.length} violation(s) in ${summary}`);
        for (const violation of report.violations) io.err(`  ${violation}`);
        return 1;
      }),
    ),

  'settlement:verify': (config, io, options) =>
    withDatabase(config, io, (db) =>
      withLedger(db, async (ledger) => {
        const services = buildServices({ config, db, ledger, sms: createSmsSender(config) });
        const report = await services.settlement.verify(options.date ? { date: options.date } : {});
        const scope = options.date ? ` of ${options.date}` : '';
        if (report.mismatches.length === 0) {
          io.out(`settlement OK: ${report.batches} file(s)${scope} tie to their hash and the ledger`);
          return 0;
        }
        io.err(`settlement FAILED: ${report.mismatches.length} of ${report.batches} file(s)${scope} do not tie`);
        for (const mismatch of report.mismatches) io.err(`  ${mismatch}`);
        return 1;
      }),
    ),
};

/** Runs one command; returns the process exit code. */
async function runCli(args: readonly string[], io: Output = console_): Promise<number> {
  let positionals: string[];
  let help: boolean | undefined;
  let date: string | undefined;
  try {
    ({
      positionals,
      values: { help, date },
    } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, date: { type: 'string' } },
    }));
  } catch (error) {
    io.err(error instanceof Error ? error.message : String(error));
    io.err(USAGE);
    return 2;
  }
  const [name, ...extra] = positionals;
  if (help || name === 'help' || name === undefined) {
    (name === undefined && !help ? io.err : io.out)(USAGE);
    return name === undefined && !help ? 2 : 0;
  }
  if (name === 'config:reference') {
    io.out(configReferenceMarkdown());
    return 0;
  }
  if (date !== undefined && (name !== 'settlement:verify' || !isBusinessDate(date))) {
    io.err(
      name === 'settlement:verify' ? '--date takes a date YYYY-MM-DD' : '--date applies only to settlement:verify',
    );
    io.err(USAGE);
    return 2;
  }
  const command = commands[name];
  if (!command || extra.length > 0) {
    io.err(command ? `yika ${name} takes no arguments` : `unknown command: ${name}`);
    io.err(USAGE);
    return 2;
  }
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.err(error.message);
    return 1;
  }
  try {
    return await command(config, io, { date });
  } catch (error) {
    io.err(`yika ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
