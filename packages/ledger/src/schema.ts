import type { Migration } from '@yika/db';

/** Pending states as stored (smallint). */
export const pendingStateCodes = { pending: 1, posted: 2, voided: 3, expired: 4 } as const;

export const ledgerMigrations: Migration[] = [
  {
    id: 'ledger/0001_accounts_and_transfers',
    sql: `
create table ledger_accounts (
  id uuid primary key,
  ledger integer not null check (ledger > 0),
  code integer not null check (code > 0),
  flags integer not null default 0,
  owner_ref text,
  debits_pending bigint not null default 0 check (debits_pending >= 0),
  debits_posted bigint not null default 0 check (debits_posted >= 0),
  credits_pending bigint not null default 0 check (credits_pending >= 0),
  credits_posted bigint not null default 0 check (credits_posted >= 0),
  created_at bigint not null,
  last_transfer_at bigint not null,
  -- Defence in depth: the engine enforces the balance limits; the database refuses to store a breach.
  constraint ledger_accounts_debits_limit check (flags & 2 = 0 or debits_pending + debits_posted <= credits_posted),
  constraint ledger_accounts_credits_limit check (flags & 4 = 0 or credits_pending + credits_posted <= debits_posted)
);
create index ledger_accounts_owner on ledger_accounts (owner_ref);
create index ledger_accounts_type on ledger_accounts (ledger, code);

create table ledger_transfers (
  id uuid primary key,
  debit_account_id uuid not null,
  credit_account_id uuid not null,
  amount bigint not null check (amount >= 0),
  ledger integer not null,
  code integer not null,
  flags integer not null,
  pending_id uuid,
  timeout_seconds integer not null default 0,
  expires_at bigint,
  pending_state smallint,
  metadata jsonb,
  timestamp bigint not null
);
create index ledger_transfers_debit on ledger_transfers (debit_account_id, timestamp);
create index ledger_transfers_credit on ledger_transfers (credit_account_id, timestamp);
-- A pending transfer is resolved (posted, voided or expired) at most once.
create unique index ledger_transfers_resolution on ledger_transfers (pending_id) where pending_id is not null;
-- The timeout sweep reads only live pending transfers that can expire.
create index ledger_transfers_expiry on ledger_transfers (expires_at) where pending_state = 1 and expires_at is not null;
`,
  },
];
