/** Mapping between database rows and ledger types. Every bigint column passes through `BigInt()`. */
import type { AccountState } from './apply.js';
import { pendingStateCodes } from './schema.js';
import type { Account, PendingState, Transfer } from './types.js';

export const ACCOUNT_COLUMNS =
  'id, ledger, code, flags, owner_ref, debits_pending, debits_posted, credits_pending, credits_posted, created_at, last_transfer_at';

/** What the rules need of a locked account. */
export const ACCOUNT_STATE_COLUMNS =
  'id, ledger, code, flags, debits_pending, debits_posted, credits_pending, credits_posted, last_transfer_at';

export const TRANSFER_COLUMNS =
  'id, debit_account_id, credit_account_id, amount, ledger, code, flags, pending_id, timeout_seconds, expires_at, pending_state, metadata, timestamp';

type Int8 = bigint | number | string;

export interface AccountRow {
  id: string;
  ledger: number;
  code: number;
  flags: number;
  owner_ref: string | null;
  debits_pending: Int8;
  debits_posted: Int8;
  credits_pending: Int8;
  credits_posted: Int8;
  created_at: Int8;
  last_transfer_at: Int8;
}

export interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: Int8;
  ledger: number;
  code: number;
  flags: number;
  pending_id: string | null;
  timeout_seconds: number;
  expires_at: Int8 | null;
  pending_state: number | null;
  metadata: Record<string, unknown> | null;
  timestamp: Int8;
}

const pendingStateByCode = new Map<number, PendingState>(
  Object.entries(pendingStateCodes).map(([state, code]) => [code, state as PendingState]),
);

export function toAccount(row: AccountRow): Account {
  return {
    id: row.id,
    ledger: row.ledger,
    code: row.code,
    flags: row.flags,
    ownerRef: row.owner_ref,
    debitsPending: BigInt(row.debits_pending),
    debitsPosted: BigInt(row.debits_posted),
    creditsPending: BigInt(row.credits_pending),
    creditsPosted: BigInt(row.credits_posted),
    createdAt: Number(row.created_at),
  };
}

export type AccountStateRow = Omit<AccountRow, 'owner_ref' | 'created_at'>;

export function toAccountState(row: AccountStateRow): AccountState {
  return {
    id: row.id,
    ledger: row.ledger,
    code: row.code,
    flags: row.flags,
    debitsPending: BigInt(row.debits_pending),
    debitsPosted: BigInt(row.debits_posted),
    creditsPending: BigInt(row.credits_pending),
    creditsPosted: BigInt(row.credits_posted),
    lastTransferAt: Number(row.last_transfer_at),
  };
}

export function toTransfer(row: TransferRow): Transfer {
  return {
    id: row.id,
    debitAccountId: row.debit_account_id,
    creditAccountId: row.credit_account_id,
    amount: BigInt(row.amount),
    ledger: row.ledger,
    code: row.code,
    flags: row.flags,
    pendingId: row.pending_id,
    timeoutSeconds: row.timeout_seconds,
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    pendingState: row.pending_state === null ? null : (pendingStateByCode.get(row.pending_state) ?? null),
    metadata: row.metadata,
    timestamp: Number(row.timestamp),
  };
}
