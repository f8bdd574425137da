/** Read-side queries: lookups, an account's history page by page, and balances as of a moment. */
import type { SqlExecutor } from '@yika/db';
import { isUuid } from './ids.js';
import { ACCOUNT_COLUMNS, TRANSFER_COLUMNS, toAccount, toTransfer, type AccountRow, type TransferRow } from './rows.js';
import { TransferFlags, type Account, type AccountBalance, type Transfer } from './types.js';

/** Most ids one lookup takes; most transfers one history page returns. */
export const LOOKUP_IDS_MAX = 8_190;
export const PAGE_LIMIT_MAX = 500;

export async function lookupAccounts(db: SqlExecutor, ids: readonly string[]): Promise<Account[]> {
  const valid = checkIds(ids);
  if (valid.length === 0) return [];
  const { rows } = await db.query<AccountRow>(
    `select ${ACCOUNT_COLUMNS} from ledger_accounts where id = any($1::uuid[])`,
    [valid],
  );
  return orderLike(valid, rows.map(toAccount));
}

export async function lookupTransfers(db: SqlExecutor, ids: readonly string[]): Promise<Transfer[]> {
  const valid = checkIds(ids);
  if (valid.length === 0) return [];
  const { rows } = await db.query<TransferRow>(
    `select ${TRANSFER_COLUMNS} from ledger_transfers where id = any($1::uuid[])`,
    [valid],
  );
  return orderLike(valid, rows.map(toTransfer));
}

function checkIds(ids: readonly string[]): string[] {
  if (ids.length > LOOKUP_IDS_MAX) throw new RangeError(`at most ${LOOKUP_IDS_MAX} ids per lookup`);
  return [...new Set(ids.map((id) => id.toLowerCase()).filter(isUuid))];
}

function orderLike<T extends { id: string }>(ids: string[], items: T[]): T[] {
  const byId = new Map(items.map((item) => [item.id, item]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export interface TransferPage {
  transfers: Transfer[];
  /** Pass back as `cursor` for the next (older) page; null on the last page. */
  nextCursor: string | null;
}

export interface AccountTransfersQuery {
  limit?: number;
  cursor?: string | null;
}

/** An account's transfers, newest first. The cursor is the timestamp of the last row seen (per-account unique). */
export async function accountTransfers(
  db: SqlExecutor,
  accountId: string,
  query: AccountTransfersQuery = {},
): Promise<TransferPage> {
  const limit = Math.min(Math.max(Math.trunc(query.limit ?? 50), 1), PAGE_LIMIT_MAX);
  const before = query.cursor ? decodeCursor(query.cursor) : Number.MAX_SAFE_INTEGER;
  if (!isUuid(accountId.toLowerCase())) return { transfers: [], nextCursor: null };
  const { rows } = await db.query<TransferRow>(
    `select ${TRANSFER_COLUMNS} from (
       (select * from ledger_transfers where debit_account_id = $1 and timestamp < $2 order by timestamp desc limit $3)
       union all
       (select * from ledger_transfers where credit_account_id = $1 and timestamp < $2 order by timestamp desc limit $3)
     ) as page order by timestamp desc limit $3`,
    [accountId.toLowerCase(), String(before), limit + 1],
  );
  const transfers = rows.slice(0, limit).map(toTransfer);
  const last = transfers[transfers.length - 1];
  return { transfers, nextCursor: rows.length > limit && last ? encodeCursor(last.timestamp) : null };
}

function encodeCursor(timestamp: number): string {
  return Buffer.from(`t:${timestamp}`).toString('base64url');
}

export class InvalidCursorError extends Error {
  override name = 'InvalidCursorError';
}

function decodeCursor(cursor: string): number {
  const match = /^t:(\d{1,16})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw new InvalidCursorError('cursor is not one this ledger issued');
  return Number(match[1]);
}

/**
 * An account's four counters as they stood at `timestamp` (microseconds, inclusive), rebuilt from its
 * transfers: posted effects, pending reservations, and the resolutions that released them.
 */
export async function balanceAt(db: SqlExecutor, accountId: string, timestamp: number): Promise<AccountBalance> {
  const { rows } = await db.query<Record<'dp' | 'dpo' | 'cp' | 'cpo', string>>(
    `with mine as (
       select t.*, (t.debit_account_id = $1) as is_debit from ledger_transfers t
       where (t.debit_account_id = $1 or t.credit_account_id = $1) and t.timestamp <= $2
     ),
     released as (
       select m.is_debit, p.amount from mine m join ledger_transfers p on p.id = m.pending_id
     )
     select
       (coalesce((select sum(amount) from mine where is_debit and flags & ${TransferFlags.pending} <> 0), 0)
        - coalesce((select sum(amount) from released where is_debit), 0))::text as dp,
       coalesce((select sum(amount) from mine where is_debit and flags & ${TransferFlags.pending | TransferFlags.voidPending} = 0), 0)::text as dpo,
       (coalesce((select sum(amount) from mine where not is_debit and flags & ${TransferFlags.pending} <> 0), 0)
        - coalesce((select sum(amount) from released where not is_debit), 0))::text as cp,
       coalesce((select sum(amount) from mine where not is_debit and flags & ${TransferFlags.pending | TransferFlags.voidPending} = 0), 0)::text as cpo`,
    [accountId.toLowerCase(), String(timestamp)],
  );
  const row = rows[0]!;
  return {
    debitsPending: BigInt(row.dp),
    debitsPosted: BigInt(row.dpo),
    creditsPending: BigInt(row.cp),
    creditsPosted: BigInt(row.cpo),
  };
}

/** Most timestamps in one `postedBalancesAt` call: a page of history. */
export const BALANCE_TIMESTAMPS_MAX = 1_000;

/**
 * The account's posted balance (credits posted − debits posted) as it stood at each of `timestamps`, in one
 * query: a history page asks this once instead of once a row. Pending reservations are not in it; a post
 * adds its amount and a void adds nothing, as in `balanceAt`.
 */
export async function postedBalancesAt(
  db: SqlExecutor,
  accountId: string,
  timestamps: readonly number[],
): Promise<Map<number, bigint>> {
  if (timestamps.length > BALANCE_TIMESTAMPS_MAX) {
    throw new RangeError(`at most ${BALANCE_TIMESTAMPS_MAX} timestamps per call`);
  }
  const balances = new Map<number, bigint>();
  if (timestamps.length === 0) return balances;
  const id = accountId.toLowerCase();
  const { rows } = await db.query<{ ts: string | number | bigint; posted: string }>(
    `select q.ts, coalesce(sum(case when t.credit_account_id = $1 then t.amount else -t.amount end), 0)::text as posted
     from unnest($2::bigint[]) as q(ts)
     left join ledger_transfers t
       on (t.debit_account_id = $1 or t.credit_account_id = $1) and t.timestamp <= q.ts
      and t.flags & ${TransferFlags.pending | TransferFlags.voidPending} = 0
     group by q.ts`,
    [id, [...new Set(timestamps)].map(String)],
  );
  for (const row of rows) balances.set(Number(row.ts), BigInt(row.posted));
  return balances;
}
