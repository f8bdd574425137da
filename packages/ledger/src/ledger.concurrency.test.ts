/**
 * Several writers at once. On PostgreSQL (TEST_DATABASE_URL) they are 4 separate processes; on PGlite, which
 * lives inside one process, they are 4 ledger instances sharing it. Afterwards: every acknowledged transfer
 * is present once, nothing else is, balances equal what the acknowledgements imply, no wallet is overdrawn,
 * the invariant holds, and no caller ever saw an error (a deadlock would surface as one).
 */
import { migrate, openDatabase } from '@yika/db';
import { createTestSchema, openTestDatabase, testDatabaseUrl } from '@yika/db/testing';
import { expect, it } from 'vitest';
import { newId } from './ids.js';
import { Ledger } from './ledger.js';
import { ledgerMigrations } from './schema.js';
import { CNY } from './test/fixtures.js';
import { startWriterProcess, type WorkerAck } from './test/processes.js';
import { planSteps, runWorkload, type WorkloadAccounts, type WorkloadPlan } from './test/workload.js';
import { AccountFlags, TransferFlags as F, type TransferInput } from './types.js';

const WORKERS = 4;
const TRANSFERS_PER_WORKER = 5_100;
const COLD_ACCOUNTS = 2_000;
const OPENING_BALANCE = 20_000n;

it(
  `${WORKERS} writers, ${WORKERS * TRANSFERS_PER_WORKER}+ transfers between hot and cold accounts, lose or double nothing`,
  { timeout: 300_000 },
  async () => {
    const url = testDatabaseUrl();
    const schema = url ? await createTestSchema(url) : null;
    const db = url ? await openDatabase({ url, schema: schema!.schema }) : await openTestDatabase();
    try {
      await migrate(db, ledgerMigrations);
      const ledger = new Ledger(db);
      const bank = newId();
      const accounts: WorkloadAccounts = {
        hot: [newId(), newId(), newId()],
        fee: newId(),
        cold: Array.from({ length: COLD_ACCOUNTS }, newId),
      };
      const plainIds = [bank, accounts.fee, ...accounts.hot];
      await ledger.createAccounts([
        ...plainIds.map((id) => ({ id, ledger: CNY, code: 9 })),
        ...accounts.cold.map((id) => ({ id, ledger: CNY, code: 1, flags: AccountFlags.debitsMustNotExceedCredits })),
      ]);
      const opening = accounts.cold.map((id) => ({
        id: newId(),
        debitAccountId: bank,
        creditAccountId: id,
        amount: OPENING_BALANCE,
        ledger: CNY,
        code: 9,
      }));
      expect((await ledger.submit(opening)).every((result) => result.result === 'ok')).toBe(true);

      const plans: WorkloadPlan[] = Array.from({ length: WORKERS }, (_, worker) => ({
        worker,
        transfers: TRANSFERS_PER_WORKER,
        concurrency: 48,
        seed: 1_000 + worker,
      }));
      const inputs = new Map<string, TransferInput>();
      const chains: [string, string][] = [];
      for (const plan of plans) {
        for (const step of planSteps(accounts, plan)) {
          for (const submission of step) {
            for (const input of submission) inputs.set(input.id, input);
            if (submission.length === 2 && submission[0]!.flags === F.linked)
              chains.push([submission[0]!.id, submission[1]!.id]);
          }
        }
      }

      const acks: WorkerAck[] = [];
      const errors: string[] = [];
      if (url) {
        const workers = plans.map((plan) =>
          startWriterProcess({ databaseUrl: url, schema: schema!.schema, accounts, plan }),
        );
        const exits = await Promise.all(workers.map((worker) => worker.exited));
        expect(exits).toEqual(workers.map(() => 0));
        for (const worker of workers) {
          acks.push(...worker.acks);
          errors.push(...worker.errors);
          expect(worker.done()).toBe(true);
        }
      } else {
        const writers = plans.map(() => new Ledger(db));
        await Promise.all(
          plans.map((plan, index) =>
            runWorkload(writers[index]!, planSteps(accounts, plan), plan.concurrency, (acknowledged) => {
              for (const { input, result } of acknowledged)
                acks.push({ id: input.id, result: result.result, amount: result.amount ?? null });
            }).catch((error: unknown) => errors.push(String(error))),
          ),
        );
        await Promise.all(writers.map((writer) => writer.close()));
      }
      expect(errors).toEqual([]);
      expect(acks.length).toBe(inputs.size);

      // Balances implied by the acknowledgements alone.
      const expected = new Map<string, { dp: bigint; dpo: bigint; cp: bigint; cpo: bigint }>();
      const counters = (id: string) => {
        if (!expected.has(id)) expected.set(id, { dp: 0n, dpo: 0n, cp: 0n, cpo: 0n });
        return expected.get(id)!;
      };
      for (const t of opening) {
        counters(t.debitAccountId).dpo += t.amount;
        counters(t.creditAccountId).cpo += t.amount;
      }
      const ackById = new Map(acks.map((ack) => [ack.id, ack]));
      const okIds: string[] = [];
      for (const ack of acks) {
        if (ack.result !== 'ok') continue;
        okIds.push(ack.id);
        const input = inputs.get(ack.id)!;
        const amount = ack.amount!;
        if (input.flags === F.postPending) {
          const hold = inputs.get(input.pendingId!)!;
          const held = ackById.get(hold.id)!.amount!;
          counters(hold.debitAccountId!).dp -= held;
          counters(hold.creditAccountId!).cp -= held;
          counters(hold.debitAccountId!).dpo += amount;
          counters(hold.creditAccountId!).cpo += amount;
        } else if (input.flags === F.pending) {
          counters(input.debitAccountId!).dp += amount;
          counters(input.creditAccountId!).cp += amount;
        } else {
          counters(input.debitAccountId!).dpo += amount;
          counters(input.creditAccountId!).cpo += amount;
        }
      }
      // A payment and its fee (a linked chain): both or neither.
      expect(chains.length).toBeGreaterThan(1_000);
      for (const [payment, fee] of chains) {
        expect(ackById.get(payment)!.result === 'ok').toBe(ackById.get(fee)!.result === 'ok');
      }
      expect(okIds.length).toBeGreaterThan(WORKERS * TRANSFERS_PER_WORKER * 0.5);

      const stored = await db.query<{ n: string }>('select count(*)::text as n from ledger_transfers');
      expect(Number(stored.rows[0]!.n)).toBe(opening.length + okIds.length);
      for (let start = 0; start < okIds.length; start += 5_000) {
        const chunk = okIds.slice(start, start + 5_000);
        expect((await ledger.lookupTransfers(chunk)).length).toBe(chunk.length);
      }
      const all = await ledger.lookupAccounts([...plainIds, ...accounts.cold]);
      for (const account of all) {
        const want = expected.get(account.id) ?? { dp: 0n, dpo: 0n, cp: 0n, cpo: 0n };
        expect([account.debitsPending, account.debitsPosted, account.creditsPending, account.creditsPosted]).toEqual([
          want.dp,
          want.dpo,
          want.cp,
          want.cpo,
        ]);
        if (account.flags & AccountFlags.debitsMustNotExceedCredits) {
          expect(account.debitsPending + account.debitsPosted).toBeLessThanOrEqual(account.creditsPosted);
        }
      }
      const verification = await ledger.verify();
      expect(verification.violations).toEqual([]);
      await ledger.close();
    } finally {
      await db.close();
      await schema?.drop();
    }
  },
);
