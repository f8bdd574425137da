/**
 * The ledger's front door. Two ways to post transfers share one validation path:
 * - `submit()` goes through the batching writer (many callers, one transaction per tick);
 * - `createTransfers(tx, …)` posts inside the caller's own transaction, atomically with business rows.
 */
import type { Database, SqlExecutor } from '@yika/db';
import { closeAccount, createAccounts, type CloseAccountResult } from './accounts.js';
import { executeBatch, nowMicros } from './engine.js';
import { expiryTransferId } from './ids.js';
import {
  accountTransfers,
  balanceAt,
  postedBalancesAt,
  lookupAccounts,
  lookupTransfers,
  type AccountTransfersQuery,
  type TransferPage,
} from './queries.js';
import { pendingStateCodes } from './schema.js';
import {
  BATCH_TRANSFERS_MAX,
  TransferFlags,
  type Account,
  type AccountBalance,
  type AccountInput,
  type AccountResult,
  type Transfer,
  type TransferInput,
  type TransferResult,
} from './types.js';
import { verifyLedger, type LedgerVerification } from './verify.js';
import { BatchWriter, type WriterOptions } from './writer.js';

export type LedgerOptions = WriterOptions;

/** Most expired pending transfers one sweep voids. */
export const SWEEP_LIMIT_MAX = BATCH_TRANSFERS_MAX;

export class Ledger {
  readonly #db: Database;
  readonly #writer: BatchWriter;

  constructor(db: Database, options: LedgerOptions = {}) {
    this.#db = db;
    this.#writer = new BatchWriter(db, options);
  }

  createAccounts(accounts: readonly AccountInput[]): Promise<AccountResult[]> {
    if (accounts.length > BATCH_TRANSFERS_MAX) throw new RangeError(`at most ${BATCH_TRANSFERS_MAX} accounts per call`);
    const normalized = accounts.map((account) => ({ ...account, id: lower(account.id) }));
    return this.#db.transaction((tx) => createAccounts(tx, normalized));
  }

  /** Queues transfers for the next batch; resolves with one result per transfer, in order. */
  submit(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    return this.#writer.submit(transfers.map(normalizeTransfer));
  }

  /** Posts transfers inside the caller's transaction (no batching, no retries: the caller owns both). */
  async createTransfers(tx: SqlExecutor, transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    if (transfers.length > BATCH_TRANSFERS_MAX)
      throw new RangeError(`at most ${BATCH_TRANSFERS_MAX} transfers per call`);
    const [results] = await executeBatch(tx, [transfers.map(normalizeTransfer)]);
    return results ?? [];
  }

  closeAccount(id: string): Promise<CloseAccountResult> {
    return this.#db.transaction((tx) => closeAccount(tx, lower(id)));
  }

  lookupAccounts(ids: readonly string[]): Promise<Account[]> {
    return lookupAccounts(this.#db, ids);
  }

  lookupTransfers(ids: readonly string[]): Promise<Transfer[]> {
    return lookupTransfers(this.#db, ids);
  }

  accountTransfers(accountId: string, query?: AccountTransfersQuery): Promise<TransferPage> {
    return accountTransfers(this.#db, accountId, query);
  }

  /** The account's counters as of `timestamp` (microseconds since the epoch, inclusive). */
  balanceAt(accountId: string, timestamp: number): Promise<AccountBalance> {
    return balanceAt(this.#db, accountId, timestamp);
  }

  /** Posted balances (credits − debits posted) at each timestamp, in one query. */
  postedBalancesAt(accountId: string, timestamps: readonly number[]): Promise<Map<number, bigint>> {
    return postedBalancesAt(this.#db, accountId, timestamps);
  }

  verify(): Promise<LedgerVerification> {
    return verifyLedger(this.#db);
  }

  /**
   * Voids pending transfers whose timeout has passed. Each void has an id derived from the pending id, so
   * several sweepers (or a sweep racing a late post) can never resolve one reservation twice.
   */
  async sweepExpired(limit = SWEEP_LIMIT_MAX): Promise<{ expired: number }> {
    const { rows } = await this.#db.query<{ id: string }>(
      `select id from ledger_transfers
       where pending_state = ${pendingStateCodes.pending} and expires_at is not null and expires_at <= $1
       order by expires_at limit $2`,
      [String(nowMicros()), Math.min(Math.max(1, limit), SWEEP_LIMIT_MAX)],
    );
    if (rows.length === 0) return { expired: 0 };
    const results = await this.submit(
      rows.map((row) => ({ id: expiryTransferId(row.id), pendingId: row.id, flags: TransferFlags.voidPending })),
    );
    return { expired: results.filter((result) => result.result === 'ok').length };
  }

  /** Stops taking transfers and waits until every queued batch is written. */
  close(): Promise<void> {
    return this.#writer.close();
  }
}

function lower(id: string): string {
  return typeof id === 'string' ? id.toLowerCase() : id;
}

/**
 * Shape checks are programmer errors (wrong types): they throw. Rule breaches are result codes.
 * Ids are compared in lower case, the form PostgreSQL returns.
 */
function normalizeTransfer(input: TransferInput): TransferInput {
  if (typeof input !== 'object' || input === null) throw new TypeError('transfer must be an object');
  if (typeof input.id !== 'string') throw new TypeError('transfer.id must be a string');
  for (const key of ['amount'] as const) {
    if (input[key] !== undefined && typeof input[key] !== 'bigint')
      throw new TypeError(`transfer.${key} must be a bigint`);
  }
  for (const key of ['ledger', 'code', 'flags', 'timeoutSeconds'] as const) {
    const value = input[key];
    if (value !== undefined && !(Number.isInteger(value) && value >= 0 && value <= 2_147_483_647)) {
      throw new TypeError(`transfer.${key} must be an integer from 0 to 2^31-1`);
    }
  }
  const id = input.id.toLowerCase();
  const debitAccountId = input.debitAccountId?.toLowerCase();
  const creditAccountId = input.creditAccountId?.toLowerCase();
  const pendingId = input.pendingId?.toLowerCase();
  // Ids usually arrive in lower case already: keep the caller's object rather than copy it.
  if (
    id === input.id &&
    debitAccountId === input.debitAccountId &&
    creditAccountId === input.creditAccountId &&
    pendingId === input.pendingId
  ) {
    return input;
  }
  return { ...input, id, debitAccountId, creditAccountId, pendingId };
}
