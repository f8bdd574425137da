/** Tables the risk module owns (SQL migrations, ADR 1 and 6). */
import type { Migration } from '@yika/db';

export const riskMigrations: readonly Migration[] = [
  {
    id: 'risk/0001_rules_and_events',
    sql: `
-- Rule sets are data, versioned: drafts are edited and dry-run, one version is active, old ones retired.
create table risk_rule_versions (
  version integer primary key check (version > 0),
  rules jsonb not null,
  status text not null check (status in ('draft', 'active', 'retired')),
  created_by text not null,
  created_at timestamptz not null,
  activated_by text,
  activated_at timestamptz,
  retired_at timestamptz
);
create unique index risk_rule_versions_one_active on risk_rule_versions (status) where status = 'active';

-- Every evaluated event and its decision, written in batches after the decision. The engine warms its
-- in-memory history from here at start, and dry-runs replay it. outcome: did the money move.
create table risk_events (
  id uuid primary key,
  kind text not null,
  customer_id text not null,
  amount bigint not null check (amount >= 0),
  currency text not null,
  occurred_at timestamptz not null,
  -- The whole event as evaluated (amount as a string), so a replay sees exactly what the engine saw.
  event jsonb not null,
  decision text not null check (decision in ('allow', 'challenge', 'review', 'deny')),
  reasons jsonb not null,
  rule_hits jsonb not null,
  rule_version integer not null,
  evaluated_at timestamptz not null,
  outcome text not null default 'pending' check (outcome in ('pending', 'completed', 'failed')),
  outcome_at timestamptz
);
create index risk_events_occurred on risk_events (occurred_at);
create index risk_events_customer on risk_events (customer_id, occurred_at desc);
create index risk_events_decision on risk_events (decision, occurred_at desc) where decision <> 'allow';
`,
  },
  /**
   * The review queue: a movement the engine sent to review holds its money as pending ledger transfers
   * (with a timeout) until an analyst approves (posted), rejects (voided) or nobody decides in time (expired).
   * Written in the movement's own transaction, so a hold never exists without its review row.
   */
  {
    id: 'risk/0002_reviews',
    sql: `
create table risk_reviews (
  id uuid primary key,
  evaluation_id uuid not null unique,
  kind text not null,
  -- The business row that waits: 'wallet.p2p', 'wallet.withdrawal', 'wallet.top_up', 'payments.payment', 'payments.refund'.
  subject_type text not null,
  subject_id uuid not null,
  customer_id text not null,
  amount bigint not null check (amount > 0),
  currency text not null,
  -- The pending ledger transfers holding the money (empty for a top-up: nothing moved yet).
  hold_transfer_ids jsonb not null,
  reasons jsonb not null,
  rule_hits jsonb not null,
  rule_version integer not null,
  status text not null check (status in ('pending', 'approved', 'rejected', 'expired')),
  expires_at timestamptz not null,
  created_at timestamptz not null default now(),
  decided_at timestamptz,
  decided_by text,
  decision_reason text
);
create unique index risk_reviews_subject on risk_reviews (subject_type, subject_id);
create index risk_reviews_queue on risk_reviews (status, created_at desc);
create index risk_reviews_due on risk_reviews (expires_at) where status = 'pending';
`,
  },
];
