/**
 * npm run bench:ledger — ledger throughput against the raw SQL ceiling, in one run, on PGlite and PostgreSQL.
 *
 * For batch sizes 1, 100, 1,000 and 8,000 among 10,000 accounts (uniform, and hot: 90% of transfers credit one
 * merchant account) it measures transfers per second through `ledger.submit()` with every rule on, and the
 * ceiling: one `unnest` statement per batch that inserts the same transfers and updates balances with no
 * rules. Then the latency of `submit()` under 64 concurrent submitters. PostgreSQL is BENCH_DATABASE_URL, or a
 * local server started by scripts/postgres-local.sh. Prints a table, writes docs/performance.md, and ends with
 * one line of JSON.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase, type Database } from '@yika/db';
import { createTestSchema } from '@yika/db/testing';
import { AccountFlags, Ledger, ledgerMigrations, newId, type TransferInput } from '@yika/ledger';
import { percentile, tables, writePerformanceSection } from './report.js';

const ACCOUNTS = 10_000;
const CNY = 156;
const BATCH_SIZES = [1, 100, 1_000, 8_000];
const CONCURRENT_SUBMITTERS = 64;
/** Transfers measured per case: enough for a stable figure, small enough for a few minutes in all. */
const quick = process.argv.includes('--quick');
const transfersFor = (batchSize: number) =>
  (quick ? 1 : 4) * (batchSize === 1 ? 1_000 : Math.max(8_000, batchSize * 4));
const LATENCY_TRANSFERS = quick ? 5_000 : 20_000;

type Shape = 'uniform' | 'hot';

interface Figure {
  database: string;
  shape: Shape;
  batchSize: number;
  ledgerPerSecond: number;
  ceilingPerSecond: number;
  ratio: number;
}

interface Fixture {
  db: Database;
  ledger: Ledger;
  accounts: string[];
  merchant: string;
  close(): Promise<void>;
}

async function openFixture(kind: 'pglite' | 'postgres'): Promise<Fixture> {
  let db: Database;
  let cleanup: () => Promise<void>;
  if (kind === 'postgres') {
    const url = process.env.BENCH_DATABASE_URL ?? startLocalPostgres();
    const schema = await createTestSchema(url);
    db = await openDatabase({ url, schema: schema.schema, poolSize: 8 });
    cleanup = schema.drop;
  } else {
    const dir = await mkdtemp(join(tmpdir(), 'yika-bench-'));
    db = await openDatabase({ dataDir: dir });
    cleanup = () => rm(dir, { recursive: true, force: true });
  }
  await migrate(db, ledgerMigrations);
  const ledger = new Ledger(db);
  const bank = newId();
  const merchant = newId();
  const accounts = Array.from({ length: ACCOUNTS }, newId);
  await ledger.createAccounts([
    { id: bank, ledger: CNY, code: 9 },
    { id: merchant, ledger: CNY, code: 2 },
  ]);
  for (let start = 0; start < ACCOUNTS; start += 5_000) {
    const chunk = accounts.slice(start, start + 5_000);
    // Wallets: the balance-limit rule is checked on every debit.
    await ledger.createAccounts(
      chunk.map((id) => ({ id, ledger: CNY, code: 1, flags: AccountFlags.debitsMustNotExceedCredits })),
    );
    const results = await ledger.submit(
      chunk.map((id) => ({
        id: newId(),
        debitAccountId: bank,
        creditAccountId: id,
        amount: 10n ** 12n,
        ledger: CNY,
        code: 9,
      })),
    );
    if (results.some((result) => result.result !== 'ok')) throw new Error('opening balances refused');
  }
  return {
    db,
    ledger,
    accounts,
    merchant,
    async close() {
      await ledger.close();
      await db.close();
      await cleanup();
    },
  };
}

