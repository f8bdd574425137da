/**
 * The risk service: judges every money movement in memory (no database access per evaluation), keeps the
 * history that velocity and "usual for this customer" rules need, writes every evaluation to `risk_events`
 * in the background, and manages rule-set versions (draft → dry-run → active → retired).
 *
 * What counts (ADR 10): every evaluation is an *attempt* (refused and abandoned ones too: card testing and
 * brute force show up there). Only `record(id, 'completed')`, called after the money moved, adds to the
 * `count` and `amount` windows and to the customer's own history (amounts, hours, devices, payees).
 */
import type { Database, SqlExecutor } from '@yika/db';
import { newId, type Ledger } from '@yika/ledger';
import type { AuditTrail } from '../../platform/audit.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { defaultRuleSet } from './risk.default-rules.js';
import { ReviewQueue, type ReviewFilter, type ReviewHandler, type ReviewView } from './risk.reviews.js';
import { RiskEngine, type RiskAssessment } from './risk.engine.js';
import { decisions, longestWindowSeconds, parseRuleSet, type RiskDecision, type RiskRuleSet } from './risk.rules.js';
import { BoundedLru, RiskState, type RiskEvent, type RiskStateLimits, type TimedEvent } from './risk.state.js';
import {
  loadEvent,
  loadEvents,
  parseJsonColumn,
  RiskEventWriter,
  type EventWriterOptions,
  type RiskOutcome,
  type RuleVersionRow,
  type StoredRiskEvent,
} from './risk.store.js';

export interface RiskEvaluation extends RiskAssessment {
  /** Give this back to `record()` once the money moved (or did not). */
  evaluationId: string;
}

export interface RiskServiceOptions {
  db: Database;
  now?: () => Date;
  /** Local time for the unusual-hour rule; Asia/Shanghai (+08:00, no daylight saving) by default. */
  utcOffsetMinutes?: number;
  limits?: Partial<RiskStateLimits>;
  /** How far back warm-up and dry-run read `risk_events` for the customers' own history. */
  historyDays?: number;
  /** Most events warm-up and dry-run read (the latest ones). */
  replayEventsMax?: number;
  writer?: Partial<Omit<EventWriterOptions, 'onError'>>;
  /** Failures of the background writer (the lead's logger); they never reach a payment. */
  onWriteError?: (error: unknown) => void;
  /** Holds money for review (posts, voids); without it a review decision cannot be carried out. */
  ledger?: Ledger;
  /** How long a review hold lasts before it expires and is voided (RISK_REVIEW_HOLD_SECONDS). */
  reviewHoldSeconds?: number;
  /** Review decisions (approve, reject, expiry) are recorded in the audit trail. */
  audit?: AuditTrail;
}

export interface RuleVersionSummary {
  version: number;
  status: 'draft' | 'active' | 'retired';
  createdBy: string;
  createdAt: Date;
  activatedBy: string | null;
  activatedAt: Date | null;
  ruleCount: number;
}

export interface DryRunExample {
  evaluationId: string;
  customerId: string;
  kind: string;
  amount: number;
  occurredAt: string;
  stored: RiskDecision;
  candidate: RiskDecision;
  ruleIds: string[];
}

export interface DryRunReport {
  since: string;
  /** Events at or after `since` that were replayed (earlier ones only warmed the history). */
  events: number;
  stored: Record<RiskDecision, number>;
  candidate: Record<RiskDecision, number>;
  /** Events whose decision would change, and how: `"allow→challenge": 12`. */
  changed: number;
  transitions: Record<string, number>;
  /** Hits per rule id under the candidate rules. */
  ruleHits: Record<string, number>;
  examples: DryRunExample[];
}

export class RiskError extends DomainError {}

const DAY_MS = 86_400_000;
/** Evaluations waiting for `record()`; older ones are forgotten (then `record` reads the stored event). */
const AWAITING_OUTCOME_MAX = 100_000;

export class RiskService {
  readonly #db: Database;
  readonly #now: () => Date;
  readonly #utcOffsetMinutes: number;
  readonly #limits: Partial<RiskStateLimits>;
  readonly #historyMs: number;
  readonly #replayEventsMax: number;
  readonly #writer: RiskEventWriter;
  readonly #awaitingOutcome = new BoundedLru<string, TimedEvent>(AWAITING_OUTCOME_MAX);
  readonly #reviews: ReviewQueue;
  #state: RiskState;
  #engine: RiskEngine | null = null;

