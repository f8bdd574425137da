/**
 * The review queue (ADR 10, "review"): a movement the engine sent to review holds its money as pending
 * ledger transfers with a timeout, and waits here for an analyst. The module that owns the movement
 * registers a handler per subject type that moves the held money on (approve) or lets it go (reject,
 * expiry) and marks its own row, inside the queue's transaction: the review row, the ledger and the
 * business row change together or not at all.
 */
import type { Database, SqlExecutor } from '@yika/db';
import { isUuid, newId, TransferFlags, transferId, type Ledger, type TransferInput } from '@yika/ledger';
import type { AuditTrail } from '../../platform/audit.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import type { Figures, RiskAssessment, RiskReason } from './risk.engine.js';
import type { RiskOutcome } from './risk.store.js';

export type ReviewStatus = 'pending' | 'approved' | 'rejected' | 'expired';

export interface ReviewView {
  id: string;
  evaluationId: string;
  kind: string;
  subjectType: string;
  subjectId: string;
  customerId: string;
  amount: number;
  currency: string;
  holdTransferIds: string[];
  status: ReviewStatus;
  /** What the customer was told (both languages) and the rule hits with their figures, for the analyst. */
  reasons: RiskReason[];
  ruleHits: { ruleId: string; name: string; decision: string; effectiveDecision: string; figures: Figures }[];
  ruleVersion: number;
  expiresAt: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  decisionReason: string | null;
}

/** What the owner of a held movement does when the review ends. Each runs inside the queue's transaction. */
export interface ReviewHandler {
  /**
   * Moves the held money on and marks the business row. `completed`: the money moved now; `later`: another
   * outcome decides (a withdrawal goes to the bank now); `expired`: the hold had already expired.
   */
  approve(tx: SqlExecutor, review: ReviewView): Promise<'completed' | 'later' | 'expired'>;
  /** Lets the hold go (void; an expired hold is already void) and marks the business row. */
  close(tx: SqlExecutor, review: ReviewView, outcome: 'rejected' | 'expired'): Promise<void>;
  /** After the approval committed, outside any transaction (a withdrawal is sent to the bank). */
  afterApprove?(review: ReviewView): Promise<void>;
}

export interface ReviewFilter {
  status?: ReviewStatus | undefined;
  limit?: number | undefined;
  /** The `nextCursor` of the previous page. */
  cursor?: string | undefined;
}

export const REVIEWS_PAGE_MAX = 100;

interface ReviewRow {
  id: string;
  evaluation_id: string;
  kind: string;
  subject_type: string;
  subject_id: string;
  customer_id: string;
  amount: string | number | bigint;
  currency: string;
  hold_transfer_ids: string[] | string;
  reasons: RiskReason[] | string;
  rule_hits: ReviewView['ruleHits'] | string;
  rule_version: number;
  status: ReviewStatus;
  expires_at: Date | string;
  created_at: Date | string;
  decided_at: Date | string | null;
  decided_by: string | null;
  decision_reason: string | null;
}

const json = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
const iso = (value: Date | string) => new Date(value).toISOString();

function reviewView(row: ReviewRow): ReviewView {
  return {
    id: row.id,
    evaluationId: row.evaluation_id,
    kind: row.kind,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    customerId: row.customer_id,
    amount: Number(row.amount),
    currency: row.currency,
    holdTransferIds: json(row.hold_transfer_ids),
    status: row.status,
    reasons: json(row.reasons),
    ruleHits: json(row.rule_hits),
    ruleVersion: row.rule_version,
    expiresAt: iso(row.expires_at),
    createdAt: iso(row.created_at),
    decidedAt: row.decided_at === null ? null : iso(row.decided_at),
    decidedBy: row.decided_by,
    decisionReason: row.decision_reason,
  };
}

export class RiskReviewError extends DomainError {}

const reviewClosed = (review: ReviewView) =>
  new RiskReviewError({
    code: 'risk_review_closed',
    status: 409,
    title: 'Review already decided',
    detail: `This review is ${review.status}; it can no longer be changed.`,
    extensions: { reviewStatus: review.status },
  });

const reviewExpired = () =>
  new RiskReviewError({
    code: 'risk_review_expired',
    status: 409,
    title: 'Review expired',
    detail: 'The hold expired before the decision: the money was released and the movement failed.',
  });

/**
 * Posts (or voids) held transfers, optionally with transfers before and after them, as one linked chain.
 * Returns `expired` when a hold had already expired (nothing of the chain is applied then); voiding an
 * expired hold counts as done, since the ledger already released the money.
 */
