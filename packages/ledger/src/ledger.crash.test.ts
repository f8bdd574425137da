/**
 * A writer process killed with SIGKILL in the middle of a run. After restart: every transfer acknowledged as
 * `ok` is present, linked chains are whole, the invariant holds; and running the same workload again (same
 * transfer ids) completes with every earlier success answered `exists`: exactly once across the crash.
 * On PostgreSQL with TEST_DATABASE_URL; otherwise on PGlite files in a temporary directory.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate, openDatabase, type Database } from '@yika/db';
import { createTestSchema, testDatabaseUrl } from '@yika/db/testing';
import { expect, it } from 'vitest';
import { newId } from './ids.js';
import { Ledger } from './ledger.js';
import { LOOKUP_IDS_MAX } from './queries.js';
import { ledgerMigrations } from './schema.js';
import { CNY } from './test/fixtures.js';
import { startWriterProcess } from './test/processes.js';
import { planSteps, type WorkloadAccounts, type WorkloadPlan } from './test/workload.js';
import { AccountFlags, TransferFlags as F } from './types.js';

const ACKS_BEFORE_KILL = 1_500;

it(
  'a writer killed with SIGKILL mid-run loses nothing acknowledged and half-writes nothing',
  { timeout: 300_000 },
  async () => {
    const url = testDatabaseUrl();
    const schema = url ? await createTestSchema(url) : null;
    const dataDir = url ? undefined : await mkdtemp(join(tmpdir(), 'yika-crash-'));
    const open = (): Promise<Database> => openDatabase({ url, schema: schema?.schema, dataDir });
    try {
      const accounts: WorkloadAccounts = {
        hot: [newId(), newId()],
        fee: newId(),
        cold: Array.from({ length: 300 }, newId),
      };
      const bank = newId();
      let db = await open();
      await migrate(db, ledgerMigrations);
      let ledger = new Ledger(db);
      await ledger.createAccounts([
        ...[bank, accounts.fee, ...accounts.hot].map((id) => ({ id, ledger: CNY, code: 9 })),
        ...accounts.cold.map((id) => ({ id, ledger: CNY, code: 1, flags: AccountFlags.debitsMustNotExceedCredits })),
      ]);
      await ledger.submit(
        accounts.cold.map((id) => ({
          id: newId(),
          debitAccountId: bank,
          creditAccountId: id,
          amount: 50_000n,
          ledger: CNY,
          code: 9,
        })),
      );
      await ledger.close();
      await db.close(); // PGlite files belong to one process at a time

      const plan: WorkloadPlan = { worker: 0, transfers: 40_000, concurrency: 16, seed: 7 };
      const config = { databaseUrl: url, schema: schema?.schema, dataDir, accounts, plan };
      const first = startWriterProcess(config);
      await waitFor(() => first.acks.length >= ACKS_BEFORE_KILL || first.done(), 120_000);
      first.child.kill('SIGKILL');
      expect(await first.exited).toBe('SIGKILL');
      expect(first.done()).toBe(false);
      expect(first.errors).toEqual([]);
      const acknowledgedOk = first.acks.filter((ack) => ack.result === 'ok').map((ack) => ack.id);
      expect(acknowledgedOk.length).toBeGreaterThan(ACKS_BEFORE_KILL / 2);

      db = await open();
      ledger = new Ledger(db);
      const present = await storedIds(ledger, acknowledgedOk);
      expect(acknowledgedOk.filter((id) => !present.has(id))).toEqual([]);
      // Chains among the steps the writer could have reached (it works through them in order): whole or absent.
      const chains = planSteps(accounts, plan)
        .slice(0, ACKS_BEFORE_KILL * 2)
        .flat()
        .filter((submission) => submission.length === 2 && submission[0]!.flags === F.linked);
      const chainIds = chains.flat().map((input) => input.id);
      const stored = await storedIds(ledger, chainIds);
      expect(stored.size).toBeGreaterThan(0);
      for (const [payment, fee] of chains) expect(stored.has(payment!.id)).toBe(stored.has(fee!.id));
      expect((await ledger.verify()).violations).toEqual([]);
      await ledger.close();
      await db.close();

      // The restarted writer resubmits the same transfers: earlier successes are `exists`, never applied twice.
      const second = startWriterProcess({ ...config, plan: { ...plan, transfers: 3_000 } });
      expect(await second.exited).toBe(0);
      expect(second.errors).toEqual([]);
      const again = new Map(second.acks.map((ack) => [ack.id, ack.result]));
      for (const id of acknowledgedOk) if (again.has(id)) expect(again.get(id)).toBe('exists');

      db = await open();
      expect((await new Ledger(db).verify()).violations).toEqual([]);
      await db.close();
    } finally {
      await schema?.drop();
      if (dataDir) await rm(dataDir, { recursive: true, force: true });
    }
  },
);

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The ids among `ids` that are stored, looked up in chunks the lookup accepts. */
async function storedIds(ledger: Ledger, ids: readonly string[]): Promise<Set<string>> {
  const stored = new Set<string>();
  for (let start = 0; start < ids.length; start += LOOKUP_IDS_MAX) {
    for (const transfer of await ledger.lookupTransfers(ids.slice(start, start + LOOKUP_IDS_MAX)))
      stored.add(transfer.id);
  }
  return stored;
}
