/**
 * One test per result code and flag combination, on a real database (PGlite, or PostgreSQL with
 * TEST_DATABASE_URL). Each rejected transfer is shown to change nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expiryTransferId, newId } from './ids.js';
import { createAccounts, CNY, openLedger, plain, USD, wallet, type LedgerFixture } from './test/fixtures.js';
import {
  AccountFlags,
  TransferFlags as F,
  type Account,
  type TransferInput,
  type TransferResultCode,
} from './types.js';

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await openLedger();
});
afterAll(async () => {
  const verification = await fx.ledger.verify();
  expect(verification.violations).toEqual([]);
  await fx.close();
});

function transfer(fields: Partial<TransferInput>): TransferInput {
  return { id: newId(), ledger: CNY, code: 1, ...fields };
}

async function submitOne(input: TransferInput) {
  const [result] = await fx.ledger.submit([input]);
  return result!;
}

async function balances(...ids: string[]): Promise<Account[]> {
  return fx.ledger.lookupAccounts(ids);
}

/** Funds a fresh wallet from a fresh plain (bank) account. */
async function fundedWallet(amount: bigint) {
  const [bank, walletId, other] = await createAccounts(fx.ledger, [plain, wallet, plain]);
  if (amount > 0n) {
    expect((await submitOne(transfer({ debitAccountId: bank!, creditAccountId: walletId!, amount }))).result).toBe(
      'ok',
    );
  }
  return { bank: bank!, wallet: walletId!, other: other! };
}

/** Asserts that the transfer is rejected with `code` and leaves every account and the transfer table unchanged. */
async function expectRejected(input: TransferInput, code: TransferResultCode, accountIds: string[]) {
  const before = await balances(...accountIds);
  const result = await submitOne(input);
  expect(result.result).toBe(code);
  expect(await balances(...accountIds)).toEqual(before);
  expect(await fx.ledger.lookupTransfers([input.id])).toEqual(
    // A rejection never stores the transfer (unless it already existed before, which `exists*` cases check).
    code.startsWith('exists') ? expect.any(Array) : [],
  );
}

