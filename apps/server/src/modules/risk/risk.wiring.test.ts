/**
 * The risk engine wired into every money movement, over HTTP against a real database (PGlite, or
 * PostgreSQL with TEST_DATABASE_URL) and the real bank simulator: for a transfer, a merchant payment, a
 * withdrawal and a refund, each decision path (allow, challenge then completion with a second factor,
 * review then approve / reject / expiry, deny) with the held amount exact at every step (ledger balances:
 * posted and pending), the outcome the engine is told, what the customer sees in the history, and that a
 * movement that fails after its decision leaves nothing behind.
 *
 * The rules are set per test run (as an analyst would, as a new version): the amount picks the path, so
 * each case is deterministic whatever the customer's history.
 */
import { accountIdFor } from '@yika/ledger';
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { merchantSettlementAccountId } from '../merchants/index.js';
import {
  openPaymentsHarness,
  PIN,
  type PaymentsHarness,
  type TestCustomer,
  type TestMerchant,
} from '../payments/test/harness.js';
import { latestCode as readLatestCode } from '../../test/sms-inbox.js';
import { eventKinds, type RiskRuleSetInput } from './index.js';
import { activateRules } from './test/rules.js';

const OPS_TOKEN = 'ops-token-for-tests-0123456789';

/** Amount bands (fen) that pick each decision, for every kind of movement. */
const CHALLENGE = 3_100;
const REVIEW = 5_100;
const DENY = 7_100;

const band = (id: string, atLeast: number, decision: 'challenge' | 'review' | 'deny') => ({
  id,
  name: id,
  appliesTo: [...eventKinds],
  when: { type: 'amount' as const, atLeast, below: atLeast + 900 },
  decision,
  reason: {
    code: id,
    text: { 'zh-CN': `测试：${decision} {amountFen:yuan} 元`, en: `Test: ${decision} {amountFen:yuan} yuan` },
  },
});

const rules: RiskRuleSetInput = {
  lists: { blocked_phones: [], blocked_cards: [], blocked_devices: [], blocked_merchants: [], blocked_ips: [] },
  rules: [
    band('test_challenge', CHALLENGE, 'challenge'),
    band('test_review', REVIEW, 'review'),
    band('test_deny', DENY, 'deny'),
  ],
};

/** The identity clock: moved a minute on before each step-up code (one SMS code a minute per number). */
let clock = Date.now();

async function openHarness(env: Record<string, string> = {}): Promise<PaymentsHarness> {
  const harness = await openPaymentsHarness({ BANK_POLL_AFTER_MS: '0', ...env }, { now: () => new Date(clock) });
  await activateRules(harness.fixture.services.risk, rules);
  return harness;
}

let keyCounter = 0;
const newKey = () => `risk-wiring-${process.pid}-${++keyCounter}`;

function helpers(harness: () => PaymentsHarness) {
  const inject = (options: InjectOptions) => harness().fixture.app.inject(options);
  const post = (who: { headers: Record<string, string> }, url: string, payload: object, headers = {}) =>
    inject({ method: 'POST', url, headers: { ...who.headers, 'idempotency-key': newKey(), ...headers }, payload });
  const ops = (method: 'GET' | 'POST', url: string, payload?: object) =>
    inject({ method, url, headers: { authorization: `Bearer ${OPS_TOKEN}` }, ...(payload ? { payload } : {}) });

  /** Posted balance and pending debits / credits of an account, in fen. */
  async function account(id: string) {
    const [found] = await harness().fixture.ledger.lookupAccounts([id]);
    return {
      posted: found ? found.creditsPosted - found.debitsPosted : 0n,
      debitsPending: found?.debitsPending ?? 0n,
      creditsPending: found?.creditsPending ?? 0n,
    };
  }
  const wallet = (customer: TestCustomer) => account(accountIdFor('wallet', customer.customerId));
  const settlement = (merchant: TestMerchant) => account(merchantSettlementAccountId(merchant.id));

  /** The review of a subject, read through the ops route. */
  async function reviewOf(subjectId: string) {
    const response = await ops('GET', '/v1/ops/risk/reviews?status=pending&limit=100');
    expect(response.statusCode, response.body).toBe(200);
    const review = response
      .json<{ items: { id: string; subjectId: string; amount: number; status: string; evaluationId: string }[] }>()
      .items.find((item) => item.subjectId === subjectId);
    if (!review) throw new Error(`no pending review of ${subjectId}`);
    return review;
  }

  /** What the engine was told became of an evaluation (after the background writer flushed). */
  async function outcomeOf(evaluationId: string): Promise<string | undefined> {
    await harness().fixture.services.risk.flush();
    const { rows } = await harness().fixture.db.query<{ outcome: string }>(
      `select outcome from risk_events where id = $1`,
      [evaluationId],
    );
    return rows[0]?.outcome;
  }

  async function movement(customer: TestCustomer, id: string) {
    const response = await inject({ method: 'GET', url: '/v1/wallet/movements?limit=100', headers: customer.headers });
    expect(response.statusCode, response.body).toBe(200);
    return response
      .json<{ movements: { id: string; type: string; status: string; balanceAfter: number | null }[] }>()
      .movements.filter((item) => item.id === id);
  }

  async function staticPayload(merchant: TestMerchant): Promise<string> {
    const response = await inject({ method: 'GET', url: '/v1/merchant/qr-codes/static', headers: merchant.headers });
    expect(response.statusCode, response.body).toBe(200);
    return response.json<{ payload: string }>().payload;
  }

  /** A step-up SMS code, as the customer would read it. */
  async function stepUpCode(customer: TestCustomer): Promise<string> {
    clock += 61_000;
    const otp = await inject({
      method: 'POST',
      url: '/v1/me/otp',
      headers: customer.headers,
      payload: { purpose: 'step_up' },
    });
    expect(otp.statusCode, otp.body).toBe(202);
    return readLatestCode(harness().simUrl, customer.phone);
  }

  return { inject, post, ops, wallet, settlement, reviewOf, outcomeOf, movement, staticPayload, stepUpCode };
}

