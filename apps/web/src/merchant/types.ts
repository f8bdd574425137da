/**
 * Shapes of the contract routes (settlement and reporting, payment codes) as agreed between the tasks.
 * Used with `requestJson` until the generated SDK carries them; the names match the contracts.
 */
export interface SummaryDay {
  date: string;
  amount: number;
  count: number;
  refunded: number;
}
export interface MerchantSummary {
  currency: 'CNY';
  today: { amount: number; count: number };
  days: SummaryDay[];
}

export type SettlementStatus = 'pending' | 'paid' | 'failed' | 'empty';
export interface Settlement {
  id: string;
  businessDate: string;
  gross: number;
  refunds: number;
  fees: number;
  net: number;
  payoutAmount: number;
  cardLast4: string | null;
  failureReason: string | null;
  status: SettlementStatus;
  paidAt: string | null;
  paymentCount: number;
  refundCount: number;
}

export type ChargeStatus = 'succeeded' | 'awaiting_confirmation' | 'declined' | 'expired';
export interface PaymentCodeCharge {
  id: string;
  status: ChargeStatus;
  amount: number;
  paymentId: string | null;
  createdAt: string;
}

/** Stores and staff (task "merchant staff"): `GET /v1/merchant/stores`, `GET /v1/merchant/staff`. */
export interface Store {
  id: string;
  name: string;
  city: string;
  createdAt: string;
  closedAt: string | null;
}
export interface Member {
  id: string;
  customerId: string;
  phoneMasked: string;
  role: 'owner' | 'manager' | 'cashier';
  storeId: string | null;
  createdAt: string;
}