describe('ordinary transfers', () => {
  it('posts and moves the four counters; the result carries amount and timestamp', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 12_345n });
    const result = await submitOne(input);
    expect(result).toMatchObject({ result: 'ok', amount: 12_345n });
    expect(result.timestamp).toBeGreaterThan(0);
    const [b, c] = await balances(bank, w);
    expect(b).toMatchObject({ debitsPosted: 12_345n, creditsPosted: 0n, debitsPending: 0n, creditsPending: 0n });
    expect(c).toMatchObject({ creditsPosted: 12_345n, debitsPosted: 0n });
    const [stored] = await fx.ledger.lookupTransfers([input.id]);
    expect(stored).toMatchObject({ amount: 12_345n, flags: 0, pendingId: null, pendingState: null });
  });

  it.each([
    ['id_must_be_uuid', { id: 'not-a-uuid' }],
    ['id_must_be_uuid', { id: '00000000-0000-0000-0000-000000000000' }],
    ['flags_are_unknown', { flags: 1 << 10 }],
    ['flags_are_mutually_exclusive', { flags: F.pending | F.postPending }],
    ['flags_are_mutually_exclusive', { flags: F.pending | F.voidPending }],
    ['flags_are_mutually_exclusive', { flags: F.postPending | F.voidPending }],
    ['flags_are_mutually_exclusive', { flags: F.balancingDebit | F.postPending }],
    ['flags_are_mutually_exclusive', { flags: F.balancingCredit | F.voidPending }],
    ['pending_id_must_be_zero', { pendingId: newId() }],
    ['timeout_reserved_for_pending_transfer', { timeoutSeconds: 10 }],
    ['timeout_out_of_range', { flags: F.pending, timeoutSeconds: 400 * 24 * 3600 }],
    ['debit_account_id_must_not_be_zero', { debitAccountId: undefined }],
    ['credit_account_id_must_not_be_zero', { creditAccountId: undefined }],
    ['amount_must_not_be_zero', { amount: 0n }],
    ['amount_must_not_be_zero', { amount: undefined }],
    ['amount_must_not_be_negative', { amount: -1n }],
    ['ledger_must_not_be_zero', { ledger: 0 }],
    ['code_must_not_be_zero', { code: 0 }],
    ['metadata_too_large', { metadata: { note: 'x'.repeat(5000) } }],
    ['debit_account_not_found', { debitAccountId: newId() }],
    ['credit_account_not_found', { creditAccountId: newId() }],
    ['transfer_must_have_the_same_ledger_as_accounts', { ledger: USD }],
  ] as [TransferResultCode, Partial<TransferInput>][])('refuses %s and changes nothing', async (code, fields) => {
    const { bank, wallet: w } = await fundedWallet(1_000n);
    await expectRejected(transfer({ debitAccountId: bank, creditAccountId: w, amount: 10n, ...fields }), code, [
      bank,
      w,
    ]);
  });

  it('refuses accounts_must_be_different', async () => {
    const { bank } = await fundedWallet(0n);
    await expectRejected(
      transfer({ debitAccountId: bank, creditAccountId: bank, amount: 1n }),
      'accounts_must_be_different',
      [bank],
    );
  });

  it('refuses accounts_must_have_the_same_ledger', async () => {
    const [cny] = await createAccounts(fx.ledger, [plain]);
    const [usd] = await createAccounts(fx.ledger, [{ ...plain, ledger: USD }]);
    await expectRejected(
      transfer({ debitAccountId: cny!, creditAccountId: usd!, amount: 1n }),
      'accounts_must_have_the_same_ledger',
      [cny!, usd!],
    );
  });

  it('refuses exceeds_credits on a wallet (debits must not exceed credits), and allows exactly the balance', async () => {
    const { wallet: w, other } = await fundedWallet(500n);
    await expectRejected(transfer({ debitAccountId: w, creditAccountId: other, amount: 501n }), 'exceeds_credits', [
      w,
      other,
    ]);
    expect((await submitOne(transfer({ debitAccountId: w, creditAccountId: other, amount: 500n }))).result).toBe('ok');
    const [after] = await balances(w);
    expect(after!.creditsPosted - after!.debitsPosted).toBe(0n);
  });

  it('refuses exceeds_debits on an account whose credits must not exceed debits', async () => {
    const [limited, source] = await createAccounts(fx.ledger, [
      { flags: AccountFlags.creditsMustNotExceedDebits },
      plain,
    ]);
    await expectRejected(
      transfer({ debitAccountId: source!, creditAccountId: limited!, amount: 1n }),
      'exceeds_debits',
      [limited!, source!],
    );
  });

  it('refuses overflows_debits and overflows_credits beyond the bigint range', async () => {
    const [a, b, c] = await createAccounts(fx.ledger, [plain, plain, plain]);
    const max = 2n ** 63n - 1n;
    expect((await submitOne(transfer({ debitAccountId: a!, creditAccountId: b!, amount: max }))).result).toBe('ok');
    await expectRejected(transfer({ debitAccountId: a!, creditAccountId: c!, amount: 1n }), 'overflows_debits', [
      a!,
      c!,
    ]);
    await expectRejected(transfer({ debitAccountId: c!, creditAccountId: b!, amount: 1n }), 'overflows_credits', [
      b!,
      c!,
    ]);
  });

  it('refuses transfers to or from a closed account; closing needs no pending amounts', async () => {
    const { bank, wallet: w, other } = await fundedWallet(100n);
    const hold = transfer({ debitAccountId: w, creditAccountId: other, amount: 10n, flags: F.pending });
    expect((await submitOne(hold)).result).toBe('ok');
    expect(await fx.ledger.closeAccount(w)).toBe('account_has_pending_transfers');
    expect(
      (await submitOne(transfer({ pendingId: hold.id, flags: F.voidPending, ledger: undefined, code: undefined })))
        .result,
    ).toBe('ok');
    expect(await fx.ledger.closeAccount(w)).toBe('ok');
    expect(await fx.ledger.closeAccount(w)).toBe('account_already_closed');
    expect(await fx.ledger.closeAccount(newId())).toBe('account_not_found');
    await expectRejected(transfer({ debitAccountId: w, creditAccountId: other, amount: 1n }), 'debit_account_closed', [
      w,
      other,
    ]);
    await expectRejected(transfer({ debitAccountId: bank, creditAccountId: w, amount: 1n }), 'credit_account_closed', [
      w,
      bank,
    ]);
  });
});