  constructor(options: RiskServiceOptions) {
    this.#db = options.db;
    this.#now = options.now ?? (() => new Date());
    this.#utcOffsetMinutes = options.utcOffsetMinutes ?? 480;
    this.#limits = options.limits ?? {};
    this.#historyMs = (options.historyDays ?? 30) * DAY_MS;
    this.#replayEventsMax = options.replayEventsMax ?? 1_000_000;
    this.#writer = new RiskEventWriter(options.db, {
      batchMax: 1_000,
      queueMax: 100_000,
      flushIntervalMs: 100,
      attemptsMax: 5,
      ...options.writer,
      onError: options.onWriteError ?? (() => undefined),
    });
    this.#state = this.#newState(86_400);
    this.#reviews = new ReviewQueue({
      db: options.db,
      ledger: options.ledger,
      holdSeconds: options.reviewHoldSeconds ?? 86_400,
      record: (id, outcome) => this.record(id, outcome),
      onRecordError: options.onWriteError ?? (() => undefined),
      audit: options.audit,
    });
  }

  #newState(keepSeconds: number): RiskState {
    return new RiskState({ limits: this.#limits, keepSeconds, utcOffsetMinutes: this.#utcOffsetMinutes });
  }

  /** Loads the active rules (installing the default set as version 1 on an empty table), warms the history, starts the writer. */
  async start(): Promise<void> {
    const active = await this.#loadActive();
    this.#engine = new RiskEngine(active.ruleSet, active.version);
    this.#state = this.#newState(longestWindowSeconds(active.ruleSet));
    const from = new Date(this.#now().getTime() - this.#historyMs);
    this.warm(await loadEvents(this.#db, from, this.#replayEventsMax));
    this.#writer.start();
  }

  /** Writes every evaluation and outcome still queued. */
  async stop(): Promise<void> {
    await this.#writer.stop();
  }

  /** Waits until everything evaluated or recorded so far is in `risk_events` (tests, shutdown). */
  flush(): Promise<void> {
    return this.#writer.flush();
  }

  /** Replays stored events into the history, oldest first: the same calls live traffic makes. */
  warm(events: Iterable<StoredRiskEvent>): void {
    for (const stored of events) {
      this.#state.noteAttempt(stored.event);
      if (stored.outcome === 'completed') this.#state.noteCompleted(stored.event);
      else if (stored.outcome === 'pending') this.#awaitingOutcome.getOrCreate(stored.id, () => stored.event);
    }
  }

  /** Judges one money movement before it moves. Synchronous and in memory. */
  evaluate(event: RiskEvent): RiskEvaluation {
    const engine = this.#requireEngine();
    const evaluatedAt = this.#now();
    const timed: TimedEvent = { ...event, occurredAtMs: (event.occurredAt ?? evaluatedAt).getTime() };
    timed.occurredAt = new Date(timed.occurredAtMs);
    const assessment = engine.evaluate(timed, this.#state, evaluatedAt);
    const evaluationId = newId();
    this.#state.noteAttempt(timed);
    this.#awaitingOutcome.getOrCreate(evaluationId, () => timed);
    this.#writer.enqueue({
      type: 'insert',
      row: {
        id: evaluationId,
        event: timed,
        decision: assessment.decision,
        reasonCodes: assessment.reasons.map((reason) => reason.code),
        ruleHits: assessment.ruleHits.map((hit) => ({
          ruleId: hit.ruleId,
          decision: hit.effectiveDecision,
          figures: hit.figures,
        })),
        ruleVersion: assessment.version,
        evaluatedAt,
      },
    });
    return { ...assessment, evaluationId };
  }

  /**
   * Says what became of an evaluated movement: `completed` once the money moved (posted, or a review hold
   * approved), `failed` when it did not (denied, abandoned, the bank refused, a hold voided). Idempotent:
   * only the first outcome of an evaluation counts.
   */
  async record(evaluationId: string, outcome: RiskOutcome): Promise<void> {
    let event = this.#awaitingOutcome.peek(evaluationId);
    if (event === undefined) {
      // Long after the evaluation (a review approved tomorrow, or after a restart): the stored event.
      await this.#writer.flush();
      const stored = await loadEvent(this.#db, evaluationId);
      if (!stored) throw new NotFoundError(`No risk evaluation ${evaluationId}.`);
      if (stored.outcome !== 'pending') return;
      event = stored.event;
    }
    this.#awaitingOutcome.delete(evaluationId);
    if (outcome === 'completed') this.#state.noteCompleted(event);
    this.#writer.enqueue({ type: 'outcome', id: evaluationId, outcome, at: this.#now() });
  }

  // ---- the review queue (risk.reviews.ts) ----

  /** How long a review hold lasts: the `timeoutSeconds` of the pending transfers that hold the money. */
  get reviewHoldSeconds(): number {
    return this.#reviews.holdSeconds;
  }

  /** The owner of a kind of movement says how its held money moves on when a review ends. */
  onReview(subjectType: string, handler: ReviewHandler): void {
    this.#reviews.register(subjectType, handler);
  }

  /** Opens the review of a held movement, in the movement's own transaction (after its holds). */
  openReview(
    tx: SqlExecutor,
    input: {
      evaluation: RiskEvaluation;
      event: RiskEvent;
      subjectType: string;
      subjectId: string;
      holdTransferIds: string[];
    },
  ): Promise<string> {
    return this.#reviews.open(tx, {
      evaluationId: input.evaluation.evaluationId,
      assessment: input.evaluation,
      kind: input.event.kind,
      customerId: input.event.customerId,
      amount: input.event.amount,
      currency: input.event.currency,
      subjectType: input.subjectType,
      subjectId: input.subjectId,
      holdTransferIds: input.holdTransferIds,
    });
  }

  reviews(filter: ReviewFilter = {}): Promise<{ items: ReviewView[]; nextCursor: string | null }> {
    return this.#reviews.list(filter);
  }

  review(id: string): Promise<ReviewView> {
    return this.#reviews.get(id);
  }

  /** Posts the held money (records `completed` once it moved), emitting the movement's own event. */
  approve(id: string, analyst: string): Promise<ReviewView> {
    return this.#reviews.approve(id, analyst);
  }

  /** Voids the hold and fails the movement (records `failed`). */
  reject(id: string, analyst: string, reason: string): Promise<ReviewView> {
    return this.#reviews.reject(id, analyst, reason);
  }

  /** Marks reviews whose hold expired unreviewed as expired (voiding what the ledger has not), records `failed`. */
  sweepExpiredReviews(limit?: number): Promise<{ expired: number }> {
    return this.#reviews.sweepExpired(limit);
  }

  activeRules(): { version: number; ruleSet: RiskRuleSet } {
    const engine = this.#requireEngine();
    return { version: engine.version, ruleSet: engine.ruleSet };
  }

  /** Validates and stores a rule set as a new draft version; throws `RiskRulesInvalidError` naming each problem. */
  async saveDraft(rules: unknown, createdBy: string): Promise<{ version: number }> {
    const ruleSet = parseRuleSet(rules);
    return this.#db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended('risk_rule_versions', 0))`);
      const { rows } = await tx.query<{ version: number }>(
        `insert into risk_rule_versions (version, rules, status, created_by, created_at)
         select coalesce(max(version), 0) + 1, $1::jsonb, 'draft', $2, $3 from risk_rule_versions
         returning version`,
        [JSON.stringify(ruleSet), createdBy, this.#now().toISOString()],
      );
      return { version: Number(rows[0]!.version) };
    });
  }

  async versions(): Promise<RuleVersionSummary[]> {
    const { rows } = await this.#db.query<RuleVersionRow>(`select * from risk_rule_versions order by version desc`);
    return rows.map((row) => ({
      version: Number(row.version),
      status: row.status,
      createdBy: row.created_by,
      createdAt: new Date(row.created_at),
      activatedBy: row.activated_by,
      activatedAt: row.activated_at === null ? null : new Date(row.activated_at),
      ruleCount: parseRuleSet(parseJsonColumn(row.rules)).rules.length,
    }));
  }

  /** Makes a draft (or a retired version, to roll back) the active one; the previous active version retires. */
  async activate(version: number, activatedBy: string): Promise<void> {
    const ruleSet = await this.#db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended('risk_rule_versions', 0))`);
      const { rows } = await tx.query<RuleVersionRow>(`select * from risk_rule_versions where version = $1`, [version]);
      const row = rows[0];
      if (!row) throw new NotFoundError(`No rule version ${version}.`);
      if (row.status === 'active') {
        throw new RiskError({
          code: 'risk_version_active',
          status: 409,
          title: 'Rule version already active',
          detail: `Rule version ${version} is already active.`,
        });
      }
      const parsed = parseRuleSet(parseJsonColumn(row.rules));
      const at = this.#now().toISOString();
      await tx.query(`update risk_rule_versions set status = 'retired', retired_at = $1 where status = 'active'`, [at]);
      await tx.query(
        `update risk_rule_versions set status = 'active', activated_by = $2, activated_at = $3, retired_at = null where version = $1`,
        [version, activatedBy, at],
      );
      return parsed;
    });
    this.#install(ruleSet, version);
  }

  /**
   * Picks up a version another process activated (call it from a periodic job when several API
   * processes run). Returns whether the rules changed.
   */
  async refreshActiveRules(): Promise<boolean> {
    const active = await this.#loadActive();
    if (this.#engine?.version === active.version) return false;
    this.#install(active.ruleSet, active.version);
    return true;
  }

  #install(ruleSet: RiskRuleSet, version: number): void {
    this.#engine = new RiskEngine(ruleSet, version);
    this.#state.keepSeconds = longestWindowSeconds(ruleSet);
  }

  /**
   * Replays recent `risk_events` through candidate rules (a rule set, or a stored version's number) and
   * reports how decisions would change. Events from `historyDays` before `since` warm a fresh history
   * first, so velocity and "usual for this customer" rules see what they would have seen.
   */
  async dryRun(candidate: unknown, since: Date, options: { examplesMax?: number } = {}): Promise<DryRunReport> {
    const ruleSet = typeof candidate === 'number' ? await this.#loadVersion(candidate) : parseRuleSet(candidate);
    const engine = new RiskEngine(ruleSet, typeof candidate === 'number' ? candidate : 0);
    const state = this.#newState(longestWindowSeconds(ruleSet));
    const events = await loadEvents(this.#db, new Date(since.getTime() - this.#historyMs), this.#replayEventsMax);
    const report: DryRunReport = {
      since: since.toISOString(),
      events: 0,
      stored: zeroCounts(),
      candidate: zeroCounts(),
      changed: 0,
      transitions: {},
      ruleHits: {},
      examples: [],
    };
    const examplesMax = options.examplesMax ?? 20;
    for (const stored of events) {
      if (stored.event.occurredAtMs >= since.getTime()) {
        const assessment = engine.evaluate(stored.event, state, new Date(stored.event.occurredAtMs));
        tally(report, stored, assessment, examplesMax);
      }
      state.noteAttempt(stored.event);
      if (stored.outcome === 'completed') state.noteCompleted(stored.event);
    }
    return report;
  }

  /** Sizes for metrics and the bounded-memory tests. */
  stats() {
    return {
      series: Object.values(this.#state.series).reduce((sum, keys) => sum + keys.size, 0),
      seriesEvicted: Object.values(this.#state.series).reduce((sum, keys) => sum + keys.evicted, 0),
      profiles: this.#state.profiles.size,
      profilesEvicted: this.#state.profiles.evicted,
      awaitingOutcome: this.#awaitingOutcome.size,
      eventsQueued: this.#writer.queued,
      eventsWritten: this.#writer.written,
      eventsDropped: this.#writer.dropped,
    };
  }

  #requireEngine(): RiskEngine {
    if (!this.#engine) throw new Error('RiskService.start() must run before evaluating');
    return this.#engine;
  }

  async #loadVersion(version: number): Promise<RiskRuleSet> {
    const { rows } = await this.#db.query<RuleVersionRow>(`select rules from risk_rule_versions where version = $1`, [
      version,
    ]);
    if (!rows[0]) throw new NotFoundError(`No rule version ${version}.`);
    return parseRuleSet(parseJsonColumn(rows[0].rules));
  }

  async #loadActive(): Promise<{ version: number; ruleSet: RiskRuleSet }> {
    const read = async () =>
      (await this.#db.query<RuleVersionRow>(`select * from risk_rule_versions where status = 'active'`)).rows[0];
    let row = await read();
    if (!row) {
      await this.#db.query(
        `insert into risk_rule_versions (version, rules, status, created_by, created_at, activated_by, activated_at)
         select 1, $1::jsonb, 'active', 'system', $2, 'system', $2
         where not exists (select 1 from risk_rule_versions)
         on conflict do nothing`,
        [JSON.stringify(parseRuleSet(defaultRuleSet)), this.#now().toISOString()],
      );
      row = await read();
    }
    if (!row) throw new Error('risk_rule_versions has versions but none is active: activate one');
    return { version: Number(row.version), ruleSet: parseRuleSet(parseJsonColumn(row.rules)) };
  }
}

function zeroCounts(): Record<RiskDecision, number> {
  return Object.fromEntries(decisions.map((decision) => [decision, 0])) as Record<RiskDecision, number>;
}

function tally(report: DryRunReport, stored: StoredRiskEvent, assessment: RiskAssessment, examplesMax: number): void {
  report.events += 1;
  report.stored[stored.decision] += 1;
  report.candidate[assessment.decision] += 1;
  for (const hit of assessment.ruleHits) report.ruleHits[hit.ruleId] = (report.ruleHits[hit.ruleId] ?? 0) + 1;
  if (stored.decision === assessment.decision) return;
  report.changed += 1;
  const transition = `${stored.decision}→${assessment.decision}`;
  report.transitions[transition] = (report.transitions[transition] ?? 0) + 1;
  if (report.examples.length < examplesMax) {
    report.examples.push({
      evaluationId: stored.id,
      customerId: stored.event.customerId,
      kind: stored.event.kind,
      amount: Number(stored.event.amount),
      occurredAt: new Date(stored.event.occurredAtMs).toISOString(),
      stored: stored.decision,
      candidate: assessment.decision,
      ruleIds: assessment.ruleHits.map((hit) => hit.ruleId),
    });
  }
}
