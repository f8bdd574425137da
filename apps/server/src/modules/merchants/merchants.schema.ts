/** Tables the merchants module owns: merchants, their API keys, webhook endpoints and deliveries, stores and staff. */
import type { Migration } from '@yika/db';

export const merchantsMigrations: Migration[] = [
  {
    id: 'merchants/0001_merchants_keys_webhooks',
    sql: `
create table merchants (
  id uuid primary key,
  legal_name text not null,
  display_name text not null,
  mcc text not null check (mcc ~ '^[0-9]{4}$'),
  contact_name text not null,
  contact_phone text not null,
  contact_email text,
  city text not null,
  fee_rate_bps integer not null check (fee_rate_bps between 0 and 10000),
  status text not null check (status in ('pending', 'approved', 'rejected', 'suspended')),
  status_reason text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index merchants_status on merchants (status, created_at);

-- A key is shown once: only its SHA-256 is kept. The prefix finds the row without scanning hashes.
create table merchant_api_keys (
  id uuid primary key,
  merchant_id uuid not null,
  prefix text not null unique,
  secret_hash text not null,
  label text,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index merchant_api_keys_merchant on merchant_api_keys (merchant_id, created_at desc);

-- The signing secret is encrypted at rest (DataCipher), bound to the endpoint's id.
create table merchant_webhook_endpoints (
  id uuid primary key,
  merchant_id uuid not null,
  url text not null,
  secret_ciphertext text not null,
  created_at timestamptz not null default now(),
  disabled_at timestamptz
);
create index merchant_webhook_endpoints_merchant on merchant_webhook_endpoints (merchant_id);

-- One delivery per event and endpoint (a replay is a new delivery of the same event).
create table merchant_webhook_deliveries (
  id uuid primary key,
  event_id uuid not null,
  event_type text not null,
  merchant_id uuid not null,
  endpoint_id uuid not null,
  body text not null,
  status text not null check (status in ('pending', 'succeeded', 'failed')),
  attempts integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  replay_of uuid,
  created_at timestamptz not null default now(),
  completed_at timestamptz
);
create index merchant_webhook_deliveries_due on merchant_webhook_deliveries (next_attempt_at) where status = 'pending';
create index merchant_webhook_deliveries_merchant on merchant_webhook_deliveries (merchant_id, created_at desc);

-- Every attempt, logged.
create table merchant_webhook_attempts (
  id uuid primary key,
  delivery_id uuid not null,
  attempted_at timestamptz not null default now(),
  response_status integer,
  error text,
  duration_ms integer not null
);
create index merchant_webhook_attempts_delivery on merchant_webhook_attempts (delivery_id, attempted_at);
`,
  },
  {
    id: 'merchants/0002_stores_members_notify',
    sql: `
create table merchant_stores (
  id uuid primary key,
  merchant_id uuid not null references merchants (id),
  name text not null,
  city text not null,
  created_at timestamptz not null default now(),
  closed_at timestamptz
);
create index merchant_stores_merchant on merchant_stores (merchant_id, created_at);

-- Staff are ordinary customers; a removed member keeps the row (removed_at) for the record.
create table merchant_members (
  id uuid primary key,
  merchant_id uuid not null references merchants (id),
  customer_id uuid not null,
  -- Masked when added (e.g. +86 138****8000): enough to recognise a colleague, nothing more.
  phone_masked text not null,
  role text not null check (role in ('owner', 'manager', 'cashier')),
  store_id uuid references merchant_stores (id),
  created_at timestamptz not null default now(),
  removed_at timestamptz
);
create unique index merchant_members_live on merchant_members (merchant_id, customer_id) where removed_at is null;
create index merchant_members_customer on merchant_members (customer_id) where removed_at is null;

-- The key that signs order notifications (notifyUrl), one per merchant, encrypted at rest.
create table merchant_notify_keys (
  merchant_id uuid primary key references merchants (id),
  secret_ciphertext text not null,
  created_at timestamptz not null default now()
);

-- A delivery goes to a webhook endpoint or, for an order's notification, to the order's notify URL.
alter table merchant_webhook_deliveries alter column endpoint_id drop not null;
alter table merchant_webhook_deliveries add column notify_url text;
alter table merchant_webhook_deliveries add constraint merchant_webhook_deliveries_target
  check ((endpoint_id is null) <> (notify_url is null));
`,
  },
];