describe('idempotent resubmission', () => {
  it('answers exists for the same transfer, and changes nothing', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 70n, metadata: { order: 'A1', n: 1 } });
    const first = await submitOne(input);
    const before = await balances(bank, w);
    // Key order in metadata does not matter.
    const again = await submitOne({ ...input, metadata: { n: 1, order: 'A1' } });
    expect(again).toEqual({ id: input.id, result: 'exists', amount: 70n, timestamp: first.timestamp });
    expect(await balances(bank, w)).toEqual(before);
  });

  it.each([
    ['exists_with_different_flags', { flags: F.pending }],
    ['exists_with_different_pending_id', { pendingId: newId() }],
    ['exists_with_different_timeout', { timeoutSeconds: 5 }],
    ['exists_with_different_debit_account_id', { debitAccountId: newId() }],
    ['exists_with_different_credit_account_id', { creditAccountId: newId() }],
    ['exists_with_different_amount', { amount: 71n }],
    ['exists_with_different_metadata', { metadata: { order: 'B2' } }],
    ['exists_with_different_ledger', { ledger: USD }],
    ['exists_with_different_code', { code: 2 }],
  ] as [TransferResultCode, Partial<TransferInput>][])('answers %s when a field differs', async (code, fields) => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 70n, metadata: { order: 'A1' } });
    expect((await submitOne(input)).result).toBe('ok');
    const before = await balances(bank, w);
    const result = await fx.ledger.submit([{ ...input, ...fields, flags: fields.flags ?? input.flags }]);
    expect(result[0]!.result).toBe(code);
    expect(await balances(bank, w)).toEqual(before);
  });

  it('a duplicate inside one submission is exists, applied once', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 5n });
    const results = await fx.ledger.submit([input, input]);
    expect(results.map((result) => result.result)).toEqual(['ok', 'exists']);
    const [after] = await balances(w);
    expect(after!.creditsPosted).toBe(5n);
  });

  it('concurrent submissions of the same id apply once', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 9n });
    const results = await Promise.all(Array.from({ length: 20 }, () => submitOne(input)));
    expect(results.filter((result) => result.result === 'ok')).toHaveLength(1);
    expect(results.filter((result) => result.result === 'exists')).toHaveLength(19);
    const [after] = await balances(w);
    expect(after!.creditsPosted).toBe(9n);
  });
});

