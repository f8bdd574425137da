/**
 * The ledger's data model, after TigerBeetle's: accounts hold four counters, transfers move amounts between
 * two accounts of one ledger (currency). All amounts are bigint minor units.
 */

/** Account flags (bit set). */
export const AccountFlags = {
  none: 0,
  /** The account may never owe: debits (pending + posted) must not exceed posted credits. A wallet. */
  debitsMustNotExceedCredits: 1 << 1,
  /** The account may never hold more than it is owed: credits (pending + posted) must not exceed posted debits. */
  creditsMustNotExceedDebits: 1 << 2,
  /** The account takes no new transfers. */
  closed: 1 << 3,
} as const;

/** Transfer flags (bit set). */
export const TransferFlags = {
  none: 0,
  /** This transfer succeeds or fails together with the next one in the same submission. */
  linked: 1 << 0,
  /** Reserves the amount (two-phase); later posted or voided. */
  pending: 1 << 1,
  /** Posts (all or part of) the pending transfer named by `pendingId`. */
  postPending: 1 << 2,
  /** Voids the pending transfer named by `pendingId`. */
  voidPending: 1 << 3,
  /** Amount is a maximum: reduced so the debit account's debits do not exceed its credits. */
  balancingDebit: 1 << 4,
  /** Amount is a maximum: reduced so the credit account's credits do not exceed its debits. */
  balancingCredit: 1 << 5,
} as const;

export const ACCOUNT_FLAGS_ALL =
  AccountFlags.debitsMustNotExceedCredits | AccountFlags.creditsMustNotExceedDebits | AccountFlags.closed;
export const TRANSFER_FLAGS_ALL = Object.values(TransferFlags).reduce((all, flag) => all | flag, 0);

/** The largest value a counter or amount may take (PostgreSQL bigint). */
export const AMOUNT_MAX = 2n ** 63n - 1n;

/** Most transfers one submission may carry (and most one database batch applies). */
export const BATCH_TRANSFERS_MAX = 8_190;

/** Longest timeout of a pending transfer: one year. */
export const PENDING_TIMEOUT_SECONDS_MAX = 366 * 24 * 3600;

/** Largest metadata object, serialised as JSON. */
export const METADATA_BYTES_MAX = 4_096;

export interface AccountInput {
  id: string;
  /** The ledger the account belongs to: the ISO 4217 numeric currency code (156 for CNY). */
  ledger: number;
  /** Account type, chosen by the application (e.g. customer wallet, merchant settlement, fee income). */
  code: number;
  flags?: number;
  /** Who or what the account belongs to, e.g. `customer:0192…`. */
  ownerRef?: string | null;
}

export interface Account {
  id: string;
  ledger: number;
  code: number;
  flags: number;
  ownerRef: string | null;
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
  /** Microseconds since the Unix epoch. */
  createdAt: number;
}

export interface AccountBalance {
  debitsPending: bigint;
  debitsPosted: bigint;
  creditsPending: bigint;
  creditsPosted: bigint;
}

export interface TransferInput {
  /** Chosen by the caller before submission (derive it from a business key so a retry is exactly-once). */
  id: string;
  /** Optional on post/void: taken from the pending transfer; if given, it must match. */
  debitAccountId?: string;
  creditAccountId?: string;
  /** Required, positive, for ordinary and pending transfers (a maximum for balancing ones); optional on
   * post (absent: the whole pending amount) and void (absent or equal to the pending amount). */
  amount?: bigint;
  /** Optional on post/void (taken from the pending transfer); required otherwise. */
  ledger?: number;
  code?: number;
  flags?: number;
  /** The pending transfer a post or void resolves. */
  pendingId?: string;
  /** Pending transfers only: seconds until the sweep voids it; 0 or absent means no timeout. */
  timeoutSeconds?: number;
  /** Business context (order id, note). At most METADATA_BYTES_MAX bytes of JSON. */
  metadata?: Record<string, unknown> | null;
}

export type PendingState = 'pending' | 'posted' | 'voided' | 'expired';

export interface Transfer {
  id: string;
  debitAccountId: string;
  creditAccountId: string;
  amount: bigint;
  ledger: number;
  code: number;
  flags: number;
  pendingId: string | null;
  timeoutSeconds: number;
  /** For pending transfers: when the sweep voids it, in microseconds since the epoch (null: never). */
  expiresAt: number | null;
  /** For pending transfers: what became of the reservation. */
  pendingState: PendingState | null;
  metadata: Record<string, unknown> | null;
  /** When it was applied: microseconds since the Unix epoch, strictly increasing per account. */
  timestamp: number;
}

export const transferResultCodes = [
  'ok',
  'exists',
  'exists_with_different_flags',
  'exists_with_different_pending_id',
  'exists_with_different_timeout',
  'exists_with_different_debit_account_id',
  'exists_with_different_credit_account_id',
  'exists_with_different_amount',
  'exists_with_different_ledger',
  'exists_with_different_code',
  'exists_with_different_metadata',
  'linked_event_failed',
  'linked_event_chain_open',
  'id_must_be_uuid',
  'flags_are_unknown',
  'flags_are_mutually_exclusive',
  'debit_account_id_must_not_be_zero',
  'credit_account_id_must_not_be_zero',
  'accounts_must_be_different',
  'pending_id_must_be_zero',
  'pending_id_must_not_be_zero',
  'pending_id_must_be_different',
  'timeout_reserved_for_pending_transfer',
  'timeout_out_of_range',
  'amount_must_not_be_zero',
  'amount_must_not_be_negative',
  'ledger_must_not_be_zero',
  'code_must_not_be_zero',
  'metadata_too_large',
  'debit_account_not_found',
  'credit_account_not_found',
  'accounts_must_have_the_same_ledger',
  'transfer_must_have_the_same_ledger_as_accounts',
  'debit_account_closed',
  'credit_account_closed',
  'pending_transfer_not_found',
  'pending_transfer_not_pending',
  'pending_transfer_has_different_debit_account_id',
  'pending_transfer_has_different_credit_account_id',
  'pending_transfer_has_different_ledger',
  'pending_transfer_has_different_code',
  'pending_transfer_has_different_amount',
  'exceeds_pending_transfer_amount',
  'pending_transfer_already_posted',
  'pending_transfer_already_voided',
  'pending_transfer_expired',
  'overflows_debits',
  'overflows_credits',
  'exceeds_credits',
  'exceeds_debits',
] as const;

export type TransferResultCode = (typeof transferResultCodes)[number];

export interface TransferResult {
  id: string;
  result: TransferResultCode;
  /** For `ok` and `exists`: the amount that moved (balancing and post transfers may differ from the request). */
  amount?: bigint;
  /** For `ok` and `exists`: when the transfer was applied, microseconds since the epoch. */
  timestamp?: number;
}

export const accountResultCodes = [
  'ok',
  'exists',
  'exists_with_different_flags',
  'exists_with_different_ledger',
  'exists_with_different_code',
  'exists_with_different_owner_ref',
  'id_must_be_uuid',
  'flags_are_unknown',
  'flags_are_mutually_exclusive',
  'ledger_must_not_be_zero',
  'code_must_not_be_zero',
] as const;

export type AccountResultCode = (typeof accountResultCodes)[number];

export interface AccountResult {
  id: string;
  result: AccountResultCode;
}
