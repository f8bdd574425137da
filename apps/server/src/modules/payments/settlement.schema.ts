/**
 * Tables of merchant settlement: the bank card a merchant is paid to (verified by the bank), one batch per
 * merchant and business date with its reconciliation file, and the payout attempts of each batch.
 * Amounts are bigint fen; the money itself is in the ledger.
 */
import type { Migration } from '@yika/db';

export const settlementMigrations: Migration[] = [
  {
    id: 'payments/0201_settlement',
    sql: `
-- A card verification in progress: the bank sent its code to the card's phone.
create table merchant_settlement_verifications (
  id uuid primary key,
  merchant_id uuid not null,
  bank_verification_id text not null,
  card_number_enc text not null,
  holder_name_enc text not null,
  last4 text not null,
  status text not null check (status in ('pending', 'confirmed')),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index merchant_settlement_verifications_merchant on merchant_settlement_verifications (merchant_id, created_at desc);

-- The card a merchant is paid to. A newly verified card replaces the old one; the row stays for the record.
create table merchant_settlement_accounts (
  id uuid primary key,
  merchant_id uuid not null,
  card_number_enc text not null,
  bank_token_enc text not null,
  holder_name_enc text not null,
  last4 text not null,
  status text not null check (status in ('active', 'replaced')),
  verified_at timestamptz not null default now(),
  replaced_at timestamptz
);
create unique index merchant_settlement_accounts_active on merchant_settlement_accounts (merchant_id) where status = 'active';

-- One batch per merchant and business date (the unique key makes the job safe with several processes).
-- Windows are ledger timestamps in microseconds, [window_start_us, window_end_us).
create table settlement_batches (
  id uuid primary key,
  merchant_id uuid not null,
  business_date date not null,
  window_start_us bigint not null,
  window_end_us bigint not null,
  gross bigint not null,
  refunds bigint not null,
  fees bigint not null,
  net bigint not null check (net = gross - refunds - fees),
  carried_in bigint not null,
  payout_amount bigint not null check (payout_amount >= 0),
  carried_out bigint not null check (carried_out = carried_in + net - payout_amount),
  payment_count integer not null,
  refund_count integer not null,
  status text not null check (status in ('pending', 'paid', 'failed', 'empty')),
  settlement_account_id uuid,
  card_last4 text,
  failure_reason text,
  payout_attempts integer not null default 0,
  paid_at timestamptz,
  -- The reconciliation file as issued (UTF-8 with BOM) and the SHA-256 of its bytes.
  file_csv text not null,
  file_sha256 text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (merchant_id, business_date)
);
create index settlement_batches_status on settlement_batches (status, updated_at) where status in ('pending', 'failed');

-- Each attempt to pay a batch out: its id is the bank's requestId; its hold is a pending ledger transfer.
create table settlement_payouts (
  id uuid primary key,
  batch_id uuid not null,
  amount bigint not null check (amount > 0),
  hold_transfer_id uuid not null,
  status text not null check (status in ('processing', 'succeeded', 'failed')),
  failure_reason text,
  bank_reference text,
  deadline_at timestamptz not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  completed_at timestamptz
);
create index settlement_payouts_batch on settlement_payouts (batch_id, created_at);
create index settlement_payouts_open on settlement_payouts (updated_at) where status = 'processing';
`,
  },
];