describe('linked chains', () => {
  it('applies a whole chain atomically', async () => {
    const { bank, wallet: w, other } = await fundedWallet(0n);
    const results = await fx.ledger.submit([
      transfer({ debitAccountId: bank, creditAccountId: w, amount: 100n, flags: F.linked }),
      transfer({ debitAccountId: w, creditAccountId: other, amount: 60n, flags: F.linked }),
      transfer({ debitAccountId: w, creditAccountId: other, amount: 40n }),
    ]);
    expect(results.map((result) => result.result)).toEqual(['ok', 'ok', 'ok']);
    const [after] = await balances(w);
    expect(after).toMatchObject({ creditsPosted: 100n, debitsPosted: 100n });
  });

  it('fails every member when one fails: the failing one says why, the rest linked_event_failed', async () => {
    const { bank, wallet: w, other } = await fundedWallet(0n);
    const before = await balances(bank, w, other);
    const chain = [
      transfer({ debitAccountId: bank, creditAccountId: w, amount: 100n, flags: F.linked }),
      transfer({ debitAccountId: w, creditAccountId: other, amount: 101n, flags: F.linked }),
      transfer({ debitAccountId: w, creditAccountId: other, amount: 1n }),
      transfer({ debitAccountId: bank, creditAccountId: other, amount: 7n }),
    ];
    const results = await fx.ledger.submit(chain);
    expect(results.map((result) => result.result)).toEqual([
      'linked_event_failed',
      'exceeds_credits',
      'linked_event_failed',
      'ok',
    ]);
    const after = await balances(bank, w, other);
    expect(after[1]).toEqual(before[1]);
    expect(after[0]!.debitsPosted - before[0]!.debitsPosted).toBe(7n);
    expect(await fx.ledger.lookupTransfers(chain.slice(0, 3).map((t) => t.id))).toEqual([]);
  });

  it('answers linked_event_chain_open when a submission ends inside a chain, and applies none of it', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const before = await balances(bank, w);
    const results = await fx.ledger.submit([
      transfer({ debitAccountId: bank, creditAccountId: w, amount: 1n, flags: F.linked }),
      transfer({ debitAccountId: bank, creditAccountId: w, amount: 2n, flags: F.linked }),
    ]);
    expect(results.map((result) => result.result)).toEqual(['linked_event_failed', 'linked_event_chain_open']);
    expect(await balances(bank, w)).toEqual(before);
  });

  it('never joins chains of two submissions batched together', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const [open, next] = await Promise.all([
      fx.ledger.submit([transfer({ debitAccountId: bank, creditAccountId: w, amount: 1n, flags: F.linked })]),
      fx.ledger.submit([transfer({ debitAccountId: bank, creditAccountId: w, amount: 2n })]),
    ]);
    expect(open[0]!.result).toBe('linked_event_chain_open');
    expect(next[0]!.result).toBe('ok');
  });

  it('rolls back a post inside a failed chain, leaving the reservation pending', async () => {
    const { wallet: w, other } = await fundedWallet(50n);
    const hold = transfer({ debitAccountId: w, creditAccountId: other, amount: 30n, flags: F.pending });
    expect((await submitOne(hold)).result).toBe('ok');
    const results = await fx.ledger.submit([
      transfer({ pendingId: hold.id, flags: F.postPending | F.linked }),
      transfer({ debitAccountId: w, creditAccountId: other, amount: 1_000n }),
    ]);
    expect(results.map((result) => result.result)).toEqual(['linked_event_failed', 'exceeds_credits']);
    const [stored] = await fx.ledger.lookupTransfers([hold.id]);
    expect(stored!.pendingState).toBe('pending');
    const [after] = await balances(w);
    expect(after).toMatchObject({ debitsPending: 30n, debitsPosted: 0n });
  });
});

