/**
 * A small in-memory reference ledger, written from the rules as stated (not from the engine), one transfer at
 * a time, with whole-state snapshots for linked chains. The property test runs the same operations against
 * the real ledger and this model, and expects identical results and balances.
 */
import { isUuid } from '../ids.js';
import { canonicalJson } from '../apply.js';
import {
  AccountFlags,
  AMOUNT_MAX,
  METADATA_BYTES_MAX,
  PENDING_TIMEOUT_SECONDS_MAX,
  TRANSFER_FLAGS_ALL,
  TransferFlags as F,
  type AccountInput,
  type PendingState,
  type TransferInput,
  type TransferResultCode,
} from '../types.js';

interface ModelAccount {
  ledger: number;
  flags: number;
  dp: bigint;
  dpo: bigint;
  cp: bigint;
  cpo: bigint;
}

interface ModelTransfer {
  input: TransferInput;
  debit: string;
  credit: string;
  amount: bigint;
  ledger: number;
  code: number;
  state: PendingState | null;
}

interface ModelState {
  accounts: Map<string, ModelAccount>;
  transfers: Map<string, ModelTransfer>;
}

export interface ModelResult {
  result: TransferResultCode;
  amount?: bigint;
}

export class ReferenceLedger {
  state: ModelState = { accounts: new Map(), transfers: new Map() };

  createAccount(input: AccountInput): void {
    this.state.accounts.set(input.id, {
      ledger: input.ledger,
      flags: input.flags ?? 0,
      dp: 0n,
      dpo: 0n,
      cp: 0n,
      cpo: 0n,
    });
  }

  close(id: string): string {
    const account = this.state.accounts.get(id);
    if (!account) return 'account_not_found';
    if (account.flags & AccountFlags.closed) return 'account_already_closed';
    if (account.dp !== 0n || account.cp !== 0n) return 'account_has_pending_transfers';
    account.flags |= AccountFlags.closed;
    return 'ok';
  }

  balance(id: string) {
    const account = this.state.accounts.get(id)!;
    return {
      debitsPending: account.dp,
      debitsPosted: account.dpo,
      creditsPending: account.cp,
      creditsPosted: account.cpo,
    };
  }

  /** One submission: chains are all-or-nothing; an unclosed chain at the end applies nothing. */
  submit(inputs: TransferInput[]): ModelResult[] {
    const results: ModelResult[] = [];
    let chainStart = -1;
    let snapshot: ModelState | null = null;
    let failed = false;
    inputs.forEach((input, index) => {
      const isLinked = ((input.flags ?? 0) & F.linked) !== 0;
      const inChain = chainStart >= 0 || isLinked;
      if (inChain && chainStart < 0) {
        chainStart = index;
        snapshot = cloneState(this.state);
        failed = false;
      }
      if (failed) {
        results.push({ result: 'linked_event_failed' });
      } else {
        const result = this.one(input);
        results.push(result);
        if (inChain && result.result !== 'ok' && result.result !== 'exists') {
          this.state = snapshot!;
          for (let k = chainStart; k < index; k += 1) results[k] = { result: 'linked_event_failed' };
          failed = true;
        }
      }
      if (!isLinked) {
        chainStart = -1;
        snapshot = null;
        failed = false;
      }
    });
    if (chainStart >= 0) {
      if (!failed) this.state = snapshot!;
      for (let k = chainStart; k < inputs.length - 1; k += 1) results[k] = { result: 'linked_event_failed' };
      results[inputs.length - 1] = { result: 'linked_event_chain_open' };
    }
    return results;
  }

  private one(input: TransferInput): ModelResult {
    const flags = input.flags ?? 0;
    if (!isUuid(input.id)) return { result: 'id_must_be_uuid' };
    if (flags & ~TRANSFER_FLAGS_ALL) return { result: 'flags_are_unknown' };
    const phaseCount = [F.pending, F.postPending, F.voidPending].filter((flag) => flags & flag).length;
    const resolving = (flags & (F.postPending | F.voidPending)) !== 0;
    const balancing = (flags & (F.balancingDebit | F.balancingCredit)) !== 0;
    if (phaseCount > 1 || (balancing && resolving)) return { result: 'flags_are_mutually_exclusive' };
    const existing = this.state.transfers.get(input.id);
    if (existing) return existsResult(input, existing);
    if (input.metadata != null && Buffer.byteLength(JSON.stringify(input.metadata)) > METADATA_BYTES_MAX) {
      return { result: 'metadata_too_large' };
    }
    return resolving ? this.resolve(input) : this.transfer(input);
  }

