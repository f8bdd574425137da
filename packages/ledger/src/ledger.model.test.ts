/**
 * Property test: random sequences of account creations, submissions (alone and concurrent, so the writer
 * batches them), all flags, linked chains, pending/post/void, duplicates, overdrafts and closings, run
 * against the real ledger and the reference model. Results and balances must be identical.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from './ids.js';
import { CNY, openLedger, USD, type LedgerFixture } from './test/fixtures.js';
import { ReferenceLedger, type ModelResult } from './test/reference-model.js';
import { AccountFlags, AMOUNT_MAX, TransferFlags as F, type TransferInput, type TransferResult } from './types.js';

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await openLedger();
});
afterAll(async () => fx.close());

const ACCOUNT_SLOTS = 6; // five CNY accounts, one USD; index 6 is an id that does not exist

const amount = fc.oneof(
  { weight: 8, arbitrary: fc.bigInt({ min: 1n, max: 300n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, -1n, AMOUNT_MAX) },
);

/** Mostly the five CNY accounts; now and then the USD one or an unknown id. */
const accountSlot = fc.oneof(
  { weight: 12, arbitrary: fc.nat({ max: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom(5, 6) },
);

const newTransfer = fc.record({
  kind: fc.constant('new' as const),
  debit: accountSlot,
  credit: accountSlot,
  amount,
  flags: fc.oneof(
    {
      weight: 10,
      arbitrary: fc.constantFrom(
        0,
        0,
        0,
        F.pending,
        F.pending,
        F.linked,
        F.pending | F.linked,
        F.balancingDebit,
        F.balancingCredit,
      ),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        F.balancingDebit | F.pending,
        F.balancingDebit | F.linked,
        F.balancingCredit | F.balancingDebit,
      ),
    },
    { weight: 1, arbitrary: fc.nat({ max: 127 }) },
  ),
  usd: fc.integer({ min: 0, max: 9 }).map((roll) => roll === 0),
  code: fc.oneof({ weight: 15, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.constantFrom(0, 2) }),
  timeout: fc.constantFrom(0, 0, 3600),
  note: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
});

const resolveTransfer = fc.record({
  kind: fc.constant('resolve' as const),
  ref: fc.nat(),
  post: fc.boolean(),
  linked: fc.integer({ min: 0, max: 3 }).map((roll) => roll === 0),
  amount: fc.option(fc.bigInt({ min: 0n, max: 320n }), { nil: undefined }),
  withAccounts: fc.boolean(),
});

const duplicateTransfer = fc.record({
  kind: fc.constant('duplicate' as const),
  ref: fc.nat(),
  change: fc.constantFrom('none', 'none', 'amount', 'code', 'metadata'),
});

const transferSpec = fc.oneof(
  { weight: 6, arbitrary: newTransfer },
  { weight: 3, arbitrary: resolveTransfer },
  { weight: 2, arbitrary: duplicateTransfer },
);
type TransferSpec = typeof transferSpec extends fc.Arbitrary<infer T> ? T : never;

const command = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('submit' as const),
      transfers: fc.array(transferSpec, { minLength: 1, maxLength: 6 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('concurrent' as const),
      submissions: fc.array(fc.array(transferSpec, { minLength: 1, maxLength: 4 }), { minLength: 2, maxLength: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('close' as const), account: fc.nat({ max: ACCOUNT_SLOTS - 1 }) }),
  },
);

const scenario = fc.record({
  accountFlags: fc.array(
    fc.constantFrom(
      AccountFlags.none,
      AccountFlags.debitsMustNotExceedCredits,
      AccountFlags.debitsMustNotExceedCredits,
      AccountFlags.creditsMustNotExceedDebits,
    ),
    { minLength: ACCOUNT_SLOTS, maxLength: ACCOUNT_SLOTS },
  ),
  funding: fc.array(fc.bigInt({ min: 0n, max: 500n }), { minLength: ACCOUNT_SLOTS, maxLength: ACCOUNT_SLOTS }),
  commands: fc.array(command, { minLength: 1, maxLength: 14 }),
});

/** How often each result code came up across all runs: proof that the scenarios reach the rules. */
const seen = new Map<string, number>();
function tally(results: { result: string }[]) {
  for (const { result } of results) seen.set(result, (seen.get(result) ?? 0) + 1);
}

function comparable(results: (TransferResult | ModelResult)[]) {
  return results.map((result) =>
    result.result === 'ok' || result.result === 'exists'
      ? { result: result.result, amount: result.amount }
      : { result: result.result },
  );
}

it('matches the reference model, result for result and balance for balance', async () => {
  await fc.assert(
    fc.asyncProperty(scenario, async ({ accountFlags, funding, commands }) => {
      const model = new ReferenceLedger();
      const accounts = accountFlags.map((flags, index) => ({
        id: newId(),
        ledger: index === 5 ? USD : CNY,
        code: 1,
        flags,
      }));
      const sources = [CNY, USD].map((ledger) => ({ id: newId(), ledger, code: 9, flags: AccountFlags.none }));
      for (const account of [...accounts, ...sources]) model.createAccount(account);
      expect(
        (await fx.ledger.createAccounts([...accounts, ...sources])).every((result) => result.result === 'ok'),
      ).toBe(true);
      // Opening balances, so that limits, balancing and overdrafts meet real money.
      const opening = accounts.flatMap((account, index) =>
        funding[index]! > 0n
          ? [
              {
                id: newId(),
                debitAccountId: sources[account.ledger === USD ? 1 : 0]!.id,
                creditAccountId: account.id,
                amount: funding[index]!,
                ledger: account.ledger,
                code: 9,
              },
            ]
          : [],
      );
      expect(comparable(await fx.ledger.submit(opening))).toEqual(comparable(model.submit(opening)));
      const slot = (index: number) => accounts[index]?.id ?? newId();
      const submitted: TransferInput[] = [];
      const reservations: TransferInput[] = [];

      const build = (spec: TransferSpec): TransferInput => {
        let input: TransferInput;
        if (spec.kind === 'new' || submitted.length === 0) {
          const fresh =
            spec.kind === 'new'
              ? spec
              : { debit: 0, credit: 1, amount: 1n, flags: 0, usd: false, code: 1, timeout: 0, note: undefined };
          input = {
            id: newId(),
            debitAccountId: slot(fresh.debit),
            creditAccountId: slot(fresh.credit),
            amount: fresh.amount,
            ledger: fresh.usd ? USD : CNY,
            code: fresh.code,
            flags: fresh.flags,
            ...((fresh.flags & F.pending) !== 0 && fresh.timeout ? { timeoutSeconds: fresh.timeout } : {}),
            ...(fresh.note ? { metadata: { note: fresh.note } } : {}),
          };
        } else if (spec.kind === 'resolve') {
          // Mostly reservations; sometimes any transfer (not pending, or never stored).
          const pool = reservations.length > 0 && spec.ref % 5 !== 0 ? reservations : submitted;
          const held = pool[spec.ref % pool.length]!;
          input = {
            id: newId(),
            pendingId: held.id,
            flags: (spec.post ? F.postPending : F.voidPending) | (spec.linked ? F.linked : 0),
            ...(spec.amount !== undefined ? { amount: spec.amount } : {}),
            ...(spec.withAccounts
              ? { debitAccountId: held.debitAccountId, creditAccountId: held.creditAccountId }
              : {}),
          };
        } else {
          const original = submitted[spec.ref % submitted.length]!;
          input = { ...original };
          if (spec.change === 'amount') input.amount = (original.amount ?? 0n) + 1n;
          if (spec.change === 'code') input.code = (original.code ?? 0) + 1;
          if (spec.change === 'metadata') input.metadata = { changed: true };
        }
        submitted.push(input);
        return input;
      };
      const remember = (inputs: TransferInput[], results: TransferResult[]) => {
        tally(results);
        inputs.forEach((input, index) => {
          if (((input.flags ?? 0) & F.pending) !== 0 && results[index]!.result === 'ok') reservations.push(input);
        });
      };

      for (const step of commands) {
        if (step.kind === 'close') {
          const id = slot(step.account);
          expect(await fx.ledger.closeAccount(id)).toBe(model.close(id));
        } else if (step.kind === 'submit') {
          const inputs = step.transfers.map(build);
          const actual = await fx.ledger.submit(inputs);
          remember(inputs, actual);
          expect(comparable(actual)).toEqual(comparable(model.submit(inputs)));
        } else {
          const submissions = step.submissions.map((specs) => specs.map(build));
          // Submitted in one tick: the writer batches them, in call order, never joining their chains.
          const actual = await Promise.all(submissions.map((inputs) => fx.ledger.submit(inputs)));
          const expected = submissions.map((inputs) => model.submit(inputs));
          actual.forEach((results, index) => remember(submissions[index]!, results));
          expect(actual.map(comparable)).toEqual(expected.map(comparable));
        }
      }
      const stored = await fx.ledger.lookupAccounts(accounts.map((account) => account.id));
      for (const account of stored) {
        expect({
          debitsPending: account.debitsPending,
          debitsPosted: account.debitsPosted,
          creditsPending: account.creditsPending,
          creditsPosted: account.creditsPosted,
        }).toEqual(model.balance(account.id));
      }
    }),
    { numRuns: Number(process.env.LEDGER_PROPERTY_RUNS ?? 100) },
  );
  const verification = await fx.ledger.verify();
  expect(verification.violations).toEqual([]);
  if (process.env.LEDGER_PROPERTY_STATS) console.log(Object.fromEntries([...seen].sort((a, b) => b[1] - a[1])));
  // The scenarios must actually reach the interesting rules, or the comparison proves little.
  for (const code of [
    'ok',
    'exists',
    'exceeds_credits',
    'linked_event_failed',
    'pending_transfer_already_posted',
    'exists_with_different_amount',
  ]) {
    expect(seen.get(code) ?? 0, `result ${code} never came up`).toBeGreaterThan(0);
  }
});
