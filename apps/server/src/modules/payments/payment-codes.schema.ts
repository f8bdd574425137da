/** Tables of customer-presented payment codes: device enrolments, used codes, cashier charges, failed guesses. */
import type { Migration } from '@yika/db';

export const paymentCodesMigrations: Migration[] = [
  {
    id: 'payments/0101_payment_codes',
    sql: `
-- One device's enrolment: the secret its codes derive from (encrypted), and the index its codes carry.
create table payment_code_devices (
  id uuid primary key,
  customer_id uuid not null,
  device_id uuid not null,
  -- 8 random digits: names the enrolment inside the code without revealing the customer.
  device_index text not null unique check (device_index ~ '^[0-9]{8}$'),
  secret_ciphertext text not null,
  status text not null check (status in ('active', 'locked', 'replaced')),
  failed_attempts integer not null default 0 check (failed_attempts >= 0),
  created_at timestamptz not null,
  ended_at timestamptz
);
create index payment_code_devices_customer on payment_code_devices (customer_id, status, created_at);

-- Single use: one row per (enrolment, time step) ever paid or presented; the key refuses a replay even
-- when two cashiers submit the same code at the same moment.
create table payment_code_uses (
  enrolment_id uuid not null,
  step bigint not null,
  charge_id uuid not null,
  created_at timestamptz not null,
  primary key (enrolment_id, step)
);

create table payment_code_charges (
  id uuid primary key,
  merchant_id uuid not null,
  customer_id uuid not null,
  enrolment_id uuid not null,
  store_id uuid,
  note text,
  amount bigint not null check (amount > 0),
  currency text not null,
  status text not null check (status in ('succeeded', 'awaiting_confirmation', 'declined')),
  -- How a succeeded charge was authorised: the code alone (counts against the no-PIN cap) or the PIN.
  authorized_by text check (authorized_by in ('payment_code', 'pin')),
  payment_id uuid unique,
  expires_at timestamptz not null,
  created_at timestamptz not null,
  completed_at timestamptz
);
create index payment_code_charges_customer on payment_code_charges (customer_id, status, created_at desc);
create index payment_code_charges_merchant on payment_code_charges (merchant_id, created_at desc);

-- Failed guesses per merchant (rate limit); the enrolment keeps its own count in failed_attempts.
create table payment_code_failures (
  merchant_id uuid not null,
  enrolment_id uuid,
  reason text not null,
  created_at timestamptz not null
);
create index payment_code_failures_merchant on payment_code_failures (merchant_id, created_at);

-- A charge's payment is an ordinary merchant payment with its own method.
alter table merchant_payments drop constraint merchant_payments_method_check;
alter table merchant_payments add constraint merchant_payments_method_check
  check (method in ('static_qr', 'dynamic_qr', 'checkout', 'payment_code'));
`,
  },
];