describe('two-phase transfers', () => {
  async function reserve(amount: bigint, timeoutSeconds = 0) {
    const accounts = await fundedWallet(1_000n);
    const hold = transfer({
      debitAccountId: accounts.wallet,
      creditAccountId: accounts.other,
      amount,
      flags: F.pending,
      timeoutSeconds,
    });
    expect((await submitOne(hold)).result).toBe('ok');
    return { ...accounts, hold };
  }

  const resolve = (pendingId: string, flags: number, fields: Partial<TransferInput> = {}) =>
    transfer({ pendingId, flags, ledger: undefined, code: undefined, ...fields });

  it('a pending transfer reserves funds: available balance drops, posted does not', async () => {
    const { wallet: w, other } = await reserve(300n);
    const [walletAfter, otherAfter] = await balances(w, other);
    expect(walletAfter).toMatchObject({ debitsPending: 300n, debitsPosted: 0n, creditsPosted: 1_000n });
    expect(otherAfter).toMatchObject({ creditsPending: 300n, creditsPosted: 0n });
    // The reservation counts against the wallet's limit.
    const result = await submitOne(transfer({ debitAccountId: w, creditAccountId: other, amount: 701n }));
    expect(result.result).toBe('exceeds_credits');
  });

  it('posts in full when no amount is given', async () => {
    const { wallet: w, hold } = await reserve(300n);
    const post = resolve(hold.id, F.postPending);
    expect(await submitOne(post)).toMatchObject({ result: 'ok', amount: 300n });
    const [after] = await balances(w);
    expect(after).toMatchObject({ debitsPending: 0n, debitsPosted: 300n });
    const [stored] = await fx.ledger.lookupTransfers([hold.id]);
    expect(stored!.pendingState).toBe('posted');
  });

  it('posts in part and releases the rest', async () => {
    const { wallet: w, other, hold } = await reserve(300n);
    expect(await submitOne(resolve(hold.id, F.postPending, { amount: 120n }))).toMatchObject({
      result: 'ok',
      amount: 120n,
    });
    const [walletAfter, otherAfter] = await balances(w, other);
    expect(walletAfter).toMatchObject({ debitsPending: 0n, debitsPosted: 120n });
    expect(otherAfter).toMatchObject({ creditsPending: 0n, creditsPosted: 120n });
  });

  it('voids and releases everything', async () => {
    const { wallet: w, hold } = await reserve(300n);
    expect((await submitOne(resolve(hold.id, F.voidPending))).result).toBe('ok');
    const [after] = await balances(w);
    expect(after).toMatchObject({ debitsPending: 0n, debitsPosted: 0n });
    const [stored] = await fx.ledger.lookupTransfers([hold.id]);
    expect(stored!.pendingState).toBe('voided');
  });

  it('pending, then post in the same submission', async () => {
    const { wallet: w, other } = await fundedWallet(100n);
    const hold = transfer({ debitAccountId: w, creditAccountId: other, amount: 40n, flags: F.pending });
    const results = await fx.ledger.submit([hold, resolve(hold.id, F.postPending)]);
    expect(results.map((result) => result.result)).toEqual(['ok', 'ok']);
    const [after] = await balances(w);
    expect(after).toMatchObject({ debitsPending: 0n, debitsPosted: 40n });
  });

  it.each([
    ['pending_id_must_not_be_zero', { pendingId: undefined }],
    ['timeout_reserved_for_pending_transfer', { timeoutSeconds: 3 }],
    ['amount_must_not_be_negative', { amount: -5n }],
    ['amount_must_not_be_zero', { amount: 0n }],
    ['pending_transfer_not_found', { pendingId: newId() }],
    ['pending_transfer_has_different_debit_account_id', { debitAccountId: newId() }],
    ['pending_transfer_has_different_credit_account_id', { creditAccountId: newId() }],
    ['pending_transfer_has_different_ledger', { ledger: USD }],
    ['pending_transfer_has_different_code', { code: 99 }],
    ['exceeds_pending_transfer_amount', { amount: 301n }],
  ] as [TransferResultCode, Partial<TransferInput>][])('a post is refused with %s', async (code, fields) => {
    const { wallet: w, other, hold } = await reserve(300n);
    await expectRejected(resolve(hold.id, F.postPending, fields), code, [w, other]);
  });

  it('a void with another amount is refused with pending_transfer_has_different_amount', async () => {
    const { wallet: w, other, hold } = await reserve(300n);
    await expectRejected(resolve(hold.id, F.voidPending, { amount: 299n }), 'pending_transfer_has_different_amount', [
      w,
      other,
    ]);
  });

  it('refuses pending_id_must_be_different', async () => {
    const { wallet: w, other } = await reserve(300n);
    const id = newId();
    await expectRejected(resolve(id, F.postPending, { id }), 'pending_id_must_be_different', [w, other]);
  });

  it('refuses to resolve a transfer that is not pending', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const plainTransfer = transfer({ debitAccountId: bank, creditAccountId: w, amount: 3n });
    expect((await submitOne(plainTransfer)).result).toBe('ok');
    await expectRejected(resolve(plainTransfer.id, F.postPending), 'pending_transfer_not_pending', [bank, w]);
  });

  it('refuses a second resolution: already posted, already voided', async () => {
    const posted = await reserve(10n);
    expect((await submitOne(resolve(posted.hold.id, F.postPending))).result).toBe('ok');
    await expectRejected(resolve(posted.hold.id, F.voidPending), 'pending_transfer_already_posted', [posted.wallet]);
    const voided = await reserve(10n);
    expect((await submitOne(resolve(voided.hold.id, F.voidPending))).result).toBe('ok');
    await expectRejected(resolve(voided.hold.id, F.postPending), 'pending_transfer_already_voided', [voided.wallet]);
  });

  it('concurrent post and void of one reservation: exactly one wins', async () => {
    const { wallet: w, hold } = await reserve(100n);
    const results = await Promise.all([
      submitOne(resolve(hold.id, F.postPending)),
      submitOne(resolve(hold.id, F.voidPending)),
      submitOne(resolve(hold.id, F.postPending)),
    ]);
    expect(results.filter((result) => result.result === 'ok')).toHaveLength(1);
    const [after] = await balances(w);
    expect(after!.debitsPending).toBe(0n);
  });

  it('a timed-out reservation cannot be posted; the sweep voids it exactly once', async () => {
    const { wallet: w, other, hold } = await reserve(250n, 1);
    await new Promise((resolveSleep) => setTimeout(resolveSleep, 1_100));
    await expectRejected(resolve(hold.id, F.postPending), 'pending_transfer_expired', [w, other]);
    const [first, second] = await Promise.all([fx.ledger.sweepExpired(), fx.ledger.sweepExpired()]);
    expect(first.expired + second.expired).toBeGreaterThanOrEqual(1);
    const [stored] = await fx.ledger.lookupTransfers([hold.id]);
    expect(stored!.pendingState).toBe('expired');
    const [expiry] = await fx.ledger.lookupTransfers([expiryTransferId(hold.id)]);
    expect(expiry).toMatchObject({ pendingId: hold.id, amount: 250n, flags: F.voidPending });
    const [after] = await balances(w);
    expect(after).toMatchObject({ debitsPending: 0n, debitsPosted: 0n });
    await expectRejected(resolve(hold.id, F.voidPending), 'pending_transfer_expired', [w, other]);
    expect((await fx.ledger.sweepExpired()).expired).toBe(0);
  });
});

