/**
 * A customer's movements (top-ups, withdrawals, transfers in and out) newest first, with the posted
 * balance after each, and the monthly bill. Records say what happened; the ledger says how much was there:
 * `balanceAfter` is read from the ledger as of the movement's posting transfer, and a bill's opening and
 * closing balances come from the ledger too, so a bill ties to the ledger by construction and by check.
 */
import type { SqlExecutor } from '@yika/db';
import { transferId, type Ledger } from '@yika/ledger';
import { DomainError } from '../../platform/errors.js';
import { CNY, walletAccountId } from './chart.js';

export const MOVEMENT_TYPES = [
  'top_up',
  'withdrawal',
  'p2p_out',
  'p2p_in',
  'merchant_payment',
  'merchant_refund',
] as const;
export type MovementType = (typeof MOVEMENT_TYPES)[number];

/** Movements that take money out of the wallet; the others bring it in. */
const OUTGOING: ReadonlySet<MovementType> = new Set(['withdrawal', 'p2p_out', 'merchant_payment']);

/**
 * Movements another module records (merchant payments and refunds, say): a SQL relation over that
 * module's own tables with the columns `id, type, amount (text), status, counterparty, note, created_at,
 * posting_transfer_id` for the customer `$1`. The owning module writes it; the wallet only lists it.
 */
export type MovementSourceSql = string;

export interface Movement {
  id: string;
  type: MovementType;
  /** Signed fen: positive into the wallet, negative out of it. */
  amount: number;
  currency: string;
  /** `in_review`: held by the risk engine until an analyst decides. */
  status: 'processing' | 'in_review' | 'succeeded' | 'failed';
  /** A masked counterparty: the other customer, or the card (bank code and last four digits). */
  counterparty: string | null;
  note: string | null;
  /** The wallet's posted balance right after this movement posted; null until it has. */
  balanceAfter: number | null;
  createdAt: string;
}

export interface MovementQuery {
  limit?: number;
  cursor?: string | null;
  types?: readonly MovementType[];
  from?: Date;
  to?: Date;
  minAmount?: bigint;
  maxAmount?: bigint;
}

export const MOVEMENTS_PAGE_MAX = 100;

interface MovementRow {
  id: string;
  type: MovementType;
  amount: string;
  status: Movement['status'];
  counterparty: string | null;
  note: string | null;
  created_at: Date | string;
  /** Given by other modules' sources; derived from the record for the wallet's own. */
  posting_transfer_id: string | null;
}

export class InvalidMovementCursor extends DomainError {
  constructor() {
    super({
      code: 'cursor_invalid',
      status: 400,
      title: 'Invalid cursor',
      detail: 'The cursor is not one this list returned.',
    });
  }
}

/** The wallet's own movements, as one relation. `$1` is the customer id. */
const WALLET_MOVEMENTS_SQL = `
  select o.id, o.kind as type, o.amount::text as amount,
         case when o.status in ('created', 'processing') then 'processing' else o.status end as status,
         o.card_label as counterparty, null::text as note, o.created_at, null::uuid as posting_transfer_id
  from wallet_bank_orders o
  where o.customer_id = $1
  union all
  select id, 'p2p_out', amount::text, status, payee_customer_id::text, note, created_at, posting_transfer_id
  from wallet_p2p_transfers where payer_customer_id = $1
  union all
  -- The payee sees a held transfer only once it posted.
  select id, 'p2p_in', amount::text, status, payer_customer_id::text, note, created_at, posting_transfer_id
  from wallet_p2p_transfers where payee_customer_id = $1 and status = 'succeeded'`;

/** Everything that moved a customer's money: the wallet's own movements and every registered source. */
function movementsSql(sources: readonly MovementSourceSql[]): string {
  return [WALLET_MOVEMENTS_SQL, ...sources].join('\n  union all\n');
}