function startLocalPostgres(): string {
  const script = fileURLToPath(new URL('../scripts/postgres-local.sh', import.meta.url));
  return execFileSync('bash', [script, 'start'], { encoding: 'utf8' }).trim().split('\n').pop()!;
}

function makeTransfers(fixture: Fixture, shape: Shape, count: number): TransferInput[] {
  const { accounts, merchant } = fixture;
  const pick = () => accounts[Math.floor(Math.random() * accounts.length)]!;
  return Array.from({ length: count }, () => {
    const debit = pick();
    let credit = shape === 'hot' && Math.random() < 0.9 ? merchant : pick();
    if (credit === debit) credit = merchant;
    return {
      id: newId(),
      debitAccountId: debit,
      creditAccountId: credit,
      amount: BigInt(1 + Math.floor(Math.random() * 10_000)),
      ledger: CNY,
      code: 1,
    };
  });
}

async function submitBatch(fixture: Fixture, batch: TransferInput[]): Promise<void> {
  const results = await fixture.ledger.submit(batch);
  const refused = results.find((result) => result.result !== 'ok');
  if (refused) throw new Error(`refused: ${refused.result}`);
}

/** The ceiling: one statement per batch, the same rows and balance updates, no rules, no locks taken first. */
const CEILING_SQL = `
with inserted as (
  insert into ledger_transfers (id, debit_account_id, credit_account_id, amount, ledger, code, flags, timeout_seconds, timestamp)
  select id, debit, credit, amount, $5, $6, 0, 0, $7 + ordinality
  from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[]) with ordinality as t(id, debit, credit, amount, ordinality)
  returning debit_account_id, credit_account_id, amount
), deltas as (
  select id, sum(debit) as debit, sum(credit) as credit from (
    select debit_account_id as id, amount as debit, 0::bigint as credit from inserted
    union all
    select credit_account_id, 0, amount from inserted
  ) as effects group by id
)
update ledger_accounts a
set debits_posted = a.debits_posted + deltas.debit, credits_posted = a.credits_posted + deltas.credit, last_transfer_at = $7
from deltas where a.id = deltas.id`;

async function ceilingBatch(fixture: Fixture, batch: TransferInput[]): Promise<void> {
  // Array literals built by hand, as the ledger builds them, so the driver's encoding weighs on neither side.
  const literal = (values: unknown[]) => `{${values.join(',')}}`;
  await fixture.db.query(CEILING_SQL, [
    literal(batch.map((t) => t.id)),
    literal(batch.map((t) => t.debitAccountId)),
    literal(batch.map((t) => t.creditAccountId)),
    literal(batch.map((t) => t.amount)),
    CNY,
    1,
    String(Date.now() * 1000),
  ]);
}

/**
 * Ledger and ceiling batches alternate, each timed on its own, so that whatever else the machine does
 * weighs on both sides alike. Returns transfers per second of each.
 */
async function measurePair(fixture: Fixture, shape: Shape, count: number, batchSize: number) {
  const ledgerTransfers = makeTransfers(fixture, shape, count);
  const ceilingTransfers = makeTransfers(fixture, shape, count);
  let ledgerMs = 0;
  let ceilingMs = 0;
  for (let start = 0; start < count; start += batchSize) {
    let begun = performance.now();
    await submitBatch(fixture, ledgerTransfers.slice(start, start + batchSize));
    ledgerMs += performance.now() - begun;
    begun = performance.now();
    await ceilingBatch(fixture, ceilingTransfers.slice(start, start + batchSize));
    ceilingMs += performance.now() - begun;
  }
  return { ledgerPerSecond: count / (ledgerMs / 1000), ceilingPerSecond: count / (ceilingMs / 1000) };
}

