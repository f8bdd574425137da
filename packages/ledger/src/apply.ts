/**
 * The rules of the ledger, applied in memory to one batch of transfers whose accounts are locked.
 * Pure: no I/O. The engine loads state, calls `applyTransfers`, and writes what it returns.
 */
import { expiryTransferId, isUuid } from './ids.js';
import { invariant } from './invariant.js';
import {
  AccountFlags,
  AMOUNT_MAX,
  METADATA_BYTES_MAX,
  PENDING_TIMEOUT_SECONDS_MAX,
  TRANSFER_FLAGS_ALL,
  TransferFlags,
  type PendingState,
  type Transfer,
  type TransferInput,
  type TransferResult,
  type TransferResultCode,
} from './types.js';

export interface AccountState {
  id: string;
  ledger: number;
  code: number;
  flags: number;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  /** Timestamp of the account's latest transfer (or its creation), microseconds. */
  lastTransferAt: number;
}

export interface BatchState {
  /** Every account the batch may touch, locked by the caller. Mutated in place. */
  accounts: Map<string, AccountState>;
  /** Stored transfers the batch refers to (same ids, pending ids). Transfers created here are added. */
  transfers: Map<string, Transfer>;
  /** The batch clock, microseconds; used for expiry checks. */
  now: number;
}

export interface BatchOutcome {
  /** One result per input, per segment. */
  results: TransferResult[][];
  created: Transfer[];
  /** Ids of accounts whose counters changed. */
  changedAccountIds: Set<string>;
  /** New states of pending transfers that were posted, voided or expired. */
  pendingStates: Map<string, PendingState>;
}

const { linked, pending, postPending, voidPending, balancingDebit, balancingCredit } = TransferFlags;

/** Undo log for one linked chain, so a failed chain leaves no trace. */
interface Journal {
  accounts: Map<string, AccountState>;
  createdCount: number;
  pendingStates: Map<string, PendingState | undefined>;
  /** Pending transfers whose state the chain changed, as they were before. */
  pendingRows: Map<string, Transfer>;
  transferIds: string[];
}

/**
 * Applies the segments in order. A segment is one caller's submission: linked chains never cross a segment.
 */
export function applyTransfers(state: BatchState, segments: readonly (readonly TransferInput[])[]): BatchOutcome {
  const outcome: BatchOutcome = {
    results: [],
    created: [],
    changedAccountIds: new Set(),
    pendingStates: new Map(),
  };
  let clock = nextClock(state);
  for (const segment of segments) {
    const results: TransferResult[] = [];
    let chain: { start: number; journal: Journal; failed: boolean } | null = null;
    for (let index = 0; index < segment.length; index += 1) {
      const input = segment[index]!;
      const isLinked = ((input.flags ?? 0) & linked) !== 0;
      if (isLinked && chain === null) chain = { start: index, journal: newJournal(outcome), failed: false };
      if (chain?.failed) {
        results.push({ id: input.id, result: 'linked_event_failed' });
      } else {
        const result = applyOne(state, outcome, input, clock, chain?.journal ?? null);
        if (result.result === 'ok') clock += 1;
        results.push(result);
        if (chain !== null && !isSuccess(result.result)) {
          rollback(state, outcome, chain.journal);
          failChainMembers(results, chain.start, index);
          chain.failed = true;
        }
      }
      if (!isLinked) chain = null;
    }
    if (chain !== null) {
      // The segment ended inside a chain: the chain never closed, so none of it applies.
      if (!chain.failed) rollback(state, outcome, chain.journal);
      failChainMembers(results, chain.start, segment.length - 1);
      results[segment.length - 1] = { id: segment[segment.length - 1]!.id, result: 'linked_event_chain_open' };
    }
    outcome.results.push(results);
  }
  return outcome;
}

function nextClock(state: BatchState): number {
  let clock = state.now;
  for (const account of state.accounts.values()) clock = Math.max(clock, account.lastTransferAt + 1);
  return clock;
}

function isSuccess(code: TransferResultCode): boolean {
  return code === 'ok' || code === 'exists';
}

function failChainMembers(results: TransferResult[], start: number, failedIndex: number): void {
  for (let index = start; index < failedIndex; index += 1) {
    results[index] = { id: results[index]!.id, result: 'linked_event_failed' };
  }
}

function newJournal(outcome: BatchOutcome): Journal {
  return {
    accounts: new Map(),
    createdCount: outcome.created.length,
    pendingStates: new Map(),
    pendingRows: new Map(),
    transferIds: [],
  };
}

