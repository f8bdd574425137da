/**
 * Reports for the merchant portal: takings per business date (the settlement calendar's), the payments
 * list with filters and cursor paging, and its CSV export. Read-only; a payment's status is its ledger
 * transfer's state, its refund state is the sum of its refunds. Knows nothing of HTTP.
 */
import type { Database } from '@yika/db';
import type { Ledger } from '@yika/ledger';
import { DomainError } from '../../platform/errors.js';
import { CNY, type MerchantsService } from '../merchants/index.js';
import type { PaymentView } from './payments.service.js';
import {
  addDays,
  businessDateOf,
  businessDateShiftMinutes,
  businessDateWindow,
  formatLocal,
  isBusinessDate,
  type BusinessCalendar,
} from './settlement.dates.js';
import { csvCell, yuan } from './settlement.file.js';

export const REPORT_DAYS_MAX = 366;
export const PAYMENTS_PAGE_MAX = 100;
/** Most rows in one CSV export. */
export const EXPORT_ROWS_MAX = 10_000;

export type RefundState = 'succeeded' | 'partially_refunded' | 'refunded';
/** `succeeded`/`processing` are the payment's (ledger) status; the others its refunds. */
export type StatusFilter = 'succeeded' | 'processing' | 'in_review' | 'failed' | 'partially_refunded' | 'refunded';
export type PaymentMethod = PaymentView['method'];

export interface PaymentFilters {
  /** A business date (inclusive, from its window's start) or an ISO 8601 instant (inclusive). */
  from?: string | undefined;
  /** A business date (inclusive, to its window's end) or an ISO 8601 instant (exclusive). */
  to?: string | undefined;
  /** `succeeded`: posted (refunded or not); `processing`; `partially_refunded`; `refunded`: in full. */
  status?: StatusFilter | undefined;
  method?: PaymentMethod | undefined;
  /** Only payments taken at this store (a store-bound staff member's view). */
  storeId?: string | null | undefined;
}

export interface MerchantSummary {
  currency: string;
  today: { amount: number; count: number };
  days: { date: string; amount: number; count: number; refunded: number }[];
}

export class ReportingError extends DomainError {}

const invalidCursor = () =>
  new ReportingError({
    code: 'cursor_invalid',
    status: 400,
    title: 'Invalid cursor',
    detail: 'Pass back the nextCursor of an earlier page unchanged.',
  });

interface ReportRow {
  id: string;
  merchant_id: string;
  order_id: string | null;
  method: PaymentMethod;
  amount: string | number;
  fee: string | number;
  fee_rate_bps: number;
  currency: string;
  gross_transfer_id: string;
  /** The payment's own state: `in_review` while the risk engine holds it, `failed` if rejected or expired. */
  status: 'succeeded' | 'in_review' | 'failed';
  created_at: Date | string;
  created_at_us: string;
  refunded: string;
}

export interface ReportingServiceOptions {
  db: Database;
  ledger: Ledger;
  merchants: MerchantsService;
  calendar: BusinessCalendar;
  now?: () => Date;
}