export async function resolveHolds(
  ledger: Ledger,
  tx: SqlExecutor,
  holdIds: readonly string[],
  action: 'post' | 'void',
  around: { before?: TransferInput[]; after?: TransferInput[] } = {},
): Promise<'ok' | 'expired'> {
  const resolutions: TransferInput[] = holdIds.map((pendingId) => ({
    id: transferId(pendingId, `risk.${action}`),
    pendingId,
    flags: action === 'post' ? TransferFlags.postPending : TransferFlags.voidPending,
  }));
  const chain = [...(around.before ?? []), ...resolutions, ...(around.after ?? [])];
  if (chain.length === 0) return 'ok';
  const linked = chain.map((transfer, index) =>
    index < chain.length - 1 ? { ...transfer, flags: (transfer.flags ?? 0) | TransferFlags.linked } : transfer,
  );
  const results = await ledger.createTransfers(tx, linked);
  const failed = results.filter((result) => result.result !== 'ok' && result.result !== 'exists');
  if (failed.length === 0) return 'ok';
  const expired = failed.some((result) => result.result === 'pending_transfer_expired');
  if (expired && action === 'void' && chain.length === resolutions.length) {
    // Void each on its own: the ones not yet expired still need it (a chain failed as a whole).
    for (const resolution of resolutions) {
      const [result] = await ledger.createTransfers(tx, [resolution]);
      const code = result?.result;
      if (code !== 'ok' && code !== 'exists' && code !== 'pending_transfer_expired') {
        throw new Error(`ledger refused to void hold ${resolution.pendingId}: ${code}`);
      }
    }
    return 'ok';
  }
  if (expired) return 'expired';
  throw new Error(`ledger refused to ${action} held transfers: ${failed.map((f) => `${f.id} ${f.result}`).join(', ')}`);
}

export interface ReviewQueueOptions {
  db: Database;
  ledger: Ledger | undefined;
  holdSeconds: number;
  record: (evaluationId: string, outcome: RiskOutcome) => Promise<void>;
  onRecordError: (error: unknown) => void;
  /** Every review decision is a sensitive action: recorded in the decision's transaction. */
  audit?: AuditTrail | undefined;
}

export class ReviewQueue {
  readonly #db: Database;
  readonly #ledger: Ledger | undefined;
  readonly #handlers = new Map<string, ReviewHandler>();
  readonly #record: ReviewQueueOptions['record'];
  readonly #onRecordError: (error: unknown) => void;
  readonly #audit: AuditTrail | undefined;
  readonly holdSeconds: number;