function rollback(state: BatchState, outcome: BatchOutcome, journal: Journal): void {
  for (const [id, saved] of journal.accounts) state.accounts.set(id, saved);
  for (const [id, previous] of journal.pendingStates) {
    if (previous === undefined) outcome.pendingStates.delete(id);
    else outcome.pendingStates.set(id, previous);
  }
  for (const id of journal.transferIds) state.transfers.delete(id);
  for (const [id, row] of journal.pendingRows) state.transfers.set(id, row);
  outcome.created.length = journal.createdCount;
}

function applyOne(
  state: BatchState,
  outcome: BatchOutcome,
  input: TransferInput,
  timestamp: number,
  journal: Journal | null,
): TransferResult {
  const flags = input.flags ?? 0;
  if (!isUuid(input.id)) return { id: input.id, result: 'id_must_be_uuid' };
  if ((flags & ~TRANSFER_FLAGS_ALL) !== 0) return { id: input.id, result: 'flags_are_unknown' };
  if (!flagsAreCompatible(flags)) return { id: input.id, result: 'flags_are_mutually_exclusive' };
  const existing = state.transfers.get(input.id);
  if (existing !== undefined) {
    const result = compareWithExisting(input, existing);
    return result === 'exists'
      ? { id: input.id, result, amount: existing.amount, timestamp: existing.timestamp }
      : { id: input.id, result };
  }
  if (metadataBytes(input.metadata) > METADATA_BYTES_MAX) return { id: input.id, result: 'metadata_too_large' };
  const resolving = (flags & (postPending | voidPending)) !== 0;
  const planned = resolving ? planResolution(state, input, timestamp) : planTransfer(state, input, timestamp);
  if (typeof planned === 'string') return { id: input.id, result: planned };
  commit(state, outcome, planned, journal);
  return { id: input.id, result: 'ok', amount: planned.transfer.amount, timestamp };
}

function flagsAreCompatible(flags: number): boolean {
  const phases = [pending, postPending, voidPending].filter((flag) => (flags & flag) !== 0).length;
  if (phases > 1) return false;
  const balancing = (flags & (balancingDebit | balancingCredit)) !== 0;
  return !(balancing && (flags & (postPending | voidPending)) !== 0);
}

/** What one accepted transfer does: the row to store, counter changes, a pending state change. */
interface Plan {
  transfer: Transfer;
  debit: AccountState;
  credit: AccountState;
  /** Signed changes to [debitsPending, debitsPosted] of the debit account and
   * [creditsPending, creditsPosted] of the credit account. */
  pendingDelta: bigint;
  postedDelta: bigint;
  resolves?: { pendingId: string; state: PendingState };
}

function planTransfer(state: BatchState, input: TransferInput, timestamp: number): Plan | TransferResultCode {
  const flags = input.flags ?? 0;
  const isPending = (flags & pending) !== 0;
  const timeoutSeconds = input.timeoutSeconds ?? 0;
  if (input.pendingId !== undefined) return 'pending_id_must_be_zero';
  if (timeoutSeconds !== 0 && !isPending) return 'timeout_reserved_for_pending_transfer';
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 0 || timeoutSeconds > PENDING_TIMEOUT_SECONDS_MAX) {
    return 'timeout_out_of_range';
  }
  if (input.debitAccountId === undefined) return 'debit_account_id_must_not_be_zero';
  if (input.creditAccountId === undefined) return 'credit_account_id_must_not_be_zero';
  if (input.debitAccountId === input.creditAccountId) return 'accounts_must_be_different';
  if (input.amount === undefined || input.amount === 0n) return 'amount_must_not_be_zero';
  if (input.amount < 0n) return 'amount_must_not_be_negative';
  if (!input.ledger) return 'ledger_must_not_be_zero';
  if (!input.code) return 'code_must_not_be_zero';
  const debit = state.accounts.get(input.debitAccountId);
  const credit = state.accounts.get(input.creditAccountId);
  if (debit === undefined) return 'debit_account_not_found';
  if (credit === undefined) return 'credit_account_not_found';
  if (debit.ledger !== credit.ledger) return 'accounts_must_have_the_same_ledger';
  if (input.ledger !== debit.ledger) return 'transfer_must_have_the_same_ledger_as_accounts';
  if ((debit.flags & AccountFlags.closed) !== 0) return 'debit_account_closed';
  if ((credit.flags & AccountFlags.closed) !== 0) return 'credit_account_closed';

  let amount = input.amount;
  if ((flags & balancingDebit) !== 0) {
    amount = minBigInt(amount, debit.creditsPosted - debit.debitsPosted - debit.debitsPending);
    if (amount <= 0n) return 'exceeds_credits';
  }
  if ((flags & balancingCredit) !== 0) {
    amount = minBigInt(amount, credit.debitsPosted - credit.creditsPosted - credit.creditsPending);
    if (amount <= 0n) return 'exceeds_debits';
  }
  const debitsAfter = debit.debitsPending + debit.debitsPosted + amount;
  const creditsAfter = credit.creditsPending + credit.creditsPosted + amount;
  if (debitsAfter > AMOUNT_MAX) return 'overflows_debits';
  if (creditsAfter > AMOUNT_MAX) return 'overflows_credits';
  if ((debit.flags & AccountFlags.debitsMustNotExceedCredits) !== 0 && debitsAfter > debit.creditsPosted) {
    return 'exceeds_credits';
  }
  if ((credit.flags & AccountFlags.creditsMustNotExceedDebits) !== 0 && creditsAfter > credit.debitsPosted) {
    return 'exceeds_debits';
  }
  return {
    transfer: {
      id: input.id,
      debitAccountId: debit.id,
      creditAccountId: credit.id,
      amount,
      ledger: input.ledger,
      code: input.code,
      flags,
      pendingId: null,
      timeoutSeconds,
      expiresAt: isPending && timeoutSeconds > 0 ? timestamp + timeoutSeconds * 1_000_000 : null,
      pendingState: isPending ? 'pending' : null,
      metadata: input.metadata ?? null,
      timestamp: timestamp,
    },
    debit,
    credit,
    pendingDelta: isPending ? amount : 0n,
    postedDelta: isPending ? 0n : amount,
  };
}