describe('balancing transfers', () => {
  it('balancing_debit moves at most what the debit account holds', async () => {
    const { wallet: w, other } = await fundedWallet(80n);
    const result = await submitOne(
      transfer({ debitAccountId: w, creditAccountId: other, amount: 1_000n, flags: F.balancingDebit }),
    );
    expect(result).toMatchObject({ result: 'ok', amount: 80n });
    const [after] = await balances(w);
    expect(after!.creditsPosted - after!.debitsPosted).toBe(0n);
    // Nothing left: the next one is refused.
    await expectRejected(
      transfer({ debitAccountId: w, creditAccountId: other, amount: 1n, flags: F.balancingDebit }),
      'exceeds_credits',
      [w, other],
    );
  });

  it('balancing_credit fills an account up to its debits', async () => {
    const [owed, payer, source] = await createAccounts(fx.ledger, [plain, plain, plain]);
    expect((await submitOne(transfer({ debitAccountId: owed!, creditAccountId: source!, amount: 60n }))).result).toBe(
      'ok',
    );
    const result = await submitOne(
      transfer({ debitAccountId: payer!, creditAccountId: owed!, amount: 100n, flags: F.balancingCredit }),
    );
    expect(result).toMatchObject({ result: 'ok', amount: 60n });
    await expectRejected(
      transfer({ debitAccountId: payer!, creditAccountId: owed!, amount: 1n, flags: F.balancingCredit }),
      'exceeds_debits',
      [owed!, payer!],
    );
  });

  it('a balancing pending transfer reserves the clamped amount; resubmitting with the larger request is exists', async () => {
    const { wallet: w, other } = await fundedWallet(30n);
    const input = transfer({
      debitAccountId: w,
      creditAccountId: other,
      amount: 50n,
      flags: F.balancingDebit | F.pending,
    });
    expect(await submitOne(input)).toMatchObject({ result: 'ok', amount: 30n });
    expect(await submitOne(input)).toMatchObject({ result: 'exists', amount: 30n });
    const [after] = await balances(w);
    expect(after!.debitsPending).toBe(30n);
  });
});

