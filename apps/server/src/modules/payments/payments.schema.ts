/** Tables the payments module owns. Amounts are bigint fen; the money lives in the ledger, these say why. */
import type { Migration } from '@yika/db';

export const paymentsMigrations: Migration[] = [
  {
    id: 'payments/0001_orders_payments_refunds',
    sql: `
-- An order to pay a fixed amount once: a dynamic QR code or an online checkout.
create table payment_orders (
  id uuid primary key,
  merchant_id uuid not null,
  channel text not null check (channel in ('qr', 'checkout')),
  -- Carried in the QR code (EMVCo 62.05, at most 25 characters): the id in base64url.
  reference text not null unique,
  amount bigint not null check (amount > 0),
  currency text not null,
  description text,
  merchant_order_no text,
  notify_url text,
  return_url text,
  status text not null check (status in ('open', 'paid', 'closed')),
  payment_id uuid,
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index payment_orders_merchant on payment_orders (merchant_id, created_at desc);
create unique index payment_orders_merchant_order_no on payment_orders (merchant_id, merchant_order_no)
  where merchant_order_no is not null;

create table merchant_payments (
  id uuid primary key,
  merchant_id uuid not null,
  -- At most one payment per order: the single-use rule, also enforced here.
  order_id uuid unique,
  method text not null check (method in ('static_qr', 'dynamic_qr', 'checkout')),
  customer_id uuid not null,
  payer_account_id uuid not null,
  amount bigint not null check (amount > 0),
  fee bigint not null check (fee >= 0 and fee <= amount),
  fee_rate_bps integer not null,
  currency text not null,
  gross_transfer_id uuid not null,
  fee_transfer_id uuid,
  created_at timestamptz not null default now()
);
create index merchant_payments_merchant on merchant_payments (merchant_id, created_at desc);
create index merchant_payments_customer on merchant_payments (customer_id, created_at desc);

create table merchant_refunds (
  id uuid primary key,
  payment_id uuid not null,
  merchant_id uuid not null,
  amount bigint not null check (amount > 0),
  fee_share bigint not null check (fee_share >= 0),
  reason text,
  gross_transfer_id uuid not null,
  fee_transfer_id uuid,
  created_at timestamptz not null default now()
);
create index merchant_refunds_payment on merchant_refunds (payment_id, created_at);
`,
  },
  {
    id: 'payments/0002_risk_review',
    sql: `
-- A payment or refund the risk engine sent to review: its gross transfer is pending (the money held) until
-- an analyst approves (posted, then the fee part follows) or rejects / lets it expire (voided). ADR 10.
alter table merchant_payments add column status text not null default 'succeeded'
  check (status in ('succeeded', 'in_review', 'failed'));
alter table merchant_payments add column posted_transfer_id uuid;
alter table merchant_refunds add column status text not null default 'succeeded'
  check (status in ('succeeded', 'in_review', 'failed'));
alter table merchant_refunds add column posted_transfer_id uuid;
`,
  },
];
