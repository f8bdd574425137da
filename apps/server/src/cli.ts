/**
 * `yika <command>`: operator commands against the configured database (same environment variables as
 * the server). Exit codes: 0 success, 1 failure (bad config, ledger violation), 2 usage error.
 */
import { parseArgs } from 'node:util';
import { migrate, type Database } from '@yika/db';
import { Ledger } from '@yika/ledger';
import { ConfigError, configReferenceMarkdown, loadConfig, type Config } from './config.js';
import { formatSeedReport, seedDemoData } from './demo-data.js';
import { serverMigrations } from './migrations.js';
import { describeDatabase, openConfiguredDatabase } from './platform/database.js';

const USAGE = `Usage: yika <command>

Commands:
  migrate             apply pending database migrations
  seed                create the demo accounts and transfers (idempotent)
  ledger:verify       check the ledger invariants; exit 1 on any violation
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

const commands: Record<string, (config: Config, io: Output) => Promise<number>> = {
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
};

/** Runs one command; returns the process exit code. */
async function runCli(args: readonly string[], io: Output = console_): Promise<number> {
  let positionals: string[];
  let help: boolean | undefined;
  try {
    ({
      positionals,
      values: { help },
    } = parseArgs({
      args: [...args],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' } },
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
    return await command(config, io);
  } catch (error) {
    io.err(`yika ${name} failed: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
}

process.exitCode = await runCli(process.argv.slice(2));