describe('risk decisions on every movement', () => {
  let harness: PaymentsHarness;
  const h = helpers(() => harness);

  beforeAll(async () => {
    harness = await openHarness({ OPS_API_TOKEN: OPS_TOKEN });
  }, 180_000);

  afterAll(async () => {
    if (harness) {
      expect((await harness.fixture.ledger.verify()).violations).toEqual([]);
      await harness.close();
    }
  });

  describe('a transfer', () => {
    it('allow: pays at once and records the outcome completed', async () => {
      const [payer, payee] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
      const response = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: 1_000, pin: PIN });
      expect(response.statusCode, response.body).toBe(201);
      expect(await h.wallet(payer)).toEqual({ posted: 49_000n, debitsPending: 0n, creditsPending: 0n });
      expect((await h.wallet(payee)).posted).toBe(1_000n);
      const { rows } = await harness.fixture.db.query<{ risk_evaluation_id: string }>(
        `select risk_evaluation_id from wallet_p2p_transfers where id = $1`,
        [response.json<{ id: string }>().id],
      );
      expect(await h.outcomeOf(rows[0]!.risk_evaluation_id)).toBe('completed');
    });

    it('challenge: 401 step_up_required with the reasons, then paid once an SMS code confirms it', async () => {
      const [payer, payee] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
      const asked = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: CHALLENGE, pin: PIN });
      expect(asked.statusCode, asked.body).toBe(401);
      expect(asked.json()).toMatchObject({
        code: 'step_up_required',
        reasons: [{ code: 'test_challenge', text: '测试：challenge 31.00 元' }],
      });
      expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      const code = await h.stepUpCode(payer);
      const key = 'risk-wiring-challenged-transfer';
      const body = { phone: payee.phone, amount: CHALLENGE, pin: PIN, stepUp: { otp: code } };
      const paid = await h.post(payer, '/v1/wallet/transfers', body, { 'idempotency-key': key });
      expect(paid.statusCode, paid.body).toBe(201);
      // A retry replays the answer: the (now used) code is not asked for again.
      const retried = await h.post(payer, '/v1/wallet/transfers', body, { 'idempotency-key': key });
      expect(retried.statusCode, retried.body).toBe(201);
      expect(retried.headers['idempotent-replayed']).toBe('true');
      expect(await h.wallet(payer)).toEqual({
        posted: 50_000n - BigInt(CHALLENGE),
        debitsPending: 0n,
        creditsPending: 0n,
      });
      expect((await h.wallet(payee)).posted).toBe(BigInt(CHALLENGE));
    });

    it('review → approve: held (payee sees nothing), then posted; the history follows', async () => {
      const [payer, payee] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
      const response = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: REVIEW, pin: PIN });
      expect(response.statusCode, response.body).toBe(202);
      expect(response.json()).toMatchObject({ status: 'in_review', amount: REVIEW });
      const id = response.json<{ id: string }>().id;
      expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: BigInt(REVIEW), creditsPending: 0n });
      expect(await h.wallet(payee)).toEqual({ posted: 0n, debitsPending: 0n, creditsPending: BigInt(REVIEW) });
      const balance = await h.inject({ method: 'GET', url: '/v1/wallet', headers: payer.headers });
      expect(balance.json()).toEqual({ currency: 'CNY', available: 50_000 - REVIEW, held: REVIEW });
      expect(await h.movement(payer, id)).toMatchObject([{ type: 'p2p_out', status: 'in_review', balanceAfter: null }]);
      expect(await h.movement(payee, id)).toEqual([]);

      const review = await h.reviewOf(id);
      expect(review).toMatchObject({ amount: REVIEW, status: 'pending' });
      // Not due (the hold lasts a day): the sweep leaves it alone.
      expect(await harness.fixture.services.risk.sweepExpiredReviews()).toEqual({ expired: 0 });
      const detail = await h.ops('GET', `/v1/ops/risk/reviews/${review.id}`);
      expect(detail.json()).toMatchObject({
        kind: 'p2p_transfer',
        reasons: [{ code: 'test_review', text: { en: 'Test: review 51.00 yuan' } }],
        ruleHits: [{ ruleId: 'test_review', figures: { amountFen: REVIEW } }],
      });
      const approved = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'analyst-1' });
      expect(approved.statusCode, approved.body).toBe(200);
      expect(approved.json()).toMatchObject({ status: 'approved', decidedBy: 'analyst-1' });
      expect(await h.wallet(payer)).toEqual({
        posted: 50_000n - BigInt(REVIEW),
        debitsPending: 0n,
        creditsPending: 0n,
      });
      expect(await h.wallet(payee)).toEqual({ posted: BigInt(REVIEW), debitsPending: 0n, creditsPending: 0n });
      expect(await h.movement(payer, id)).toMatchObject([
        { status: 'succeeded', balanceAfter: 50_000 - REVIEW, type: 'p2p_out' },
      ]);
      expect(await h.movement(payee, id)).toMatchObject([{ status: 'succeeded', balanceAfter: REVIEW }]);
      expect(await h.outcomeOf(review.evaluationId)).toBe('completed');
      // Deciding twice: the same answer for the same decision, a conflict for another.
      expect((await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' })).statusCode).toBe(200);
      const late = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/reject`, { analyst: 'a', reason: 'late' });
      expect(late.statusCode).toBe(409);
      expect(late.json()).toMatchObject({ code: 'risk_review_closed' });
      expect((await h.wallet(payee)).posted).toBe(BigInt(REVIEW));
      // The decision is in the audit trail, once.
      const audit = await harness.fixture.db.query<{ action: string }>(
        `select action from audit_records where subject_type = 'risk_review' and subject_id = $1`,
        [review.id],
      );
      expect(audit.rows.map((row) => row.action)).toEqual(['risk.review_approved']);
    });

    it('review → reject: the hold is released, nothing paid, and a fixed-amount request can be paid again', async () => {
      const [payer, requester] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
      const created = await h.inject({
        method: 'POST',
        url: '/v1/wallet/payment-requests',
        headers: requester.headers,
        payload: { amount: REVIEW },
      });
      expect(created.statusCode, created.body).toBe(201);
      const requestId = created.json<{ id: string }>().id;
      const response = await h.post(payer, `/v1/wallet/payment-requests/${requestId}/pay`, { pin: PIN });
      expect(response.statusCode, response.body).toBe(202);
      const id = response.json<{ id: string }>().id;
      expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: BigInt(REVIEW), creditsPending: 0n });
      const review = await h.reviewOf(id);
      const rejected = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/reject`, {
        analyst: 'analyst-2',
        reason: 'payee reported as a mule account',
      });
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(rejected.json()).toMatchObject({ status: 'rejected', decisionReason: 'payee reported as a mule account' });
      expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      expect(await h.wallet(requester)).toEqual({ posted: 0n, debitsPending: 0n, creditsPending: 0n });
      expect(await h.movement(payer, id)).toMatchObject([{ status: 'failed', balanceAfter: null }]);
      expect(await h.outcomeOf(review.evaluationId)).toBe('failed');
      const view = await h.inject({
        method: 'GET',
        url: `/v1/wallet/payment-requests/${requestId}`,
        headers: payer.headers,
      });
      expect(view.json()).toMatchObject({ status: 'open' });
    });

    it('deny: 422 risk_denied with the reason in the language asked for, nothing moves', async () => {
      const [payer, payee] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
      const zh = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: DENY, pin: PIN });
      expect(zh.statusCode, zh.body).toBe(422);
      expect(zh.json()).toMatchObject({
        code: 'risk_denied',
        reasons: [{ code: 'test_deny', text: '测试：deny 71.00 元' }],
      });
      const en = await h.post(
        payer,
        '/v1/wallet/transfers',
        { phone: payee.phone, amount: DENY, pin: PIN },
        { 'accept-language': 'en-GB,en;q=0.9,zh;q=0.5' },
      );
      expect(en.json()).toMatchObject({ code: 'risk_denied', reasons: [{ text: 'Test: deny 71.00 yuan' }] });
      expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      const { rows } = await harness.fixture.db.query(
        `select 1 from wallet_p2p_transfers where payer_customer_id = $1`,
        [payer.customerId],
      );
      expect(rows).toEqual([]);
      await harness.fixture.services.risk.flush();
      const events = await harness.fixture.db.query<{
        decision: string;
        outcome: string;
        event: { ip?: string; deviceId?: string; phone?: string; accountClass?: string; counterpartyPhone?: string };
      }>(`select decision, outcome, event from risk_events where customer_id = $1 and kind = 'p2p_transfer'`, [
        payer.customerId,
      ]);
      expect(events.rows.map((row) => [row.decision, row.outcome])).toEqual([
        ['deny', 'failed'],
        ['deny', 'failed'],
      ]);
      // The request's address and the session's device reached the engine through the request context.
      expect(events.rows[0]!.event).toMatchObject({
        ip: '127.0.0.1',
        deviceId: expect.any(String),
        phone: payer.phone,
        accountClass: 'I',
        counterpartyPhone: payee.phone,
      });
    });

    it('a held transfer that cannot be paid leaves no hold and no review, and is recorded failed', async () => {
      const [payer, payee] = [await harness.newCustomer(BigInt(REVIEW - 1)), await harness.newCustomer()];
      const response = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: REVIEW, pin: PIN });
      expect(response.statusCode, response.body).toBe(422);
      expect(response.json()).toMatchObject({ code: 'insufficient_funds' });
      expect(await h.wallet(payer)).toEqual({ posted: BigInt(REVIEW - 1), debitsPending: 0n, creditsPending: 0n });
      const { rows } = await harness.fixture.db.query(`select 1 from risk_reviews where customer_id = $1`, [
        payer.customerId,
      ]);
      expect(rows).toEqual([]);
      await harness.fixture.services.risk.flush();
      const events = await harness.fixture.db.query<{ decision: string; outcome: string }>(
        `select decision, outcome from risk_events where customer_id = $1`,
        [payer.customerId],
      );
      expect(events.rows).toEqual([{ decision: 'review', outcome: 'failed' }]);
    });
  });

  describe('a merchant payment (static QR) and its refund', () => {
    let merchant: TestMerchant;
    beforeAll(async () => {
      merchant = await harness.newMerchant(100);
    });

    const payQr = async (customer: TestCustomer, amount: number) =>
      h.post(customer, '/v1/payments/qr/pay', { payload: await h.staticPayload(merchant), amount, pin: PIN });

    it('review → approve: the payer is held, the merchant sees nothing posted, then gross and fee post', async () => {
      const customer = await harness.newCustomer(50_000n);
      const before = await h.settlement(merchant);
      const response = await payQr(customer, REVIEW);
      expect(response.statusCode, response.body).toBe(202);
      expect(response.json()).toMatchObject({ status: 'in_review', amount: REVIEW, fee: 51 });
      const id = response.json<{ id: string }>().id;
      expect(await h.wallet(customer)).toEqual({ posted: 50_000n, debitsPending: BigInt(REVIEW), creditsPending: 0n });
      expect(await h.settlement(merchant)).toEqual({
        posted: before.posted,
        debitsPending: 0n,
        creditsPending: before.creditsPending + BigInt(REVIEW),
      });
      const view = await h.inject({ method: 'GET', url: `/v1/merchant/payments/${id}`, headers: merchant.headers });
      expect(view.json()).toMatchObject({ status: 'in_review' });
      expect(await h.movement(customer, id)).toMatchObject([{ type: 'merchant_payment', status: 'in_review' }]);
      // Nothing was paid yet: nothing to refund.
      const early = await h.post(merchant, `/v1/merchant/payments/${id}/refunds`, { amount: 100 });
      expect(early.statusCode).toBe(409);
      expect(early.json()).toMatchObject({ code: 'payment_not_refundable' });

      const review = await h.reviewOf(id);
      expect((await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' })).statusCode).toBe(200);
      expect(await h.wallet(customer)).toEqual({
        posted: 50_000n - BigInt(REVIEW),
        debitsPending: 0n,
        creditsPending: 0n,
      });
      expect(await h.settlement(merchant)).toEqual({
        posted: before.posted + BigInt(REVIEW - 51),
        debitsPending: 0n,
        creditsPending: before.creditsPending,
      });
      const approved = await h.inject({ method: 'GET', url: `/v1/merchant/payments/${id}`, headers: merchant.headers });
      expect(approved.json()).toMatchObject({ status: 'succeeded' });
      expect(await h.movement(customer, id)).toMatchObject([{ status: 'succeeded', balanceAfter: 50_000 - REVIEW }]);
      const events = await harness.fixture.db.query<{ type: string; payload: { payment: { id: string } } }>(
        `select type, payload from outbox_events where subject = $1 and type = 'payment.succeeded'`,
        [`merchant:${merchant.id}`],
      );
      expect(events.rows.filter((row) => row.payload.payment.id === id)).toHaveLength(1);
      expect(await h.outcomeOf(review.evaluationId)).toBe('completed');
    });

    it('review → reject: the payer is released, the payment failed, nothing reached the merchant', async () => {
      const customer = await harness.newCustomer(50_000n);
      const before = await h.settlement(merchant);
      const response = await payQr(customer, REVIEW + 1);
      expect(response.statusCode, response.body).toBe(202);
      const id = response.json<{ id: string }>().id;
      const review = await h.reviewOf(id);
      const rejected = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/reject`, { analyst: 'a', reason: 'r' });
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(await h.wallet(customer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      expect(await h.settlement(merchant)).toEqual(before);
      const view = await h.inject({ method: 'GET', url: `/v1/merchant/payments/${id}`, headers: merchant.headers });
      expect(view.json()).toMatchObject({ status: 'failed' });
      expect(await h.movement(customer, id)).toMatchObject([{ status: 'failed', balanceAfter: null }]);
      expect(await h.outcomeOf(review.evaluationId)).toBe('failed');
    });

    it('challenge then completion, and deny, as for transfers', async () => {
      const customer = await harness.newCustomer(50_000n);
      const asked = await payQr(customer, CHALLENGE);
      expect(asked.statusCode, asked.body).toBe(401);
      expect(asked.json()).toMatchObject({ code: 'step_up_required', reasons: [{ code: 'test_challenge' }] });
      const code = await h.stepUpCode(customer);
      const paid = await h.post(customer, '/v1/payments/qr/pay', {
        payload: await h.staticPayload(merchant),
        amount: CHALLENGE,
        pin: PIN,
        stepUp: { otp: code },
      });
      expect(paid.statusCode, paid.body).toBe(201);
      const denied = await payQr(customer, DENY);
      expect(denied.statusCode, denied.body).toBe(422);
      expect(denied.json()).toMatchObject({ code: 'risk_denied', reasons: [{ code: 'test_deny' }] });
      expect(await h.wallet(customer)).toEqual({
        posted: 50_000n - BigInt(CHALLENGE),
        debitsPending: 0n,
        creditsPending: 0n,
      });
    });

    it('a refund: allowed at once; held for review then approved or rejected, exact on both sides; denied', async () => {
      const customer = await harness.newCustomer(50_000n);
      const paid = await payQr(customer, 20_000);
      expect(paid.statusCode, paid.body).toBe(201);
      const paymentId = paid.json<{ id: string }>().id;
      const refundUrl = `/v1/merchant/payments/${paymentId}/refunds`;
      const customerBefore = (await h.wallet(customer)).posted;
      const merchantBefore = await h.settlement(merchant);

      const small = await h.post(merchant, refundUrl, { amount: 1_000 });
      expect(small.statusCode, small.body).toBe(201);
      expect((await h.wallet(customer)).posted).toBe(customerBefore + 1_000n);

      const held = await h.post(merchant, refundUrl, { amount: REVIEW });
      expect(held.statusCode, held.body).toBe(202);
      expect(held.json()).toMatchObject({ status: 'in_review', amount: REVIEW });
      const heldId = held.json<{ id: string }>().id;
      const afterSmall = await h.settlement(merchant);
      expect(afterSmall.debitsPending).toBe(BigInt(REVIEW));
      expect(await h.wallet(customer)).toEqual({
        posted: customerBefore + 1_000n,
        debitsPending: 0n,
        creditsPending: BigInt(REVIEW),
      });
      expect(await h.movement(customer, heldId)).toEqual([]);
      const review = await h.reviewOf(heldId);
      expect((await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' })).statusCode).toBe(200);
      expect(await h.wallet(customer)).toEqual({
        posted: customerBefore + 1_000n + BigInt(REVIEW),
        debitsPending: 0n,
        creditsPending: 0n,
      });
      // The fee share (1 %, 51 fen) came back to the merchant with the approval.
      expect(await h.settlement(merchant)).toEqual({
        posted: afterSmall.posted - BigInt(REVIEW) + 51n,
        debitsPending: 0n,
        creditsPending: merchantBefore.creditsPending,
      });
      expect(await h.movement(customer, heldId)).toMatchObject([{ type: 'merchant_refund', status: 'succeeded' }]);
      expect(await h.outcomeOf(review.evaluationId)).toBe('completed');

      const second = await h.post(merchant, refundUrl, { amount: REVIEW + 2 });
      expect(second.statusCode, second.body).toBe(202);
      const secondId = second.json<{ id: string }>().id;
      const beforeReject = await h.settlement(merchant);
      const secondReview = await h.reviewOf(secondId);
      const rejected = await h.ops('POST', `/v1/ops/risk/reviews/${secondReview.id}/reject`, {
        analyst: 'a',
        reason: 'refund to a different card requested by phone',
      });
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(await h.settlement(merchant)).toEqual({ ...beforeReject, debitsPending: 0n });
      const list = await h.inject({ method: 'GET', url: refundUrl, headers: merchant.headers });
      expect(list.json<{ refunds: { id: string; status: string }[] }>().refunds).toEqual(
        expect.arrayContaining([expect.objectContaining({ id: secondId, status: 'failed' })]),
      );

      // A failed refund does not count against what can still be refunded.
      const payment = await h.inject({
        method: 'GET',
        url: `/v1/merchant/payments/${paymentId}`,
        headers: merchant.headers,
      });
      expect(payment.json()).toMatchObject({ refundedAmount: 1_000 + REVIEW });

      const denied = await h.post(merchant, refundUrl, { amount: DENY });
      expect(denied.statusCode, denied.body).toBe(422);
      expect(denied.json()).toMatchObject({ code: 'risk_denied' });
      // A challenge cannot be answered by a merchant: it is held for review instead.
      const challenged = await h.post(merchant, refundUrl, { amount: CHALLENGE });
      expect(challenged.statusCode, challenged.body).toBe(202);
      expect(challenged.json()).toMatchObject({ status: 'in_review' });
    });
  });

  describe('a withdrawal', () => {
    async function bindCard(customer: TestCustomer): Promise<string> {
      const started = await h.inject({
        method: 'POST',
        url: '/v1/cards/verifications',
        headers: customer.headers,
        payload: { cardNumber: luhnCard(), phone: customer.phone, holderName: '张明' },
      });
      expect(started.statusCode, started.body).toBe(201);
      const { verificationId } = started.json<{ verificationId: string }>();
      const confirmed = await h.inject({
        method: 'POST',
        url: `/v1/cards/verifications/${verificationId}/confirm`,
        headers: customer.headers,
        payload: { code: await readLatestCode(harness.simUrl, customer.phone) },
      });
      expect(confirmed.statusCode, confirmed.body).toBe(201);
      return confirmed.json<{ id: string }>().id;
    }

    async function order(customer: TestCustomer, id: string) {
      const response = await h.inject({ method: 'GET', url: `/v1/wallet/orders/${id}`, headers: customer.headers });
      return response.json<{ status: string; failureReason: string | null }>();
    }

    /** The bank's answer arrives through the status query (no callback reaches this unlistened app). */
    async function settled(customer: TestCustomer, id: string) {
      for (let round = 0; round < 200; round += 1) {
        await harness.fixture.services.wallet.pollOpenOrders();
        const current = await order(customer, id);
        if (current.status === 'succeeded' || current.status === 'failed') return current;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`order ${id} not settled`);
    }

    it('review → approve: held (not sent to the bank), then handed to the bank with the money still held, then paid', async () => {
      const customer = await harness.newCustomer(50_000n);
      const card = await bindCard(customer);
      const response = await h.post(customer, '/v1/wallet/withdrawals', { cardId: card, amount: REVIEW, pin: PIN });
      expect(response.statusCode, response.body).toBe(202);
      expect(response.json()).toMatchObject({ status: 'in_review' });
      const id = response.json<{ id: string }>().id;
      expect(await h.wallet(customer)).toEqual({ posted: 50_000n, debitsPending: BigInt(REVIEW), creditsPending: 0n });
      // The poller leaves an order in review alone: it was never sent.
      await harness.fixture.services.wallet.pollOpenOrders();
      expect(await order(customer, id)).toMatchObject({ status: 'in_review' });
      expect(await h.movement(customer, id)).toMatchObject([{ type: 'withdrawal', status: 'in_review' }]);

      const review = await h.reviewOf(id);
      expect((await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' })).statusCode).toBe(200);
      expect(await h.wallet(customer)).toMatchObject({ posted: 50_000n, debitsPending: BigInt(REVIEW) });
      // Approved is not yet paid: the bank decides, and its answer is the outcome.
      expect(await h.outcomeOf(review.evaluationId)).toBe('pending');
      expect(await settled(customer, id)).toMatchObject({ status: 'succeeded' });
      expect(await h.wallet(customer)).toEqual({
        posted: 50_000n - BigInt(REVIEW),
        debitsPending: 0n,
        creditsPending: 0n,
      });
      expect(await h.outcomeOf(review.evaluationId)).toBe('completed');
    });

    it('review → reject: released, failed as risk_rejected; allow: paid, the bank outcome recorded', async () => {
      const customer = await harness.newCustomer(50_000n);
      const card = await bindCard(customer);
      const response = await h.post(customer, '/v1/wallet/withdrawals', { cardId: card, amount: REVIEW, pin: PIN });
      expect(response.statusCode, response.body).toBe(202);
      const id = response.json<{ id: string }>().id;
      const review = await h.reviewOf(id);
      const rejected = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/reject`, { analyst: 'a', reason: 'r' });
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(await order(customer, id)).toMatchObject({ status: 'failed', failureReason: 'risk_rejected' });
      expect(await h.wallet(customer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      expect(await h.outcomeOf(review.evaluationId)).toBe('failed');

      const allowed = await h.post(customer, '/v1/wallet/withdrawals', { cardId: card, amount: 2_000, pin: PIN });
      expect(allowed.statusCode, allowed.body).toBe(202);
      const allowedId = allowed.json<{ id: string }>().id;
      expect(await settled(customer, allowedId)).toMatchObject({ status: 'succeeded' });
      expect(await h.wallet(customer)).toEqual({ posted: 48_000n, debitsPending: 0n, creditsPending: 0n });
      const { rows } = await harness.fixture.db.query<{ risk_evaluation_id: string }>(
        `select risk_evaluation_id from wallet_bank_orders where id = $1`,
        [allowedId],
      );
      expect(await h.outcomeOf(rows[0]!.risk_evaluation_id)).toBe('completed');
      await harness.fixture.services.risk.flush();
      const events = await harness.fixture.db.query<{ event: { cardFingerprint?: string } }>(
        `select event from risk_events where id = $1`,
        [rows[0]!.risk_evaluation_id],
      );
      expect(events.rows[0]!.event.cardFingerprint).toMatch(/\S{16,}/);
    });

    it('a top-up in review waits unsent (nothing to hold), then goes to the bank on approval; rejected, it fails', async () => {
      const customer = await harness.newCustomer();
      const card = await bindCard(customer);
      const held = await h.post(customer, '/v1/wallet/top-ups', { cardId: card, amount: REVIEW });
      expect(held.statusCode, held.body).toBe(202);
      expect(held.json()).toMatchObject({ status: 'in_review' });
      const id = held.json<{ id: string }>().id;
      expect(await h.wallet(customer)).toEqual({ posted: 0n, debitsPending: 0n, creditsPending: 0n });
      const review = await h.reviewOf(id);
      expect(review).toMatchObject({ amount: REVIEW });
      expect((await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' })).statusCode).toBe(200);
      expect(await settled(customer, id)).toMatchObject({ status: 'succeeded' });
      expect(await h.wallet(customer)).toEqual({ posted: BigInt(REVIEW), debitsPending: 0n, creditsPending: 0n });
      expect(await h.outcomeOf(review.evaluationId)).toBe('completed');

      const second = await h.post(customer, '/v1/wallet/top-ups', { cardId: card, amount: REVIEW });
      const secondId = second.json<{ id: string }>().id;
      const secondReview = await h.reviewOf(secondId);
      const rejected = await h.ops('POST', `/v1/ops/risk/reviews/${secondReview.id}/reject`, {
        analyst: 'a',
        reason: 'card reported stolen',
      });
      expect(rejected.statusCode, rejected.body).toBe(200);
      expect(await order(customer, secondId)).toMatchObject({ status: 'failed', failureReason: 'risk_rejected' });
      expect(await h.wallet(customer)).toEqual({ posted: BigInt(REVIEW), debitsPending: 0n, creditsPending: 0n });
      expect(await h.outcomeOf(secondReview.evaluationId)).toBe('failed');
    });

    it('deny and challenge are refused before anything is held', async () => {
      const customer = await harness.newCustomer(50_000n);
      const card = await bindCard(customer);
      const denied = await h.post(customer, '/v1/wallet/withdrawals', { cardId: card, amount: DENY, pin: PIN });
      expect(denied.statusCode, denied.body).toBe(422);
      expect(denied.json()).toMatchObject({ code: 'risk_denied' });
      const challenged = await h.post(customer, '/v1/wallet/withdrawals', {
        cardId: card,
        amount: CHALLENGE,
        pin: PIN,
      });
      expect(challenged.statusCode, challenged.body).toBe(401);
      expect(challenged.json()).toMatchObject({ code: 'step_up_required' });
      expect(await h.wallet(customer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
      const { rows } = await harness.fixture.db.query(`select 1 from wallet_bank_orders where customer_id = $1`, [
        customer.customerId,
      ]);
      expect(rows).toEqual([]);
    });
  });

  it('the ops routes need the operations token', async () => {
    const response = await h.inject({ method: 'GET', url: '/v1/ops/risk/reviews' });
    expect(response.statusCode).toBe(401);
  });
});

describe('unreviewed holds expire', () => {
  let harness: PaymentsHarness;
  const h = helpers(() => harness);

  beforeAll(async () => {
    harness = await openHarness({ OPS_API_TOKEN: OPS_TOKEN, RISK_REVIEW_HOLD_SECONDS: '3' });
  }, 180_000);

  afterAll(async () => {
    if (harness) {
      expect((await harness.fixture.ledger.verify()).violations).toEqual([]);
      await harness.close();
    }
  });

  /** What the `ledger.sweep-expired` job runs. */
  const sweep = async () => ({
    ledger: await harness.fixture.ledger.sweepExpired(),
    reviews: await harness.fixture.services.risk.sweepExpiredReviews(),
  });

  it('the sweep voids the holds of a transfer, a payment and a refund, and marks their reviews expired', async () => {
    const merchant = await harness.newMerchant(100);
    const [payer, payee, shopper] = [
      await harness.newCustomer(50_000n),
      await harness.newCustomer(),
      await harness.newCustomer(50_000n),
    ];
    const payload = await h.staticPayload(merchant);
    const paid = await h.post(shopper, '/v1/payments/qr/pay', { payload, amount: 20_000, pin: PIN });
    expect(paid.statusCode, paid.body).toBe(201);
    const settlementBefore = await h.settlement(merchant);

    const transfer = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: REVIEW, pin: PIN });
    const payment = await h.post(shopper, '/v1/payments/qr/pay', { payload, amount: REVIEW, pin: PIN });
    const refund = await h.post(merchant, `/v1/merchant/payments/${paid.json<{ id: string }>().id}/refunds`, {
      amount: REVIEW,
    });
    for (const response of [transfer, payment, refund]) expect(response.statusCode, response.body).toBe(202);
    expect((await h.wallet(payer)).debitsPending).toBe(BigInt(REVIEW));
    expect((await h.wallet(shopper)).debitsPending).toBe(BigInt(REVIEW));
    expect((await h.settlement(merchant)).debitsPending).toBe(BigInt(REVIEW));
    const reviews = await Promise.all(
      [transfer, payment, refund].map((response) => h.reviewOf(response.json<{ id: string }>().id)),
    );

    await new Promise((resolve) => setTimeout(resolve, 3_300));
    const swept = await sweep();
    expect(swept.reviews.expired).toBe(3);
    for (const review of reviews) {
      const after = await h.ops('GET', `/v1/ops/risk/reviews/${review.id}`);
      expect(after.json()).toMatchObject({ status: 'expired', decidedBy: 'system' });
      expect(await h.outcomeOf(review.evaluationId)).toBe('failed');
    }
    expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
    expect(await h.wallet(payee)).toEqual({ posted: 0n, debitsPending: 0n, creditsPending: 0n });
    expect(await h.wallet(shopper)).toEqual({ posted: 30_000n, debitsPending: 0n, creditsPending: 0n });
    expect(await h.settlement(merchant)).toEqual(settlementBefore);
    expect(await h.movement(payer, transfer.json<{ id: string }>().id)).toMatchObject([{ status: 'failed' }]);
    expect((await sweep()).reviews.expired).toBe(0);
  });

  it('an approval after the hold expired fails the movement (409 risk_review_expired) and releases the money', async () => {
    const [payer, payee] = [await harness.newCustomer(50_000n), await harness.newCustomer()];
    const transfer = await h.post(payer, '/v1/wallet/transfers', { phone: payee.phone, amount: REVIEW, pin: PIN });
    expect(transfer.statusCode, transfer.body).toBe(202);
    const review = await h.reviewOf(transfer.json<{ id: string }>().id);
    await new Promise((resolve) => setTimeout(resolve, 3_300));
    // The ledger's sweep ran first and voided the hold; the review is still pending until an analyst acts.
    expect((await harness.fixture.ledger.sweepExpired()).expired).toBeGreaterThanOrEqual(1);
    const late = await h.ops('POST', `/v1/ops/risk/reviews/${review.id}/approve`, { analyst: 'a' });
    expect(late.statusCode, late.body).toBe(409);
    expect(late.json()).toMatchObject({ code: 'risk_review_expired' });
    const after = await h.ops('GET', `/v1/ops/risk/reviews/${review.id}`);
    expect(after.json()).toMatchObject({ status: 'expired' });
    expect(await h.wallet(payer)).toEqual({ posted: 50_000n, debitsPending: 0n, creditsPending: 0n });
    expect(await h.wallet(payee)).toEqual({ posted: 0n, debitsPending: 0n, creditsPending: 0n });
    expect(await h.outcomeOf(review.evaluationId)).toBe('failed');
  });
});

let cardCounter = 0;
const salt = String(process.pid % 10_000).padStart(4, '0');
/** A Luhn-valid ICBC debit card number, different each call. */
function luhnCard(): string {
  cardCounter += 1;
  const body = `622202${salt}${String(cardCounter + 500).padStart(8, '0')}`.slice(0, 18);
  for (let check = 0; check <= 9; check += 1) {
    const candidate = body + check;
    let sum = 0;
    for (let index = 0; index < candidate.length; index += 1) {
      let digit = Number(candidate[candidate.length - 1 - index]);
      if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}