async function measureLatency(fixture: Fixture) {
  const transfers = makeTransfers(fixture, 'uniform', LATENCY_TRANSFERS);
  const latencies: number[] = [];
  let cursor = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENT_SUBMITTERS }, async () => {
      while (cursor < transfers.length) {
        const transfer = transfers[cursor++]!;
        const begun = performance.now();
        const [result] = await fixture.ledger.submit([transfer]);
        latencies.push(performance.now() - begun);
        if (result!.result !== 'ok') throw new Error(`refused: ${result!.result}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    p50Ms: round(percentile(latencies, 50), 2),
    p99Ms: round(percentile(latencies, 99), 2),
    perSecond: Math.round(transfers.length / seconds),
  };
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

async function benchDatabase(kind: 'pglite' | 'postgres') {
  const fixture = await openFixture(kind);
  const figures: Figure[] = [];
  try {
    for (const shape of ['uniform', 'hot'] as const) {
      for (const batchSize of BATCH_SIZES) {
        const count = transfersFor(batchSize);
        // Warm up caches and the JIT on a slice before each measured pair.
        await measurePair(fixture, shape, Math.min(count, 2 * batchSize, 2_000), batchSize);
        const { ledgerPerSecond, ceilingPerSecond } = await measurePair(fixture, shape, count, batchSize);
        const figure = {
          database: kind,
          shape,
          batchSize,
          ledgerPerSecond: Math.round(ledgerPerSecond),
          ceilingPerSecond: Math.round(ceilingPerSecond),
          ratio: round(ledgerPerSecond / ceilingPerSecond, 2),
        };
        figures.push(figure);
        console.error(
          `${kind} ${shape} batch ${batchSize}: ledger ${figure.ledgerPerSecond}/s, ceiling ${figure.ceilingPerSecond}/s, ratio ${figure.ratio}`,
        );
      }
    }
    const latency = await measureLatency(fixture);
    const verification = await fixture.ledger.verify();
    if (!verification.ok)
      throw new Error(`invariant broken after the benchmark: ${verification.violations.join('; ')}`);
    return { figures, latency };
  } finally {
    await fixture.close();
  }
}

const databases = (process.env.BENCH_DATABASES ?? 'pglite,postgres').split(',') as ('pglite' | 'postgres')[];
const results: Record<string, Awaited<ReturnType<typeof benchDatabase>>> = {};
for (const kind of databases) results[kind] = await benchDatabase(kind);

const rows = Object.values(results).flatMap((result) =>
  result.figures.map((f) => [f.database, f.shape, f.batchSize, f.ledgerPerSecond, f.ceilingPerSecond, f.ratio]),
);
const throughput = tables(
  ['database', 'shape', 'batch', 'ledger transfers/s', 'raw SQL ceiling/s', 'ledger/ceiling'],
  rows,
);
const latencyRows = Object.entries(results).map(([kind, result]) => [
  kind,
  CONCURRENT_SUBMITTERS,
  result.latency.perSecond,
  result.latency.p50Ms,
  result.latency.p99Ms,
]);
const latency = tables(['database', 'submitters', 'transfers/s', 'submit p50 ms', 'submit p99 ms'], latencyRows);
console.log(`${throughput.text}\n\n${latency.text}`);
writePerformanceSection(
  'ledger',
  `## Ledger (\`npm run bench:ledger\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}, ${ACCOUNTS.toLocaleString('en')} wallet accounts
(every debit checks the balance limit). "Ledger" is \`ledger.submit()\` with every rule on: one submission of
*batch* transfers per database transaction, locks taken in id order, results per transfer. "Ceiling" is one
\`unnest\` statement per batch inserting the same rows and updating the same balances with no rules, measured in the
same run on the same database. *hot*: 90% of transfers credit one merchant account.

${throughput.markdown}

Latency of a single-transfer \`submit()\` with ${CONCURRENT_SUBMITTERS} concurrent submitters (the writer batches them):

${latency.markdown}`,
);
console.log(
  JSON.stringify({
    bench: 'ledger',
    accounts: ACCOUNTS,
    ...Object.fromEntries(Object.entries(results).map(([kind, result]) => [kind, result])),
  }),
);