function planResolution(state: BatchState, input: TransferInput, timestamp: number): Plan | TransferResultCode {
  const isPost = ((input.flags ?? 0) & postPending) !== 0;
  if (input.pendingId === undefined) return 'pending_id_must_not_be_zero';
  if (input.pendingId === input.id) return 'pending_id_must_be_different';
  if ((input.timeoutSeconds ?? 0) !== 0) return 'timeout_reserved_for_pending_transfer';
  if (input.amount !== undefined && input.amount < 0n) return 'amount_must_not_be_negative';
  if (isPost && input.amount === 0n) return 'amount_must_not_be_zero';
  const pendingTransfer = isUuid(input.pendingId) ? state.transfers.get(input.pendingId) : undefined;
  if (pendingTransfer === undefined) return 'pending_transfer_not_found';
  if ((pendingTransfer.flags & pending) === 0) return 'pending_transfer_not_pending';
  if (input.debitAccountId !== undefined && input.debitAccountId !== pendingTransfer.debitAccountId) {
    return 'pending_transfer_has_different_debit_account_id';
  }
  if (input.creditAccountId !== undefined && input.creditAccountId !== pendingTransfer.creditAccountId) {
    return 'pending_transfer_has_different_credit_account_id';
  }
  if (input.ledger !== undefined && input.ledger !== pendingTransfer.ledger)
    return 'pending_transfer_has_different_ledger';
  if (input.code !== undefined && input.code !== pendingTransfer.code) return 'pending_transfer_has_different_code';
  const pendingAmount = pendingTransfer.amount;
  const amount = isPost ? (input.amount ?? pendingAmount) : pendingAmount;
  if (isPost && amount > pendingAmount) return 'exceeds_pending_transfer_amount';
  if (!isPost && input.amount !== undefined && input.amount !== pendingAmount) {
    return 'pending_transfer_has_different_amount';
  }
  const currentState = state.transfers.get(pendingTransfer.id)?.pendingState;
  if (currentState === 'posted') return 'pending_transfer_already_posted';
  if (currentState === 'voided') return 'pending_transfer_already_voided';
  if (currentState === 'expired') return 'pending_transfer_expired';
  const isExpiry = !isPost && input.id === expiryTransferId(pendingTransfer.id);
  const hasExpired = pendingTransfer.expiresAt !== null && state.now >= pendingTransfer.expiresAt;
  if (hasExpired && !isExpiry) return 'pending_transfer_expired';

  const debit = state.accounts.get(pendingTransfer.debitAccountId);
  const credit = state.accounts.get(pendingTransfer.creditAccountId);
  invariant(debit !== undefined && credit !== undefined, 'accounts of a pending transfer are locked');
  return {
    transfer: {
      id: input.id,
      debitAccountId: debit.id,
      creditAccountId: credit.id,
      amount,
      ledger: pendingTransfer.ledger,
      code: pendingTransfer.code,
      flags: input.flags ?? 0,
      pendingId: pendingTransfer.id,
      timeoutSeconds: 0,
      expiresAt: null,
      pendingState: null,
      metadata: input.metadata ?? null,
      timestamp: timestamp,
    },
    debit,
    credit,
    pendingDelta: -pendingAmount,
    postedDelta: isPost ? amount : 0n,
    resolves: { pendingId: pendingTransfer.id, state: isPost ? 'posted' : hasExpired ? 'expired' : 'voided' },
  };
}

