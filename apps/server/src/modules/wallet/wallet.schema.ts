/** Tables the wallet owns. Amounts are bigint fen; a movement's money lives in the ledger, these rows say why. */
import type { Migration } from '@yika/db';

export const walletMigrations: Migration[] = [
  {
    id: 'wallet/0001_orders_and_transfers',
    sql: `
-- Top-ups from and withdrawals to a bound bank card. The order id is also the bank request id.
create table wallet_bank_orders (
  id uuid primary key,
  customer_id uuid not null,
  kind text not null check (kind in ('top_up', 'withdrawal')),
  card_id uuid not null,
  -- How the card is shown in history (bank and last four digits), copied when the order is made.
  card_label text not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  status text not null check (status in ('created', 'processing', 'succeeded', 'failed')),
  failure_reason text,
  bank_reference text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz,
  -- After this, the status query decides (a withdrawal's hold is never voided while the bank may pay).
  deadline_at timestamptz not null
);
create index wallet_bank_orders_customer on wallet_bank_orders (customer_id, created_at desc);
create index wallet_bank_orders_open on wallet_bank_orders (updated_at) where status in ('created', 'processing');

-- Transfers between customers.
create table wallet_p2p_transfers (
  id uuid primary key,
  payer_customer_id uuid not null,
  payee_customer_id uuid not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  note text,
  created_at timestamptz not null default now()
);
create index wallet_p2p_payer on wallet_p2p_transfers (payer_customer_id, created_at desc);
create index wallet_p2p_payee on wallet_p2p_transfers (payee_customer_id, created_at desc);
`,
  },
  {
    id: 'wallet/0002_payment_requests',
    sql: `
-- 收款: a customer asks to be paid, by link or QR. With an amount it is paid once; without, by anyone, any amount.
create table wallet_payment_requests (
  id uuid primary key,
  requester_customer_id uuid not null,
  amount bigint check (amount > 0),
  currency text not null,
  note text,
  status text not null check (status in ('open', 'paid')),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  paid_at timestamptz
);
create index wallet_payment_requests_requester on wallet_payment_requests (requester_customer_id, created_at desc);
alter table wallet_p2p_transfers add column payment_request_id uuid;
`,
  },
  {
    id: 'wallet/0003_risk_review',
    sql: `
-- The risk engine may send a movement to review: its money is held (a pending transfer with a timeout)
-- until an analyst approves (posted), rejects or lets it expire (voided). See docs/adr/0010.
alter table wallet_p2p_transfers add column status text not null default 'succeeded'
  check (status in ('succeeded', 'in_review', 'failed'));
-- The transfer that posted a held movement (null: the movement's own transfer posted at once).
alter table wallet_p2p_transfers add column posting_transfer_id uuid;
alter table wallet_p2p_transfers add column risk_evaluation_id uuid;
alter table wallet_bank_orders drop constraint wallet_bank_orders_status_check;
alter table wallet_bank_orders add constraint wallet_bank_orders_status_check
  check (status in ('created', 'processing', 'succeeded', 'failed', 'in_review'));
-- The risk evaluation whose outcome the bank decides (recorded when the bank answers).
alter table wallet_bank_orders add column risk_evaluation_id uuid;
`,
  },
];