export class ReportingService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #merchants: MerchantsService;
  readonly #calendar: BusinessCalendar;
  readonly #now: () => Date;

  constructor(options: ReportingServiceOptions) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#merchants = options.merchants;
    this.#calendar = options.calendar;
    this.#now = options.now ?? (() => new Date());
  }

  /** Takings of the last `days` business dates up to today (oldest first), and today's. */
  async summary(merchantId: string, days: number, storeId: string | null = null): Promise<MerchantSummary> {
    const count = Math.min(Math.max(Math.trunc(days), 1), REPORT_DAYS_MAX);
    const today = businessDateOf(this.#calendar, this.#now().getTime());
    const first = addDays(today, -(count - 1));
    const from = new Date(businessDateWindow(this.#calendar, first).startMs);
    const to = new Date(businessDateWindow(this.#calendar, today).endMs);
    const shift = String(businessDateShiftMinutes(this.#calendar));
    const store = storeId
      ? `and exists (select 1 from payment_code_charges c where c.payment_id = p.id and c.store_id = $6)`
      : '';
    const parameters = [merchantId, from, to, shift, this.#calendar.timeZone, ...(storeId ? [storeId] : [])];
    const { rows: paid } = await this.#db.query<{ day: string; amount: string; count: string }>(
      `select to_char(((p.created_at + ($4 || ' minutes')::interval) at time zone $5)::date, 'YYYY-MM-DD') as day,
              sum(p.amount)::text as amount, count(*)::text as count
       from merchant_payments p
       where p.merchant_id = $1 and p.status = 'succeeded' and p.created_at >= $2 and p.created_at < $3 ${store}
       group by 1`,
      parameters,
    );
    const { rows: refunded } = await this.#db.query<{ day: string; amount: string }>(
      `select to_char(((r.created_at + ($4 || ' minutes')::interval) at time zone $5)::date, 'YYYY-MM-DD') as day,
              sum(r.amount)::text as amount
       from merchant_refunds r join merchant_payments p on p.id = r.payment_id
       where r.merchant_id = $1 and r.status = 'succeeded' and r.created_at >= $2 and r.created_at < $3 ${store}
       group by 1`,
      parameters,
    );
    const paidByDay = new Map(paid.map((row) => [row.day, row]));
    const refundedByDay = new Map(refunded.map((row) => [row.day, row.amount]));
    const result: MerchantSummary['days'] = [];
    for (let index = 0; index < count; index += 1) {
      const date = addDays(first, index);
      const row = paidByDay.get(date);
      result.push({
        date,
        amount: Number(row?.amount ?? 0),
        count: Number(row?.count ?? 0),
        refunded: Number(refundedByDay.get(date) ?? 0),
      });
    }
    const last = result.at(-1)!;
    return { currency: CNY.code, today: { amount: last.amount, count: last.count }, days: result };
  }

  /** Payments newest first, filtered, a page at a time. */
  async payments(
    merchantId: string,
    filters: PaymentFilters,
    page: { cursor?: string | undefined; limit?: number | undefined } = {},
  ): Promise<{ items: PaymentView[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(Math.trunc(page.limit ?? 50), 1), PAYMENTS_PAGE_MAX);
    const rows = await this.#query(merchantId, filters, limit + 1, page.cursor ? decodeCursor(page.cursor) : null);
    const items = await this.#views(merchantId, rows.slice(0, limit));
    const last = rows[limit - 1];
    return { items, nextCursor: rows.length > limit && last ? encodeCursor(last) : null };
  }

  /** The filtered payments as CSV (UTF-8 with BOM), newest first, at most EXPORT_ROWS_MAX rows. */
  async exportCsv(merchantId: string, filters: PaymentFilters): Promise<{ csv: string; truncated: boolean }> {
    const rows = await this.#query(merchantId, filters, EXPORT_ROWS_MAX + 1, null);
    const views = await this.#views(merchantId, rows.slice(0, EXPORT_ROWS_MAX));
    const lines = [
      [
        'payment_id',
        'created_at_local',
        'created_at_utc',
        'method',
        'order_id',
        'amount_yuan',
        'amount_fen',
        'fee_fen',
        'refunded_fen',
        'status',
      ].join(','),
    ];
    for (const view of views) {
      lines.push(
        [
          view.id,
          formatLocal(Date.parse(view.createdAt), this.#calendar.timeZone),
          view.createdAt,
          view.method,
          view.orderId,
          yuan(BigInt(view.amount)),
          view.amount,
          view.fee,
          view.refundedAmount,
          refundState(view.amount, view.refundedAmount),
        ]
          .map(csvCell)
          .join(','),
      );
    }
    return { csv: `\uFEFF${lines.join('\r\n')}\r\n`, truncated: rows.length > EXPORT_ROWS_MAX };
  }

  async #query(
    merchantId: string,
    filters: PaymentFilters,
    limit: number,
    after: { createdAt: string; id: string } | null,
  ): Promise<ReportRow[]> {
    const conditions = ['p.merchant_id = $1'];
    const parameters: unknown[] = [merchantId];
    const add = (condition: (placeholder: string) => string, value: unknown) => {
      parameters.push(value);
      conditions.push(condition(`$${parameters.length}`));
    };
    if (filters.from !== undefined) add((p) => `p.created_at >= ${p}`, this.#instant(filters.from, 'from'));
    if (filters.to !== undefined) add((p) => `p.created_at < ${p}`, this.#instant(filters.to, 'to'));
    if (filters.method !== undefined) add((p) => `p.method = ${p}`, filters.method);
    if (filters.storeId) {
      add(
        (p) => `exists (select 1 from payment_code_charges c where c.payment_id = p.id and c.store_id = ${p})`,
        filters.storeId,
      );
    }
    if (after) {
      parameters.push(after.createdAt, after.id);
      conditions.push(`(p.created_at, p.id) < ($${parameters.length - 1}::timestamptz, $${parameters.length}::uuid)`);
    }
    const statusCondition: Record<StatusFilter, string> = {
      succeeded: `q.status = 'succeeded'`,
      // A payment row is written in the same transaction as its ledger chain: none is ever processing.
      processing: 'false',
      in_review: `q.status = 'in_review'`,
      failed: `q.status = 'failed'`,
      partially_refunded: `q.status = 'succeeded' and q.refunded_fen > 0 and q.refunded_fen < q.amount`,
      refunded: `q.status = 'succeeded' and q.refunded_fen = q.amount`,
    };
    parameters.push(limit);
    const { rows } = await this.#db.query<ReportRow>(
      `select q.*, q.refunded_fen::text as refunded from (
         select p.id, p.merchant_id, p.order_id, p.method, p.amount, p.fee, p.fee_rate_bps, p.currency,
                p.gross_transfer_id, p.status, p.created_at,
                to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at_us,
                coalesce((select sum(r.amount) from merchant_refunds r where r.payment_id = p.id and r.status <> 'failed'), 0)::bigint as refunded_fen
         from merchant_payments p where ${conditions.join(' and ')}
       ) q
       ${filters.status ? `where ${statusCondition[filters.status]}` : ''}
       order by q.created_at desc, q.id desc limit $${parameters.length}`,
      parameters,
    );
    return rows;
  }

  #instant(value: string, what: 'from' | 'to'): Date {
    const dateOnly = /^\d{4}-\d{2}-\d{2}$/.test(value);
    // Date.parse is lenient with dates (2030-02-30 is 2 March): a date must exist on the calendar.
    let ms = dateOnly && !isBusinessDate(value) ? Number.NaN : Date.parse(value);
    if (dateOnly && inRange(ms)) {
      const window = businessDateWindow(this.#calendar, value);
      ms = what === 'from' ? window.startMs : window.endMs;
    }
    if (!inRange(ms)) {
      throw new ReportingError({
        code: 'date_invalid',
        status: 400,
        title: 'Invalid date',
        detail: `\`${what}\` must be a date YYYY-MM-DD or an ISO 8601 instant, between 1970 and 9000.`,
      });
    }
    return new Date(ms);
  }

  async #views(merchantId: string, rows: ReportRow[]): Promise<PaymentView[]> {
    if (rows.length === 0) return [];
    const posted = new Set(
      (await this.#ledger.lookupTransfers(rows.map((row) => row.gross_transfer_id))).map((transfer) => transfer.id),
    );
    const merchant = await this.#merchants.get(merchantId);
    return rows.map((row) => ({
      id: row.id,
      merchantId: row.merchant_id,
      merchantName: merchant.displayName,
      orderId: row.order_id,
      method: row.method,
      amount: Number(row.amount),
      fee: Number(row.fee),
      feeRateBps: row.fee_rate_bps,
      refundedAmount: Number(row.refunded),
      currency: row.currency,
      status: row.status !== 'succeeded' ? row.status : posted.has(row.gross_transfer_id) ? 'succeeded' : 'processing',
      createdAt: new Date(row.created_at).toISOString(),
    }));
  }
}

/** Instants the database takes without complaint: from 1970 to the year 9000. */
const INSTANT_MAX_MS = Date.UTC(9000, 0, 1);

function inRange(ms: number): boolean {
  return Number.isFinite(ms) && ms >= 0 && ms < INSTANT_MAX_MS;
}

function refundState(amount: number, refunded: number): RefundState {
  if (refunded === 0) return 'succeeded';
  return refunded >= amount ? 'refunded' : 'partially_refunded';
}

function encodeCursor(row: ReportRow): string {
  return Buffer.from(JSON.stringify([row.created_at_us, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== 'string' ||
    !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(parsed[0]) ||
    !inRange(Date.parse(parsed[0])) ||
    new Date(Date.parse(parsed[0])).toISOString().slice(0, 19) !== parsed[0].slice(0, 19) ||
    typeof parsed[1] !== 'string' ||
    !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(parsed[1])
  ) {
    throw invalidCursor();
  }
  return { createdAt: parsed[0], id: parsed[1] };
}