function commit(state: BatchState, outcome: BatchOutcome, plan: Plan, journal: Journal | null): void {
  for (const account of [plan.debit, plan.credit]) {
    if (journal !== null && !journal.accounts.has(account.id)) journal.accounts.set(account.id, { ...account });
  }
  const { debit, credit } = plan;
  debit.debitsPending += plan.pendingDelta;
  debit.debitsPosted += plan.postedDelta;
  credit.creditsPending += plan.pendingDelta;
  credit.creditsPosted += plan.postedDelta;
  debit.lastTransferAt = plan.transfer.timestamp;
  credit.lastTransferAt = plan.transfer.timestamp;
  assertCounters(debit);
  assertCounters(credit);
  outcome.changedAccountIds.add(debit.id);
  outcome.changedAccountIds.add(credit.id);

  state.transfers.set(plan.transfer.id, plan.transfer);
  journal?.transferIds.push(plan.transfer.id);
  outcome.created.push(plan.transfer);
  if (plan.resolves) {
    const { pendingId, state: pendingState } = plan.resolves;
    const resolved = state.transfers.get(pendingId);
    invariant(resolved !== undefined, 'resolved pending transfer is known');
    if (journal !== null && !journal.pendingStates.has(pendingId)) {
      journal.pendingStates.set(pendingId, outcome.pendingStates.get(pendingId));
      journal.pendingRows.set(pendingId, resolved);
    }
    outcome.pendingStates.set(pendingId, pendingState);
    state.transfers.set(pendingId, { ...resolved, pendingState });
  }
}

function assertCounters(account: AccountState): void {
  for (const value of [account.debitsPending, account.debitsPosted, account.creditsPending, account.creditsPosted]) {
    invariant(value >= 0n && value <= AMOUNT_MAX, `account ${account.id} counter out of range: ${value}`);
  }
  if ((account.flags & AccountFlags.debitsMustNotExceedCredits) !== 0) {
    invariant(account.debitsPending + account.debitsPosted <= account.creditsPosted, `account ${account.id} overdrawn`);
  }
  if ((account.flags & AccountFlags.creditsMustNotExceedDebits) !== 0) {
    invariant(
      account.creditsPending + account.creditsPosted <= account.debitsPosted,
      `account ${account.id} over-credited`,
    );
  }
}

function compareWithExisting(input: TransferInput, existing: Transfer): TransferResultCode {
  const flags = input.flags ?? 0;
  const resolving = (flags & (postPending | voidPending)) !== 0;
  const balancing = (flags & (balancingDebit | balancingCredit)) !== 0;
  if (flags !== existing.flags) return 'exists_with_different_flags';
  if ((input.pendingId ?? null) !== existing.pendingId) return 'exists_with_different_pending_id';
  if ((input.timeoutSeconds ?? 0) !== existing.timeoutSeconds) return 'exists_with_different_timeout';
  if ((!resolving || input.debitAccountId !== undefined) && input.debitAccountId !== existing.debitAccountId) {
    return 'exists_with_different_debit_account_id';
  }
  if ((!resolving || input.creditAccountId !== undefined) && input.creditAccountId !== existing.creditAccountId) {
    return 'exists_with_different_credit_account_id';
  }
  if (balancing) {
    if (input.amount === undefined || input.amount < existing.amount) return 'exists_with_different_amount';
  } else if ((!resolving || input.amount !== undefined) && input.amount !== existing.amount) {
    return 'exists_with_different_amount';
  }
  if (canonicalJson(input.metadata ?? null) !== canonicalJson(existing.metadata))
    return 'exists_with_different_metadata';
  if ((!resolving || input.ledger !== undefined) && input.ledger !== existing.ledger)
    return 'exists_with_different_ledger';
  if ((!resolving || input.code !== undefined) && input.code !== existing.code) return 'exists_with_different_code';
  return 'exists';
}

function minBigInt(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function metadataBytes(metadata: TransferInput['metadata']): number {
  return metadata == null ? 0 : Buffer.byteLength(JSON.stringify(metadata));
}

/** JSON with object keys sorted, so two equal objects compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
