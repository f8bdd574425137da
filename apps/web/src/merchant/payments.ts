/** The merchant's payments with the reporting filters (contract "settlement": from, to, status, method, cursor). */
import { queryString, requestJson, type MerchantPayment } from './api.js';

/** Methods the portal knows; `payment_code` arrives with the cashier's customer-code charges. */
export const PAYMENT_METHODS = ['static_qr', 'dynamic_qr', 'checkout', 'payment_code'] as const;
export const PAYMENT_STATUSES = ['succeeded', 'processing'] as const;
export const PAGE_SIZE = 20;

export type PaymentRow = Omit<MerchantPayment, 'method'> & { method: string };

export interface PaymentFilters {
  /** Business dates YYYY-MM-DD (Asia/Shanghai), inclusive. */
  from?: string;
  to?: string;
  status?: string;
  method?: string;
}

export interface PaymentPage {
  items: PaymentRow[];
  nextCursor: string | null;
}

export function paymentsQuery(filters: PaymentFilters & { cursor?: string | null; limit?: number }): string {
  return queryString({
    from: filters.from,
    to: filters.to,
    status: filters.status,
    method: filters.method,
    cursor: filters.cursor,
    limit: filters.limit,
  });
}

export async function listPayments(
  filters: PaymentFilters & { cursor?: string | null; limit?: number },
): Promise<PaymentPage> {
  // Until the reporting route lands the server answers `{ payments }` without paging: read both shapes.
  const page = await requestJson<Partial<PaymentPage> & { payments?: PaymentRow[] }>(
    'GET',
    `/v1/merchant/payments${paymentsQuery({ ...filters, limit: filters.limit ?? PAGE_SIZE })}`,
  );
  return { items: page.items ?? page.payments ?? [], nextCursor: page.nextCursor ?? null };
}