describe('accounts', () => {
  it('creates idempotently and names what differs', async () => {
    const id = newId();
    const base = { id, ledger: CNY, code: 10, flags: AccountFlags.debitsMustNotExceedCredits, ownerRef: 'customer:1' };
    expect(await fx.ledger.createAccounts([base, base])).toEqual([
      { id, result: 'ok' },
      { id, result: 'exists' },
    ]);
    const results = await fx.ledger.createAccounts([
      { ...base, flags: 0 },
      { ...base, ledger: USD },
      { ...base, code: 11 },
      { ...base, ownerRef: 'customer:2' },
      base,
    ]);
    expect(results.map((result) => result.result)).toEqual([
      'exists_with_different_flags',
      'exists_with_different_ledger',
      'exists_with_different_code',
      'exists_with_different_owner_ref',
      'exists',
    ]);
  });

  it.each([
    ['id_must_be_uuid', { id: 'x' }],
    ['flags_are_unknown', { flags: AccountFlags.closed }],
    [
      'flags_are_mutually_exclusive',
      { flags: AccountFlags.debitsMustNotExceedCredits | AccountFlags.creditsMustNotExceedDebits },
    ],
    ['ledger_must_not_be_zero', { ledger: 0 }],
    ['code_must_not_be_zero', { code: 0 }],
  ] as const)('refuses %s', async (code, fields) => {
    const input = { id: newId(), ledger: CNY, code: 1, ...fields };
    expect(await fx.ledger.createAccounts([input])).toEqual([{ id: input.id, result: code }]);
    expect(await fx.ledger.lookupAccounts([input.id])).toEqual([]);
  });
});

