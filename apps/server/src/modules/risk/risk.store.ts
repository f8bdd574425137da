/**
 * The risk module's SQL: rule versions, and `risk_events` written off the hot path by a bounded, batching
 * writer (one transaction per batch, one statement per table via `jsonb_to_recordset`).
 */
import type { Database, SqlExecutor } from '@yika/db';
import type { RiskDecision, RiskEventKind } from './risk.rules.js';
import type { RiskEvent, TimedEvent } from './risk.state.js';

export type RiskOutcome = 'completed' | 'failed';

/** One row of `risk_events` as the writer inserts it. */
export interface RiskEventRow {
  id: string;
  event: TimedEvent;
  decision: RiskDecision;
  reasonCodes: string[];
  ruleHits: { ruleId: string; decision: RiskDecision; figures: Record<string, unknown> }[];
  ruleVersion: number;
  evaluatedAt: Date;
}

/** An event as stored: what warm-up and dry-run replay. */
export interface StoredRiskEvent {
  id: string;
  event: TimedEvent;
  decision: RiskDecision;
  outcome: 'pending' | RiskOutcome;
}

interface StoredEventJson {
  kind: RiskEventKind;
  customerId: string;
  amount: string;
  currency: string;
  occurredAtMs: number;
  accountClass?: 'I' | 'II' | 'III';
  phone?: string;
  deviceId?: string;
  ip?: string;
  cardFingerprint?: string;
  merchantId?: string;
  counterpartyId?: string;
  counterpartyPhone?: string;
  stepUpVerified?: boolean;
}

function eventToJson(event: TimedEvent): StoredEventJson {
  const { occurredAt: _occurredAt, amount, ...rest } = event;
  return { ...(rest as Omit<StoredEventJson, 'amount'>), amount: amount.toString() };
}

export function eventFromJson(json: StoredEventJson): TimedEvent {
  const { amount, occurredAtMs, ...rest } = json;
  const event: TimedEvent = { ...(rest as Omit<RiskEvent, 'amount'>), amount: BigInt(amount), occurredAtMs };
  event.occurredAt = new Date(occurredAtMs);
  return event;
}

export interface EventWriterOptions {
  /** Rows per transaction. */
  batchMax: number;
  /** Rows waiting at most; past it new rows are dropped and counted (payments never wait on this table). */
  queueMax: number;
  flushIntervalMs: number;
  /** A batch that fails is retried this many times, then dropped and counted. */
  attemptsMax: number;
  onError: (error: unknown) => void;
}

type Write = { type: 'insert'; row: RiskEventRow } | { type: 'outcome'; id: string; outcome: RiskOutcome; at: Date };

export class RiskEventWriter {
  readonly #db: Database;
  readonly #options: EventWriterOptions;
  #queue: Write[] = [];
  #timer: NodeJS.Timeout | null = null;
  #flushing: Promise<void> | null = null;
  #failedAttempts = 0;
  #flushScheduled = false;
  dropped = 0;
  written = 0;

  constructor(db: Database, options: EventWriterOptions) {
    this.#db = db;
    this.#options = options;
  }

  get queued(): number {
    return this.#queue.length;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.#flushInBackground(), this.#options.flushIntervalMs);
    this.#timer.unref();
  }

  enqueue(write: Write): void {
    if (this.#queue.length >= this.#options.queueMax) {
      this.dropped += 1;
      return;
    }
    this.#queue.push(write);
    // Never inside the caller's turn: evaluate() stays free of database work, even the first step of it.
    if (this.#queue.length === this.#options.batchMax && !this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flushInBackground();
      });
    }
  }

  #flushInBackground(): void {
    this.flush().catch(this.#options.onError);
  }

  /** Writes what is queued now; resolves when it is stored (or dropped after repeated failures). */
  async flush(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length === 0) return;
    this.#flushing = this.#writeAll().finally(() => {
      this.#flushing = null;
    });
    await this.#flushing;
  }

  async #writeAll(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.slice(0, this.#options.batchMax);
      try {
        await this.#db.transaction((tx) => writeBatch(tx, batch));
        this.written += batch.length;
        this.#failedAttempts = 0;
      } catch (error) {
        this.#options.onError(error);
        this.#failedAttempts += 1;
        if (this.#failedAttempts < this.#options.attemptsMax) return; // retried on the next tick
        this.dropped += batch.length;
        this.#failedAttempts = 0;
      }
      this.#queue = this.#queue.slice(batch.length);
    }
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    // Retries a failing batch up to attemptsMax times before giving up on it.
    for (let attempt = 0; attempt < this.#options.attemptsMax && this.#queue.length > 0; attempt += 1) {
      await this.flush();
    }
  }
}

