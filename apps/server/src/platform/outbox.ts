/**
 * The transactional outbox: an event is inserted in the same transaction as the business rows and the
 * money it reports, so an event exists exactly when its money moved. A job hands undispatched events to
 * a handler (which, in the same transaction, turns them into deliveries) and marks them dispatched.
 */
import type { Database, Migration, SqlExecutor } from '@yika/db';
import { newId } from '@yika/ledger';

export const outboxMigrations: Migration[] = [
  {
    id: 'platform/0002_outbox_events',
    sql: `
create table outbox_events (
  id uuid primary key,
  type text not null,
  -- Who the event is about, e.g. merchant:<id>; handlers route on it.
  subject text not null,
  payload jsonb not null,
  created_at timestamptz not null default now(),
  dispatched_at timestamptz
);
create index outbox_events_undispatched on outbox_events (created_at) where dispatched_at is null;
`,
  },
];

export interface OutboxEvent {
  id: string;
  type: string;
  subject: string;
  payload: Record<string, unknown>;
  createdAt: string;
}

/** Most events one dispatch round takes. */
export const DISPATCH_BATCH_MAX = 500;

/** Appends an event inside the caller's transaction. */
export async function appendEvent(
  tx: SqlExecutor,
  event: { type: string; subject: string; payload: Record<string, unknown> },
): Promise<string> {
  const id = newId();
  await tx.query(`insert into outbox_events (id, type, subject, payload) values ($1, $2, $3, $4::jsonb)`, [
    id,
    event.type,
    event.subject,
    JSON.stringify(event.payload),
  ]);
  return id;
}

/**
 * Hands up to `limit` undispatched events, oldest first, to `handler` in one transaction and marks them
 * dispatched in it; `skip locked` lets several processes dispatch without taking the same event twice.
 */
export async function dispatchEvents(
  db: Database,
  handler: (tx: SqlExecutor, events: OutboxEvent[]) => Promise<void>,
  limit = DISPATCH_BATCH_MAX,
): Promise<number> {
  return db.transaction(async (tx) => {
    const { rows } = await tx.query<{
      id: string;
      type: string;
      subject: string;
      payload: Record<string, unknown>;
      created_at: Date | string;
    }>(
      `select id, type, subject, payload, created_at from outbox_events where dispatched_at is null
       order by created_at, id limit $1 for update skip locked`,
      [Math.min(limit, DISPATCH_BATCH_MAX)],
    );
    if (rows.length === 0) return 0;
    const events = rows.map((row) => ({
      id: row.id,
      type: row.type,
      subject: row.subject,
      payload: row.payload,
      createdAt: new Date(row.created_at).toISOString(),
    }));
    await handler(tx, events);
    await tx.query(`update outbox_events set dispatched_at = now() where id = any($1::uuid[])`, [
      events.map((event) => event.id),
    ]);
    return events.length;
  });
}