describe('queries', () => {
  it('pages through an account history newest first with a cursor', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const ids: string[] = [];
    for (let round = 0; round < 5; round += 1) {
      const batch = Array.from({ length: 5 }, (_, index) =>
        transfer({ debitAccountId: bank, creditAccountId: w, amount: BigInt(round * 5 + index + 1) }),
      );
      await fx.ledger.submit(batch);
      ids.push(...batch.map((t) => t.id));
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await fx.ledger.accountTransfers(w, { limit: 7, cursor });
      expect(page.transfers.length).toBeLessThanOrEqual(7);
      seen.push(...page.transfers.map((t) => t.id));
      cursor = page.nextCursor;
    } while (cursor !== null);
    expect(seen).toEqual([...ids].reverse());
    await expect(fx.ledger.accountTransfers(w, { cursor: 'garbage' })).rejects.toThrow('cursor');
  });

  it('rebuilds a balance as of any moment, through pending, post and void', async () => {
    const { bank, wallet: w, other } = await fundedWallet(0n);
    const stamps: number[] = [];
    const step = async (input: TransferInput) => {
      const result = await submitOne(input);
      expect(result.result).toBe('ok');
      stamps.push(result.timestamp!);
    };
    await step(transfer({ debitAccountId: bank, creditAccountId: w, amount: 1_000n }));
    const hold = transfer({ debitAccountId: w, creditAccountId: other, amount: 400n, flags: F.pending });
    await step(hold);
    await step(transfer({ pendingId: hold.id, flags: F.postPending, amount: 150n }));
    const hold2 = transfer({ debitAccountId: w, creditAccountId: other, amount: 50n, flags: F.pending });
    await step(hold2);
    await step(transfer({ pendingId: hold2.id, flags: F.voidPending }));
    const expected = [
      { debitsPending: 0n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 1_000n },
      { debitsPending: 400n, debitsPosted: 0n, creditsPending: 0n, creditsPosted: 1_000n },
      { debitsPending: 0n, debitsPosted: 150n, creditsPending: 0n, creditsPosted: 1_000n },
      { debitsPending: 50n, debitsPosted: 150n, creditsPending: 0n, creditsPosted: 1_000n },
      { debitsPending: 0n, debitsPosted: 150n, creditsPending: 0n, creditsPosted: 1_000n },
    ];
    for (const [index, stamp] of stamps.entries()) {
      expect(await fx.ledger.balanceAt(w, stamp)).toEqual(expected[index]);
    }
    expect(await fx.ledger.balanceAt(w, stamps[0]! - 1)).toEqual({
      debitsPending: 0n,
      debitsPosted: 0n,
      creditsPending: 0n,
      creditsPosted: 0n,
    });
    const [now] = await balances(w);
    expect(now).toMatchObject(expected[4]!);

    // The same posted balances, for every moment at once.
    const posted = await fx.ledger.postedBalancesAt(w, [stamps[0]! - 1, ...stamps]);
    expect([stamps[0]! - 1, ...stamps].map((stamp) => posted.get(stamp))).toEqual([
      0n,
      ...expected.map((balance) => balance.creditsPosted - balance.debitsPosted),
    ]);
  });

  it('looks transfers up by id, in the order asked, skipping unknown ids', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const a = transfer({ debitAccountId: bank, creditAccountId: w, amount: 1n });
    const b = transfer({ debitAccountId: bank, creditAccountId: w, amount: 2n });
    await fx.ledger.submit([a, b]);
    const found = await fx.ledger.lookupTransfers([b.id, newId(), a.id.toUpperCase()]);
    expect(found.map((t) => t.id)).toEqual([b.id, a.id]);
  });
});

describe('direct mode', () => {
  it('posts inside the caller transaction and rolls back with it', async () => {
    const { bank, wallet: w } = await fundedWallet(0n);
    const input = transfer({ debitAccountId: bank, creditAccountId: w, amount: 33n });
    await expect(
      fx.db.transaction(async (tx) => {
        const [result] = await fx.ledger.createTransfers(tx, [input]);
        expect(result!.result).toBe('ok');
        throw new Error('business step failed');
      }),
    ).rejects.toThrow('business step failed');
    expect(await fx.ledger.lookupTransfers([input.id])).toEqual([]);
    await fx.db.transaction(async (tx) => {
      const [result] = await fx.ledger.createTransfers(tx, [input]);
      expect(result!.result).toBe('ok');
    });
    const [after] = await balances(w);
    expect(after!.creditsPosted).toBe(33n);
    // The same validation path: a resubmission through the writer is `exists`.
    expect((await submitOne(input)).result).toBe('exists');
  });
});

describe('shape errors', () => {
  it('throws on a non-bigint amount instead of guessing', () => {
    expect(() => fx.ledger.submit([{ id: newId(), amount: 5 as unknown as bigint }])).toThrow(TypeError);
  });
  it('refuses more than the batch maximum in one submission', async () => {
    const many = Array.from({ length: 8_191 }, () => transfer({ amount: 1n }));
    await expect(fx.ledger.submit(many)).rejects.toThrow(RangeError);
  });
});