  private transfer(input: TransferInput): ModelResult {
    const flags = input.flags ?? 0;
    const isPending = (flags & F.pending) !== 0;
    const timeout = input.timeoutSeconds ?? 0;
    if (input.pendingId !== undefined) return { result: 'pending_id_must_be_zero' };
    if (timeout !== 0 && !isPending) return { result: 'timeout_reserved_for_pending_transfer' };
    if (timeout < 0 || timeout > PENDING_TIMEOUT_SECONDS_MAX) return { result: 'timeout_out_of_range' };
    if (input.debitAccountId === undefined) return { result: 'debit_account_id_must_not_be_zero' };
    if (input.creditAccountId === undefined) return { result: 'credit_account_id_must_not_be_zero' };
    if (input.debitAccountId === input.creditAccountId) return { result: 'accounts_must_be_different' };
    if (!input.amount) return { result: 'amount_must_not_be_zero' };
    if (input.amount < 0n) return { result: 'amount_must_not_be_negative' };
    if (!input.ledger) return { result: 'ledger_must_not_be_zero' };
    if (!input.code) return { result: 'code_must_not_be_zero' };
    const debit = this.state.accounts.get(input.debitAccountId);
    const credit = this.state.accounts.get(input.creditAccountId);
    if (!debit) return { result: 'debit_account_not_found' };
    if (!credit) return { result: 'credit_account_not_found' };
    if (debit.ledger !== credit.ledger) return { result: 'accounts_must_have_the_same_ledger' };
    if (input.ledger !== debit.ledger) return { result: 'transfer_must_have_the_same_ledger_as_accounts' };
    if (debit.flags & AccountFlags.closed) return { result: 'debit_account_closed' };
    if (credit.flags & AccountFlags.closed) return { result: 'credit_account_closed' };
    let amount = input.amount;
    if (flags & F.balancingDebit) {
      const room = debit.cpo - debit.dpo - debit.dp;
      if (room < amount) amount = room;
      if (amount <= 0n) return { result: 'exceeds_credits' };
    }
    if (flags & F.balancingCredit) {
      const room = credit.dpo - credit.cpo - credit.cp;
      if (room < amount) amount = room;
      if (amount <= 0n) return { result: 'exceeds_debits' };
    }
    if (debit.dp + debit.dpo + amount > AMOUNT_MAX) return { result: 'overflows_debits' };
    if (credit.cp + credit.cpo + amount > AMOUNT_MAX) return { result: 'overflows_credits' };
    if (debit.flags & AccountFlags.debitsMustNotExceedCredits && debit.dp + debit.dpo + amount > debit.cpo) {
      return { result: 'exceeds_credits' };
    }
    if (credit.flags & AccountFlags.creditsMustNotExceedDebits && credit.cp + credit.cpo + amount > credit.dpo) {
      return { result: 'exceeds_debits' };
    }
    if (isPending) {
      debit.dp += amount;
      credit.cp += amount;
    } else {
      debit.dpo += amount;
      credit.cpo += amount;
    }
    this.state.transfers.set(input.id, {
      input,
      debit: input.debitAccountId,
      credit: input.creditAccountId,
      amount,
      ledger: input.ledger,
      code: input.code,
      state: isPending ? 'pending' : null,
    });
    return { result: 'ok', amount };
  }