  constructor(options: ReviewQueueOptions) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.holdSeconds = options.holdSeconds;
    this.#record = options.record;
    this.#onRecordError = options.onRecordError;
    this.#audit = options.audit;
  }

  get ledger(): Ledger {
    if (!this.#ledger) throw new Error('RiskService needs the ledger to hold money for review');
    return this.#ledger;
  }

  register(subjectType: string, handler: ReviewHandler): void {
    if (this.#handlers.has(subjectType)) throw new Error(`a review handler for ${subjectType} is already registered`);
    this.#handlers.set(subjectType, handler);
  }

  /** Opens a review inside the movement's transaction; the caller has just created the holds. */
  async open(
    tx: SqlExecutor,
    input: {
      evaluationId: string;
      assessment: RiskAssessment;
      kind: string;
      customerId: string;
      amount: bigint;
      currency: string;
      subjectType: string;
      subjectId: string;
      holdTransferIds: string[];
    },
  ): Promise<string> {
    if (!this.#handlers.has(input.subjectType)) throw new Error(`no review handler for ${input.subjectType}`);
    const id = newId();
    await tx.query(
      `insert into risk_reviews (id, evaluation_id, kind, subject_type, subject_id, customer_id, amount, currency,
         hold_transfer_ids, reasons, rule_hits, rule_version, status, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11::jsonb, $12, 'pending',
         now() + ($13 || ' seconds')::interval)`,
      [
        id,
        input.evaluationId,
        input.kind,
        input.subjectType,
        input.subjectId,
        input.customerId,
        input.amount.toString(),
        input.currency,
        JSON.stringify(input.holdTransferIds),
        JSON.stringify(input.assessment.reasons),
        JSON.stringify(input.assessment.ruleHits),
        input.assessment.version,
        String(this.holdSeconds),
      ],
    );
    return id;
  }

  async list(filter: ReviewFilter): Promise<{ items: ReviewView[]; nextCursor: string | null }> {
    const limit = Math.min(Math.max(filter.limit ?? 50, 1), REVIEWS_PAGE_MAX);
    const params: unknown[] = [];
    const where: string[] = [];
    const param = (value: unknown) => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.status) where.push(`status = ${param(filter.status)}`);
    if (filter.cursor) {
      const [createdAt, id] = Buffer.from(filter.cursor, 'base64url').toString('utf8').split('|');
      if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !isUuid(id)) {
        throw new RiskReviewError({
          code: 'cursor_invalid',
          status: 400,
          title: 'Invalid cursor',
          detail: 'The cursor is not one this list returned.',
        });
      }
      where.push(`(created_at, id) < (${param(createdAt)}::timestamptz, ${param(id)}::uuid)`);
    }
    const { rows } = await this.#db.query<ReviewRow>(
      `select * from risk_reviews ${where.length ? `where ${where.join(' and ')}` : ''}
       order by created_at desc, id desc limit ${param(limit + 1)}`,
      params,
    );
    const items = rows.slice(0, limit).map(reviewView);
    const last = items.at(-1);
    const nextCursor =
      rows.length > limit && last ? Buffer.from(`${last.createdAt}|${last.id}`).toString('base64url') : null;
    return { items, nextCursor };
  }

  async get(id: string): Promise<ReviewView> {
    const row = isUuid(id)
      ? (await this.#db.query<ReviewRow>(`select * from risk_reviews where id = $1`, [id])).rows[0]
      : undefined;
    if (!row) throw new NotFoundError('No such review.');
    return reviewView(row);
  }

  /** Posts the held money (or hands it on) and marks the movement done. Approving an approved review is a no-op. */
  async approve(id: string, analyst: string): Promise<ReviewView> {
    const result = await this.#db.transaction(async (tx) => {
      const review = await this.#lock(tx, id);
      if (review.status === 'approved') return { review, outcome: 'replayed' as const };
      if (review.status !== 'pending') throw reviewClosed(review);
      const handler = this.#handler(review);
      const outcome = await handler.approve(tx, review);
      if (outcome === 'expired') {
        await handler.close(tx, review, 'expired');
        return { review: await this.#decide(tx, review.id, 'expired', 'system', 'hold expired'), outcome };
      }
      return { review: await this.#decide(tx, review.id, 'approved', analyst, null), outcome };
    });
    if (result.outcome === 'replayed') return result.review;
    if (result.outcome === 'expired') {
      await this.#recordQuietly(result.review.evaluationId, 'failed');
      throw reviewExpired();
    }
    if (result.outcome === 'completed') await this.#recordQuietly(result.review.evaluationId, 'completed');
    await this.#handler(result.review).afterApprove?.(result.review);
    return result.review;
  }

  /** Releases the held money and marks the movement failed. Rejecting a rejected review is a no-op. */
  async reject(id: string, analyst: string, reason: string): Promise<ReviewView> {
    const result = await this.#db.transaction(async (tx) => {
      const review = await this.#lock(tx, id);
      if (review.status === 'rejected') return { review, replayed: true };
      if (review.status !== 'pending') throw reviewClosed(review);
      await this.#handler(review).close(tx, review, 'rejected');
      return { review: await this.#decide(tx, review.id, 'rejected', analyst, reason), replayed: false };
    });
    if (!result.replayed) await this.#recordQuietly(result.review.evaluationId, 'failed');
    return result.review;
  }

  /** Closes reviews nobody decided before their hold's timeout (the ledger's sweep voids the holds too). */
  async sweepExpired(limit = 100): Promise<{ expired: number }> {
    const { rows } = await this.#db.query<{ id: string }>(
      `select id from risk_reviews where status = 'pending' and expires_at <= now() order by expires_at limit $1`,
      [Math.min(Math.max(limit, 1), 1_000)],
    );
    let expired = 0;
    for (const { id } of rows) {
      const review = await this.#db.transaction(async (tx) => {
        // Still undecided and still due under the row lock (an analyst may have just decided it).
        const due = await tx.query(
          `select id from risk_reviews where id = $1 and status = 'pending' and expires_at <= now() for update`,
          [id],
        );
        if (due.rows.length === 0) return null;
        const locked = await this.#lock(tx, id);
        await this.#handler(locked).close(tx, locked, 'expired');
        return this.#decide(tx, locked.id, 'expired', 'system', 'not reviewed before the hold expired');
      });
      if (review) {
        expired += 1;
        await this.#recordQuietly(review.evaluationId, 'failed');
      }
    }
    return { expired };
  }

  async #lock(tx: SqlExecutor, id: string): Promise<ReviewView> {
    const row = isUuid(id)
      ? (await tx.query<ReviewRow>(`select * from risk_reviews where id = $1 for update`, [id])).rows[0]
      : undefined;
    if (!row) throw new NotFoundError('No such review.');
    return reviewView(row);
  }

  async #decide(
    tx: SqlExecutor,
    id: string,
    status: Exclude<ReviewStatus, 'pending'>,
    by: string,
    reason: string | null,
  ): Promise<ReviewView> {
    const { rows } = await tx.query<ReviewRow>(
      `update risk_reviews set status = $2, decided_at = now(), decided_by = $3, decision_reason = $4 where id = $1 returning *`,
      [id, status, by, reason],
    );
    const review = reviewView(rows[0]!);
    await this.#audit?.record(tx, {
      action: `risk.review_${status}`,
      actor: by === 'system' ? { type: 'system', id: 'risk.sweep' } : { type: 'staff', id: by },
      subject: { type: 'risk_review', id: review.id },
      before: { status: 'pending' },
      after: { status },
      detail: {
        subjectType: review.subjectType,
        subjectId: review.subjectId,
        customerId: review.customerId,
        amount: review.amount,
        reason,
      },
    });
    return review;
  }

  #handler(review: ReviewView): ReviewHandler {
    const handler = this.#handlers.get(review.subjectType);
    if (!handler) throw new Error(`no review handler for ${review.subjectType}`);
    return handler;
  }

  /** The decision is committed: a failure to note the outcome must not turn it into an error. */
  async #recordQuietly(evaluationId: string, outcome: RiskOutcome): Promise<void> {
    await this.#record(evaluationId, outcome).catch(this.#onRecordError);
  }
}