async function writeBatch(tx: SqlExecutor, batch: readonly Write[]): Promise<void> {
  const inserts = batch.flatMap((write) => (write.type === 'insert' ? [write.row] : []));
  const outcomes = batch.flatMap((write) => (write.type === 'outcome' ? [write] : []));
  if (inserts.length > 0) {
    const rows = inserts.map((row) => ({
      id: row.id,
      kind: row.event.kind,
      customer_id: row.event.customerId,
      amount: row.event.amount.toString(),
      currency: row.event.currency,
      occurred_at: new Date(row.event.occurredAtMs).toISOString(),
      event: eventToJson(row.event),
      decision: row.decision,
      reasons: row.reasonCodes,
      rule_hits: row.ruleHits,
      rule_version: row.ruleVersion,
      evaluated_at: row.evaluatedAt.toISOString(),
    }));
    await tx.query(
      `insert into risk_events (id, kind, customer_id, amount, currency, occurred_at, event, decision, reasons, rule_hits, rule_version, evaluated_at)
       select id, kind, customer_id, amount, currency, occurred_at, event, decision, reasons, rule_hits, rule_version, evaluated_at
       from jsonb_to_recordset($1::jsonb) as r(id uuid, kind text, customer_id text, amount bigint, currency text,
         occurred_at timestamptz, event jsonb, decision text, reasons jsonb, rule_hits jsonb, rule_version integer, evaluated_at timestamptz)
       on conflict (id) do nothing`,
      [JSON.stringify(rows)],
    );
  }
  if (outcomes.length > 0) {
    const rows = outcomes.map((write) => ({
      id: write.id,
      outcome: write.outcome,
      outcome_at: write.at.toISOString(),
    }));
    // Only a pending event takes an outcome: a second record of the same event changes nothing.
    await tx.query(
      `update risk_events e set outcome = r.outcome, outcome_at = r.outcome_at
       from jsonb_to_recordset($1::jsonb) as r(id uuid, outcome text, outcome_at timestamptz)
       where e.id = r.id and e.outcome = 'pending'`,
      [JSON.stringify(rows)],
    );
  }
}

interface EventRow {
  id: string;
  event: StoredEventJson | string;
  decision: RiskDecision;
  outcome: 'pending' | RiskOutcome;
}

function storedEvent(row: EventRow): StoredRiskEvent {
  const json = typeof row.event === 'string' ? (JSON.parse(row.event) as StoredEventJson) : row.event;
  return { id: row.id, event: eventFromJson(json), decision: row.decision, outcome: row.outcome };
}

/** The latest `limit` events since `from`, oldest first: what warm-up and dry-run replay. */
export async function loadEvents(db: SqlExecutor, from: Date, limit: number): Promise<StoredRiskEvent[]> {
  const { rows } = await db.query<EventRow>(
    `select id, event, decision, outcome from (
       select id, event, decision, outcome, occurred_at from risk_events where occurred_at >= $1
       order by occurred_at desc, id desc limit $2
     ) latest order by occurred_at, id`,
    [from.toISOString(), limit],
  );
  return rows.map(storedEvent);
}

export async function loadEvent(db: SqlExecutor, id: string): Promise<StoredRiskEvent | null> {
  const { rows } = await db.query<EventRow>(`select id, event, decision, outcome from risk_events where id = $1`, [id]);
  return rows[0] ? storedEvent(rows[0]) : null;
}

export interface RuleVersionRow {
  version: number;
  rules: unknown;
  status: 'draft' | 'active' | 'retired';
  created_by: string;
  created_at: Date | string;
  activated_by: string | null;
  activated_at: Date | string | null;
}

export function parseJsonColumn(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}
