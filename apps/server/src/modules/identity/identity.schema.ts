/**
 * The identity module's tables (SQL migrations, ADR 1 and 6). Personal data (name, ID number, TOTP
 * secrets) is stored only as ciphertext from platform/crypto.ts; equality look-ups go through a blind
 * index. Secrets presented by clients (session tokens, one-time codes, PINs) are stored only as hashes.
 */
import type { Migration } from '@yika/db';

export const identityMigrations: readonly Migration[] = [
  {
    id: 'identity/0001_core',
    sql: `
create table identity_customers (
  id uuid primary key,
  phone text not null unique,
  status text not null default 'active' check (status in ('active', 'frozen', 'closed')),
  frozen_by text check (frozen_by in ('customer', 'operations')),
  frozen_at timestamptz,
  closed_at timestamptz,
  account_class text not null default 'I' check (account_class in ('I', 'II', 'III')),
  real_name_ciphertext text,
  masked_name text,
  id_number_ciphertext text,
  id_number_index text unique,
  kyc_verified_at timestamptz,
  pin_hash text,
  pin_failed_attempts integer not null default 0 check (pin_failed_attempts >= 0),
  pin_locked_until timestamptz,
  pin_updated_at timestamptz,
  totp_secret_ciphertext text,
  totp_pending_secret_ciphertext text,
  totp_enabled_at timestamptz,
  totp_last_time_step bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((status = 'frozen') = (frozen_by is not null)),
  check ((kyc_verified_at is null) = (id_number_index is null))
);

create table identity_one_time_codes (
  id uuid primary key,
  phone text not null,
  purpose text not null check (purpose in ('login', 'pin_reset', 'step_up')),
  code_hash text not null,
  request_ip text not null,
  attempts integer not null default 0 check (attempts >= 0),
  expires_at timestamptz not null,
  consumed_at timestamptz,
  created_at timestamptz not null default now()
);
create index identity_one_time_codes_phone on identity_one_time_codes (phone, purpose, created_at desc);
create index identity_one_time_codes_ip on identity_one_time_codes (request_ip, created_at desc);

create table identity_devices (
  id uuid primary key,
  customer_id uuid not null references identity_customers (id),
  client_device_id text,
  name text not null,
  user_agent text,
  created_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  revoked_at timestamptz
);
create index identity_devices_customer on identity_devices (customer_id, created_at);

create table identity_sessions (
  id uuid primary key,
  customer_id uuid not null references identity_customers (id),
  device_id uuid not null references identity_devices (id),
  token_hash text not null unique,
  created_at timestamptz not null default now(),
  rotated_at timestamptz not null default now(),
  last_used_at timestamptz not null default now(),
  idle_expires_at timestamptz not null,
  absolute_expires_at timestamptz not null,
  revoked_at timestamptz
);
create index identity_sessions_device on identity_sessions (device_id);

create table identity_passkeys (
  id uuid primary key,
  customer_id uuid not null references identity_customers (id),
  credential_id text not null unique,
  public_key text not null,
  counter bigint not null default 0,
  transports text not null default '[]',
  created_at timestamptz not null default now(),
  last_used_at timestamptz
);
create index identity_passkeys_customer on identity_passkeys (customer_id);

create table identity_webauthn_challenges (
  id uuid primary key,
  customer_id uuid not null references identity_customers (id),
  purpose text not null check (purpose in ('registration', 'authentication')),
  challenge text not null,
  expires_at timestamptz not null,
  consumed_at timestamptz,
  created_at timestamptz not null default now()
);
create index identity_webauthn_challenges_customer on identity_webauthn_challenges (customer_id, purpose, created_at desc);

create table identity_events (
  id uuid primary key,
  customer_id uuid not null references identity_customers (id),
  kind text not null,
  device_id uuid,
  ip text,
  detail text not null default '{}',
  created_at timestamptz not null default now()
);
create index identity_events_customer on identity_events (customer_id, created_at desc);
`,
  },
];