  private resolve(input: TransferInput): ModelResult {
    const isPost = ((input.flags ?? 0) & F.postPending) !== 0;
    if (input.pendingId === undefined) return { result: 'pending_id_must_not_be_zero' };
    if (input.pendingId === input.id) return { result: 'pending_id_must_be_different' };
    if ((input.timeoutSeconds ?? 0) !== 0) return { result: 'timeout_reserved_for_pending_transfer' };
    if (input.amount !== undefined && input.amount < 0n) return { result: 'amount_must_not_be_negative' };
    if (isPost && input.amount === 0n) return { result: 'amount_must_not_be_zero' };
    const held = this.state.transfers.get(input.pendingId);
    if (!held) return { result: 'pending_transfer_not_found' };
    if (held.state === null) return { result: 'pending_transfer_not_pending' };
    if (input.debitAccountId !== undefined && input.debitAccountId !== held.debit) {
      return { result: 'pending_transfer_has_different_debit_account_id' };
    }
    if (input.creditAccountId !== undefined && input.creditAccountId !== held.credit) {
      return { result: 'pending_transfer_has_different_credit_account_id' };
    }
    if (input.ledger !== undefined && input.ledger !== held.ledger)
      return { result: 'pending_transfer_has_different_ledger' };
    if (input.code !== undefined && input.code !== held.code) return { result: 'pending_transfer_has_different_code' };
    const amount = isPost ? (input.amount ?? held.amount) : held.amount;
    if (isPost && amount > held.amount) return { result: 'exceeds_pending_transfer_amount' };
    if (!isPost && input.amount !== undefined && input.amount !== held.amount) {
      return { result: 'pending_transfer_has_different_amount' };
    }
    if (held.state === 'posted') return { result: 'pending_transfer_already_posted' };
    if (held.state === 'voided') return { result: 'pending_transfer_already_voided' };
    if (held.state === 'expired') return { result: 'pending_transfer_expired' };
    const debit = this.state.accounts.get(held.debit)!;
    const credit = this.state.accounts.get(held.credit)!;
    debit.dp -= held.amount;
    credit.cp -= held.amount;
    if (isPost) {
      debit.dpo += amount;
      credit.cpo += amount;
    }
    held.state = isPost ? 'posted' : 'voided';
    this.state.transfers.set(input.id, {
      input,
      debit: held.debit,
      credit: held.credit,
      amount,
      ledger: held.ledger,
      code: held.code,
      state: null,
    });
    return { result: 'ok', amount };
  }
}

function existsResult(input: TransferInput, stored: ModelTransfer): ModelResult {
  const original = stored.input;
  const flags = input.flags ?? 0;
  const resolving = (flags & (F.postPending | F.voidPending)) !== 0;
  const balancing = (flags & (F.balancingDebit | F.balancingCredit)) !== 0;
  const differs = (given: unknown, kept: unknown) =>
    resolving ? given !== undefined && given !== kept : given !== kept;
  if (flags !== (original.flags ?? 0)) return { result: 'exists_with_different_flags' };
  if ((input.pendingId ?? null) !== (original.pendingId ?? null)) return { result: 'exists_with_different_pending_id' };
  if ((input.timeoutSeconds ?? 0) !== (original.timeoutSeconds ?? 0))
    return { result: 'exists_with_different_timeout' };
  if (differs(input.debitAccountId, stored.debit)) return { result: 'exists_with_different_debit_account_id' };
  if (differs(input.creditAccountId, stored.credit)) return { result: 'exists_with_different_credit_account_id' };
  const amountDiffers = balancing
    ? input.amount === undefined || input.amount < stored.amount
    : differs(input.amount, stored.amount);
  if (amountDiffers) return { result: 'exists_with_different_amount' };
  if (canonicalJson(input.metadata ?? null) !== canonicalJson(original.metadata ?? null)) {
    return { result: 'exists_with_different_metadata' };
  }
  if (differs(input.ledger, stored.ledger)) return { result: 'exists_with_different_ledger' };
  if (differs(input.code, stored.code)) return { result: 'exists_with_different_code' };
  return { result: 'exists', amount: stored.amount };
}

function cloneState(state: ModelState): ModelState {
  return {
    accounts: new Map([...state.accounts].map(([id, account]) => [id, { ...account }])),
    transfers: new Map([...state.transfers].map(([id, transfer]) => [id, { ...transfer }])),
  };
}
