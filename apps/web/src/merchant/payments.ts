/** The merchant's payments with the reporting filters (from, to, status, method) and cursor paging. */
import { call, portal, queryString } from './api.js';
import type { PaymentQuery, PaymentRow } from './types.js';

export const PAYMENT_METHODS = ['static_qr', 'dynamic_qr', 'checkout', 'payment_code'] as const;
export const PAYMENT_STATUSES = ['succeeded', 'partially_refunded', 'refunded', 'processing'] as const;
export const PAGE_SIZE = 20;

export type { PaymentRow };

/** Business dates YYYY-MM-DD (Asia/Shanghai), inclusive, and the status and method filters. */
export type PaymentFilters = Pick<PaymentQuery, 'from' | 'to' | 'status' | 'method'>;

export interface PaymentPage {
  items: PaymentRow[];
  nextCursor: string | null;
}

/** The same filters as a query string, for the CSV export link. */
export function paymentsQuery(filters: PaymentFilters): string {
  return queryString({ from: filters.from, to: filters.to, status: filters.status, method: filters.method });
}

export async function listPayments(
  filters: PaymentFilters & { cursor?: string | null; limit?: number },
): Promise<PaymentPage> {
  const { cursor, limit, ...rest } = filters;
  const query: PaymentQuery = { ...rest, limit: limit ?? PAGE_SIZE, ...(cursor ? { cursor } : {}) };
  const page = await call(portal.GET('/v1/merchant/payments', { params: { query } }));
  return { items: page.items, nextCursor: page.nextCursor ?? null };
}