function encodeCursor(row: MovementRow): string {
  return Buffer.from(`${iso(row.created_at)}|${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  const [createdAt, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !/^[0-9a-f-]{36}$/.test(id))
    throw new InvalidMovementCursor();
  return { createdAt, id };
}

/** The posting transfer of a movement: its timestamp is when `balanceAfter` is read. */
function postingTransferId(row: MovementRow): string | null {
  if (row.status !== 'succeeded') return null;
  if (row.posting_transfer_id !== null) return row.posting_transfer_id;
  switch (row.type) {
    case 'top_up':
      return transferId(row.id, 'top-up');
    case 'withdrawal':
      return transferId(row.id, 'withdrawal.post');
    case 'p2p_out':
    case 'p2p_in':
      return transferId(row.id, 'p2p');
    case 'merchant_payment':
    case 'merchant_refund':
      // Their source names the posting transfer; without it the movement cannot be placed in time.
      throw new Error(`movement ${row.id} of type ${row.type} has no posting transfer`);
  }
}

export async function listMovements(
  db: SqlExecutor,
  ledger: Ledger,
  customerId: string,
  query: MovementQuery,
  maskCustomer: (customerId: string) => Promise<string | null>,
  sources: readonly MovementSourceSql[] = [],
): Promise<{ movements: Movement[]; nextCursor: string | null }> {
  const limit = Math.min(Math.max(query.limit ?? 20, 1), MOVEMENTS_PAGE_MAX);
  const params: unknown[] = [customerId];
  const where: string[] = [];
  const param = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  if (query.cursor) {
    const cursor = decodeCursor(query.cursor);
    where.push(`(created_at, id) < (${param(cursor.createdAt)}::timestamptz, ${param(cursor.id)}::uuid)`);
  }
  if (query.types && query.types.length > 0) where.push(`type = any(${param(query.types)}::text[])`);
  if (query.from) where.push(`created_at >= ${param(query.from.toISOString())}::timestamptz`);
  if (query.to) where.push(`created_at < ${param(query.to.toISOString())}::timestamptz`);
  if (query.minAmount !== undefined) where.push(`amount::bigint >= ${param(query.minAmount.toString())}::bigint`);
  if (query.maxAmount !== undefined) where.push(`amount::bigint <= ${param(query.maxAmount.toString())}::bigint`);
  const { rows } = await db.query<MovementRow>(
    `select * from (${movementsSql(sources)}) m ${where.length ? `where ${where.join(' and ')}` : ''}
     order by created_at desc, id desc limit ${param(limit + 1)}`,
    params,
  );
  const page = rows.slice(0, limit);

  const postingIds = page.map(postingTransferId);
  const transfers = await ledger.lookupTransfers(postingIds.filter((id): id is string => id !== null));
  const timestamps = new Map(transfers.map((transfer) => [transfer.id, transfer.timestamp]));
  const balances = await ledger.postedBalancesAt(walletAccountId(customerId), [...timestamps.values()]);
  const movements = await Promise.all(
    page.map(async (row, index): Promise<Movement> => {
      const posting = postingIds[index];
      const timestamp = posting ? timestamps.get(posting) : undefined;
      const balance = timestamp === undefined ? undefined : balances.get(timestamp);
      const outgoing = OUTGOING.has(row.type);
      const isCustomer = row.type === 'p2p_in' || row.type === 'p2p_out';
      return {
        id: row.id,
        type: row.type,
        amount: Number(outgoing ? -BigInt(row.amount) : BigInt(row.amount)),
        currency: CNY.code,
        status: row.status,
        counterparty: isCustomer && row.counterparty ? await maskCustomer(row.counterparty) : row.counterparty,
        note: row.note,
        balanceAfter: balance === undefined ? null : Number(balance),
        createdAt: iso(row.created_at),
      };
    }),
  );
  const last = page.at(-1);
  return { movements, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
}

export interface MonthlyBill {
  month: string;
  currency: string;
  openingBalance: number;
  closingBalance: number;
  income: number;
  spending: number;
  byCategory: { category: MovementType; count: number; amount: number }[];
}

/**
 * The bill of a calendar month in the business time zone: succeeded movements by category, and the
 * posted balances at the month's start and end from the ledger. Opening + income − spending = closing,
 * checked here; a bill that does not tie is an incident, not a page.
 */
export async function monthlyBill(
  db: SqlExecutor,
  ledger: Ledger,
  customerId: string,
  month: string,
  timeZone: string,
  sources: readonly MovementSourceSql[] = [],
): Promise<MonthlyBill> {
  const { rows: bounds } = await db.query<{ start_at: Date | string; end_at: Date | string }>(
    `select (($1 || '-01')::timestamp at time zone $2) as start_at,
            ((($1 || '-01')::date + interval '1 month')::timestamp at time zone $2) as end_at`,
    [month, timeZone],
  );
  const start = new Date(iso(bounds[0]!.start_at));
  const end = new Date(iso(bounds[0]!.end_at));
  // A movement belongs to the month its posting transfer did, so the ledger's balances and the bill agree.
  const { rows } = await db.query<MovementRow>(
    `select * from (${movementsSql(sources)}) m where status = 'succeeded'`,
    [customerId],
  );
  const postingIds = rows.map(postingTransferId).filter((id): id is string => id !== null);
  const timestamps = new Map<string, number>();
  for (let offset = 0; offset < postingIds.length; offset += 8_000) {
    for (const transfer of await ledger.lookupTransfers(postingIds.slice(offset, offset + 8_000))) {
      timestamps.set(transfer.id, transfer.timestamp);
    }
  }
  const startMicros = start.getTime() * 1000;
  const endMicros = end.getTime() * 1000;
  const byCategory = new Map<MovementType, { count: number; amount: bigint }>();
  let income = 0n;
  let spending = 0n;
  for (const row of rows) {
    const timestamp = timestamps.get(postingTransferId(row)!);
    if (timestamp === undefined || timestamp < startMicros || timestamp >= endMicros) continue;
    const amount = BigInt(row.amount);
    if (OUTGOING.has(row.type)) spending += amount;
    else income += amount;
    const entry = byCategory.get(row.type) ?? { count: 0, amount: 0n };
    byCategory.set(row.type, { count: entry.count + 1, amount: entry.amount + amount });
  }
  const account = walletAccountId(customerId);
  const opening = await ledger.balanceAt(account, startMicros - 1);
  const closing = await ledger.balanceAt(account, endMicros - 1);
  const openingBalance = opening.creditsPosted - opening.debitsPosted;
  const closingBalance = closing.creditsPosted - closing.debitsPosted;
  if (openingBalance + income - spending !== closingBalance) {
    throw new Error(
      `bill ${month} of ${customerId} does not tie to the ledger: ${openingBalance} + ${income} - ${spending} ≠ ${closingBalance}`,
    );
  }
  return {
    month,
    currency: CNY.code,
    openingBalance: Number(openingBalance),
    closingBalance: Number(closingBalance),
    income: Number(income),
    spending: Number(spending),
    byCategory: MOVEMENT_TYPES.filter((type) => byCategory.has(type)).map((type) => ({
      category: type,
      count: byCategory.get(type)!.count,
      amount: Number(byCategory.get(type)!.amount),
    })),
  };
}

function iso(value: Date | string): string {
  return (value instanceof Date ? value : new Date(value)).toISOString();
}
