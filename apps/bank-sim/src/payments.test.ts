import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyCallbackSignature } from './signature.js';
import {
  bindCard,
  CALLBACK_SECRET,
  eventually,
  sleep,
  startReceiver,
  startSim,
  testCard,
  type Receiver,
  type Sim,
} from './test/harness.js';

const PHONE = '+8613700000001';

describe('payments', () => {
  let sim: Sim;
  let receiver: Receiver;
  let token: string;
  let cardNumber = 0;
  let requestNumber = 0;
  const pay = (body: Record<string, unknown> = {}) =>
    sim.call('POST', '/v1/payments', {
      requestId: `pay-${++requestNumber}`,
      kind: 'debit',
      cardToken: token,
      amount: 100,
      currency: 'CNY',
      callbackUrl: receiver.url,
      ...body,
    });
  const settled = (requestId: string) =>
    eventually(async () => {
      const status = await sim.call('GET', `/v1/payments/${requestId}`);
      return status.body.status === 'processing' ? undefined : status.body;
    });

  beforeAll(async () => {
    // Every card opens with 1,000.00 CNY (100000 fen).
    sim = await startSim({ cardBalance: 100_000 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });
  beforeEach(async () => {
    await sim.call('POST', '/admin/reset');
    receiver.clear();
    token = await bindCard(sim, testCard(++cardNumber), PHONE);
  });

  it('debits a card and reports success by a signed callback', async () => {
    const accepted = await pay({ requestId: 'debit-ok', amount: 2_500 });
    expect(accepted).toEqual({ status: 202, body: { requestId: 'debit-ok', status: 'processing' } });
    const [callback] = await receiver.waitFor(1);
    expect(
      verifyCallbackSignature(
        CALLBACK_SECRET,
        callback!.headers['x-bank-signature'] as string,
        callback!.rawBody,
        Date.now() / 1000,
      ),
    ).toBe(true);
    expect(callback!.body).toEqual({
      requestId: 'debit-ok',
      kind: 'debit',
      status: 'succeeded',
      bankReference: expect.any(String),
      amount: 2_500,
      currency: 'CNY',
      completedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const status = await sim.call('GET', '/v1/payments/debit-ok');
    expect(status).toEqual({
      status: 200,
      body: {
        requestId: 'debit-ok',
        kind: 'debit',
        status: 'succeeded',
        bankReference: callback!.body.bankReference,
        amount: 2_500,
        currency: 'CNY',
      },
    });
  });

  it('fails a debit larger than the balance with insufficient_funds', async () => {
    await pay({ requestId: 'too-much', amount: 100_001 });
    const [callback] = await receiver.waitFor(1);
    expect(callback!.body).toMatchObject({ status: 'failed', reason: 'insufficient_funds' });
    expect(await settled('too-much')).toMatchObject({ status: 'failed', reason: 'insufficient_funds' });
  });

  it('never moves money twice for a resubmitted requestId', async () => {
    await pay({ requestId: 'once', amount: 40_000 });
    const again = await pay({ requestId: 'once', amount: 40_000 });
    expect(again.status).toBe(202);
    await settled('once');
    const afterSettled = await pay({ requestId: 'once', amount: 40_000 });
    expect(afterSettled).toEqual({ status: 202, body: { requestId: 'once', status: 'succeeded' } });
    // 60,000 left only if "once" was debited once: this takes all of it, and one fen more fails.
    await pay({ requestId: 'rest', amount: 60_000 });
    expect(await settled('rest')).toMatchObject({ status: 'succeeded' });
    await pay({ requestId: 'one-more', amount: 1 });
    expect(await settled('one-more')).toMatchObject({ status: 'failed', reason: 'insufficient_funds' });
    await receiver.waitFor(3);
    await sleep(50);
    expect(receiver.received.filter((c) => c.body.requestId === 'once')).toHaveLength(1);
  });

  it('refuses a reused requestId with a different body: 409 request_id_reused', async () => {
    await pay({ requestId: 'reused', amount: 100 });
    expect(await pay({ requestId: 'reused', amount: 200 })).toEqual({
      status: 409,
      body: { code: 'request_id_reused' },
    });
    expect(await pay({ requestId: 'reused', kind: 'credit', amount: 100 })).toEqual({
      status: 409,
      body: { code: 'request_id_reused' },
    });
  });

  it('answers 404 not_found for a requestId it never received', async () => {
    expect(await sim.call('GET', '/v1/payments/never-sent')).toEqual({ status: 404, body: { code: 'not_found' } });
  });

  it('credits a card (the money can be debited back) and fails a credit to an unknown token', async () => {
    await pay({ requestId: 'credit', kind: 'credit', amount: 50_000 });
    expect(await settled('credit')).toMatchObject({ status: 'succeeded', kind: 'credit' });
    await pay({ requestId: 'debit-all', amount: 150_000 });
    expect(await settled('debit-all')).toMatchObject({ status: 'succeeded' });
    await pay({ requestId: 'credit-unknown', kind: 'credit', cardToken: 'ctok_nobody' });
    expect(await settled('credit-unknown')).toMatchObject({ status: 'failed', reason: 'card_unknown' });
  });

  it('retries a callback that Yika did not accept: base, 2×base… and gives up after 6 attempts', async () => {
    // Count only this test's callbacks: a callback of an earlier test may still be on the wire.
    const attempts = (requestId: string) => receiver.received.filter((c) => c.body.requestId === requestId);
    receiver.respondWith = (callback) => (attempts(callback.body.requestId).length <= 2 ? 503 : 200);
    await pay({ requestId: 'retried' });
    const retried = await eventually(async () => (attempts('retried').length >= 3 ? attempts('retried') : undefined));
    // Base delay is 20 ms in tests: the second wait (40 ms) is longer than the first.
    expect(retried[2]!.receivedAt - retried[1]!.receivedAt).toBeGreaterThanOrEqual(35);
    await sleep(100);
    expect(attempts('retried')).toHaveLength(3);

    receiver.respondWith = () => 500;
    await pay({ requestId: 'never-accepted' });
    // 20 + 40 + 80 + 160 + 320 ms of waiting between 6 attempts, then no more.
    await eventually(async () => (attempts('never-accepted').length >= 6 ? true : undefined));
    await sleep(800);
    expect(attempts('never-accepted')).toHaveLength(6);
  });

  it('answers 401 without the API key and 400 for bad input, never a 5xx', async () => {
    expect((await sim.call('POST', '/v1/payments', {}, { auth: false })).status).toBe(401);
    expect((await sim.call('GET', '/v1/payments/x', undefined, { auth: false })).status).toBe(401);
    const bad = await pay({ amount: '100', kind: 'refund', currency: 'USD', callbackUrl: 'ftp://x' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.amount',
      'body.callbackUrl',
      'body.currency',
      'body.kind',
    ]);
    expect((await pay({ amount: 0 })).status).toBe(400);
    expect((await pay({ amount: 1.5 })).status).toBe(400);
    expect((await pay({ requestId: 'x'.repeat(129) })).status).toBe(400);
    expect((await sim.call('POST', '/v1/payments', '[1,2')).status).toBe(400);
    expect((await sim.call('POST', '/v1/payments', 'null')).status).toBe(400);
  });
});

describe('closing the simulator', () => {
  it('cancels pending outcomes and callbacks', async () => {
    const sim = await startSim({ faults: { latencyMs: 100 } });
    const receiver = await startReceiver();
    try {
      const token = await bindCard(sim, testCard(500), '+8613700000005');
      const accepted = await sim.call('POST', '/v1/payments', {
        requestId: 'pending-at-close',
        kind: 'debit',
        cardToken: token,
        amount: 1,
        currency: 'CNY',
        callbackUrl: receiver.url,
      });
      expect(accepted.status).toBe(202);
      await sim.close();
      await sleep(250);
      expect(receiver.received).toHaveLength(0);
    } finally {
      await receiver.close();
    }
  });
});
