/**
 * The wallet end to end over HTTP, against the real bank simulator (its own HTTP server, signed callbacks)
 * and a listening Yika app: bind a card, top up, pay another customer, withdraw, history and the bill;
 * every bad input answered with its problem code and nothing changed; each bank fault leaves balances exact.
 */
import { buildBankSim } from '@yika/bank-sim';
import type { Faults } from '@yika/bank-sim';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openMigratedDatabase, buildTestApp, type TestApp } from '../../test/app-fixture.js';
import { latestCode as readLatestCode } from '../../test/sms-inbox.js';
import { activateRules, defaultRulesWithout } from '../risk/test/rules.js';
import { walletAccountId } from './chart.js';

const API_KEY = 'wallet-test-key';
const CALLBACK_SECRET = 'wallet-test-callback-secret';
const DEFAULT_PIN = '135790';

let sim: FastifyInstance;
let simUrl: string;
let fixture: TestApp;
let publicUrl = '';
/** The identity clock (codes, sessions): moved forward where a test needs a second code within a minute. */
let clock = Date.now();
let phoneCounter = 0;
let ipCounter = 0;
const salt = String(process.pid % 10_000).padStart(4, '0');

interface Customer {
  phone: string;
  customerId: string;
  headers: Record<string, string>;
}

beforeAll(async () => {
  sim = buildBankSim({
    logLevel: false,
    apiKey: API_KEY,
    callbackSecret: CALLBACK_SECRET,
    callbackRetryBaseMs: 50,
    faults: { latencyMs: 20 },
  });
  simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
  const db = await openMigratedDatabase();
  fixture = await buildTestApp({
    db,
    env: {
      BANK_SIM_URL: simUrl,
      BANK_SIM_API_KEY: API_KEY,
      BANK_CALLBACK_SECRET: CALLBACK_SECRET,
      BANK_POLL_AFTER_MS: '0',
      STEP_UP_THRESHOLD_FEN: '20000',
      PAYMENT_CODE_NO_PIN_LIMIT_FEN: '20000',
      RATE_LIMIT_MAX: '0',
    },
    publicUrl: () => publicUrl,
    now: () => new Date(clock),
  });
  // These tests make many attempts a minute on purpose (refusals, bank faults): the burst rule would deny
  // them. It and every other decision path are tested in risk/risk.wiring.test.ts.
  await activateRules(fixture.services.risk, defaultRulesWithout(['attempts_burst']));
  publicUrl = await fixture.app.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await fixture?.close();
  await fixture?.db.close();
  await sim?.close();
});

async function setFaults(faults: Partial<Faults>): Promise<void> {
  const response = await fetch(`${simUrl}/admin/faults`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      latencyMs: 20,
      failureRate: 0,
      timeoutRate: 0,
      dropCallbackRate: 0,
      duplicateCallbacks: 0,
      badSignatureRate: 0,
      reorder: false,
      ...faults,
    }),
  });
  expect(response.status).toBe(200);
}

function latestCode(phone: string): Promise<string> {
  return readLatestCode(simUrl, phone);
}

async function newCustomer(): Promise<Customer> {
  phoneCounter += 1;
  ipCounter += 1;
  const phone = `+86137${salt}${String(phoneCounter).padStart(4, '0')}`;
  const remoteAddress = `10.9.${Math.floor(ipCounter / 250)}.${ipCounter % 250}`;
  const otp = await fixture.app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress });
  expect(otp.statusCode).toBe(202);
  const session = await fixture.app.inject({
    method: 'POST',
    url: '/v1/auth/sessions',
    payload: { phone, code: await latestCode(phone), client: 'api' },
    remoteAddress,
  });
  expect(session.statusCode).toBe(201);
  const { token, customerId } = session.json<{ token: string; customerId: string }>();
  const customer = { phone, customerId, headers: { authorization: `Bearer ${token}` } };
  await fixture.services.identity.setPin(customerId, DEFAULT_PIN);
  return customer;
}

let cardCounter = 0;
/** A Luhn-valid ICBC debit card number, different each call. */
function cardNumber(): string {
  cardCounter += 1;
  const body = `622202${salt}${String(cardCounter).padStart(8, '0')}`.slice(0, 18);
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

async function bindCard(customer: Customer): Promise<string> {
  const started = await fixture.app.inject({
    method: 'POST',
    url: '/v1/cards/verifications',
    headers: customer.headers,
    payload: { cardNumber: cardNumber(), phone: customer.phone, holderName: '张明' },
  });
  expect(started.statusCode, started.body).toBe(201);
  const { verificationId } = started.json<{ verificationId: string }>();
  const confirmed = await fixture.app.inject({
    method: 'POST',
    url: `/v1/cards/verifications/${verificationId}/confirm`,
    headers: customer.headers,
    payload: { code: await latestCode(customer.phone) },
  });
  expect(confirmed.statusCode, confirmed.body).toBe(201);
  return confirmed.json<{ id: string }>().id;
}

async function balance(customer: Customer): Promise<{ available: number; held: number }> {
  const response = await fixture.app.inject({ method: 'GET', url: '/v1/wallet', headers: customer.headers });
  expect(response.statusCode).toBe(200);
  return response.json();
}

let keyCounter = 0;
const newKey = () => `test-key-${process.pid}-${++keyCounter}`;

async function post(customer: Customer, url: string, payload: object, key: string | null = newKey()) {
  return fixture.app.inject({
    method: 'POST',
    url,
    headers: { ...customer.headers, ...(key === null ? {} : { 'idempotency-key': key }) },
    payload,
  });
}

async function waitForOrder(
  customer: Customer,
  orderId: string,
  timeoutMs = 10_000,
): Promise<{ status: string; failureReason: string | null }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fixture.app.inject({
      method: 'GET',
      url: `/v1/wallet/orders/${orderId}`,
      headers: customer.headers,
    });
    const order = response.json<{ status: string; failureReason: string | null }>();
    if (order.status === 'succeeded' || order.status === 'failed') return order;
    if (Date.now() > deadline) throw new Error(`order ${orderId} still ${order.status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function topUp(customer: Customer, cardId: string, amount: number): Promise<string> {
  const response = await post(customer, '/v1/wallet/top-ups', { cardId, amount });
  expect(response.statusCode, response.body).toBe(202);
  const order = response.json<{ id: string }>();
  expect(await waitForOrder(customer, order.id)).toMatchObject({ status: 'succeeded' });
  return order.id;
}

describe('the wallet, end to end', () => {
  let alice: Customer;
  let bob: Customer;
  let aliceCard: string;

  beforeAll(async () => {
    await setFaults({});
    alice = await newCustomer();
    bob = await newCustomer();
    aliceCard = await bindCard(alice);
  });

  it('tops up 100.00, pays 30.00 to a friend, withdraws 20.00, and shows all three with the balance after each', async () => {
    // Registration opened the wallet account on the ledger.
    const [account] = await fixture.ledger.lookupAccounts([walletAccountId(alice.customerId)]);
    expect(account).toMatchObject({ ownerRef: `customer:${alice.customerId}`, creditsPosted: 0n });
    expect(await balance(alice)).toEqual({ currency: 'CNY', available: 0, held: 0 });
    await topUp(alice, aliceCard, 10_000);
    expect(await balance(alice)).toMatchObject({ available: 10_000, held: 0 });

    const preview = await fixture.app.inject({
      method: 'POST',
      url: '/v1/wallet/payee-preview',
      headers: alice.headers,
      payload: { phone: bob.phone },
    });
    expect(preview.statusCode).toBe(200);

    const paid = await post(alice, '/v1/wallet/transfers', {
      phone: bob.phone,
      amount: 3_000,
      note: 'lunch',
      pin: DEFAULT_PIN,
    });
    expect(paid.statusCode, paid.body).toBe(201);
    expect(await balance(alice)).toMatchObject({ available: 7_000 });
    expect(await balance(bob)).toMatchObject({ available: 3_000 });

    const withdrawal = await post(alice, '/v1/wallet/withdrawals', {
      cardId: aliceCard,
      amount: 2_000,
      pin: DEFAULT_PIN,
    });
    expect(withdrawal.statusCode, withdrawal.body).toBe(202);
    expect(await waitForOrder(alice, withdrawal.json<{ id: string }>().id)).toMatchObject({ status: 'succeeded' });
    expect(await balance(alice)).toMatchObject({ available: 5_000, held: 0 });

    const history = await fixture.app.inject({ method: 'GET', url: '/v1/wallet/movements', headers: alice.headers });
    expect(history.statusCode).toBe(200);
    const movements = history.json<{
      movements: { type: string; amount: number; balanceAfter: number; status: string; note: string | null }[];
    }>().movements;
    expect(movements.map(({ type, amount, balanceAfter, status }) => ({ type, amount, balanceAfter, status }))).toEqual(
      [
        { type: 'withdrawal', amount: -2_000, balanceAfter: 5_000, status: 'succeeded' },
        { type: 'p2p_out', amount: -3_000, balanceAfter: 7_000, status: 'succeeded' },
        { type: 'top_up', amount: 10_000, balanceAfter: 10_000, status: 'succeeded' },
      ],
    );
    expect(movements[1]!.note).toBe('lunch');

    const month = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 7);
    const bill = await fixture.app.inject({ method: 'GET', url: `/v1/wallet/bills/${month}`, headers: alice.headers });
    expect(bill.statusCode, bill.body).toBe(200);
    expect(bill.json()).toMatchObject({ openingBalance: 0, income: 10_000, spending: 5_000, closingBalance: 5_000 });
    expect((await fixture.ledger.verify()).violations).toEqual([]);
  });

  it('answers a retried transfer with the first answer, and moves the money once', async () => {
    await topUp(alice, aliceCard, 1_000);
    const before = await balance(alice);
    const key = newKey();
    const first = await post(alice, '/v1/wallet/transfers', { phone: bob.phone, amount: 100, pin: DEFAULT_PIN }, key);
    const again = await post(alice, '/v1/wallet/transfers', { phone: bob.phone, amount: 100, pin: DEFAULT_PIN }, key);
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect((await balance(alice)).available).toBe(before.available - 100);

    const reused = await post(alice, '/v1/wallet/transfers', { phone: bob.phone, amount: 200, pin: DEFAULT_PIN }, key);
    expect(reused.statusCode).toBe(409);
    expect(reused.json()).toMatchObject({ code: 'idempotency_key_reused' });
    expect((await balance(alice)).available).toBe(before.available - 100);
  });

  it.each([
    [
      'more than the balance',
      () => ({ phone: bob.phone, amount: 10_000, pin: DEFAULT_PIN }),
      422,
      'insufficient_funds',
    ],
    [
      'a large amount with only the PIN',
      () => ({ phone: bob.phone, amount: 20_000, pin: DEFAULT_PIN }),
      401,
      'step_up_required',
    ],
    ['an unknown recipient', () => ({ phone: '+8613000000001', amount: 100, pin: DEFAULT_PIN }), 404, 'not_found'],
    ['oneself', () => ({ phone: alice.phone, amount: 100, pin: DEFAULT_PIN }), 422, 'payee_is_payer'],
    ['a wrong PIN', () => ({ phone: bob.phone, amount: 100, pin: '000000' }), 422, 'pin_invalid'],
    ['a zero amount', () => ({ phone: bob.phone, amount: 0, pin: DEFAULT_PIN }), 400, 'validation_failed'],
    ['a fractional amount', () => ({ phone: bob.phone, amount: 1.5, pin: DEFAULT_PIN }), 400, 'validation_failed'],
    ['an amount as a string', () => ({ phone: bob.phone, amount: '100', pin: DEFAULT_PIN }), 400, 'validation_failed'],
  ])('refuses a transfer of %s with its problem code and changes nothing', async (_case, payload, status, code) => {
    const before = [await balance(alice), await balance(bob)];
    const response = await post(alice, '/v1/wallet/transfers', payload());
    expect(response.statusCode, response.body).toBe(status);
    expect(response.json()).toMatchObject({ code });
    expect([await balance(alice), await balance(bob)]).toEqual(before);
  });

  it('needs an Idempotency-Key to move money, and a session', async () => {
    const missing = await post(
      alice,
      '/v1/wallet/transfers',
      { phone: bob.phone, amount: 100, pin: DEFAULT_PIN },
      null,
    );
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'idempotency_key_required' });
    const anonymous = await fixture.app.inject({ method: 'GET', url: '/v1/wallet' });
    expect(anonymous.statusCode).toBe(401);
  });

  it('refuses an outgoing payment above the payment account class limit', async () => {
    const { perTransaction } = await fixture.services.identity.limitsFor(alice.customerId);
    const response = await post(alice, '/v1/wallet/transfers', {
      phone: bob.phone,
      amount: Number(perTransaction) + 1,
      pin: DEFAULT_PIN,
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ code: 'limit_exceeded' });
  });

  it('asks to be paid (收款): a fixed-amount request is paid once, by link', async () => {
    const created = await fixture.app.inject({
      method: 'POST',
      url: '/v1/wallet/payment-requests',
      headers: bob.headers,
      payload: { amount: 250, note: 'tickets' },
    });
    expect(created.statusCode, created.body).toBe(201);
    const request = created.json<{ id: string; link: string; qrSvg: string; status: string }>();
    expect(request.link).toMatch(new RegExp(`/pay/${request.id}$`));
    expect(request.qrSvg).toMatch(/^<svg/);
    const seen = await fixture.app.inject({
      method: 'GET',
      url: `/v1/wallet/payment-requests/${request.id}`,
      headers: alice.headers,
    });
    expect(seen.json()).toMatchObject({ amount: 250, note: 'tickets', status: 'open' });

    const [aliceBefore, bobBefore] = [await balance(alice), await balance(bob)];
    const paid = await post(alice, `/v1/wallet/payment-requests/${request.id}/pay`, { pin: DEFAULT_PIN });
    expect(paid.statusCode, paid.body).toBe(201);
    expect((await balance(alice)).available).toBe(aliceBefore.available - 250);
    expect((await balance(bob)).available).toBe(bobBefore.available + 250);

    const again = await post(alice, `/v1/wallet/payment-requests/${request.id}/pay`, { pin: DEFAULT_PIN });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'payment_request_closed' });
    const wrongAmount = await fixture.app.inject({
      method: 'POST',
      url: '/v1/wallet/payment-requests',
      headers: bob.headers,
      payload: {},
    });
    const open = wrongAmount.json<{ id: string }>();
    const noAmount = await post(alice, `/v1/wallet/payment-requests/${open.id}/pay`, { pin: DEFAULT_PIN });
    expect(noAmount.json()).toMatchObject({ code: 'amount_required' });
    expect((await balance(alice)).available).toBe(aliceBefore.available - 250);
  });

  it.each([
    ['/v1/wallet/bills/0000-01', 'validation_failed'],
    ['/v1/wallet/bills/2026-13', 'validation_failed'],
    ['/v1/wallet/movements?cursor=bm90LWEtY3Vyc29y', 'cursor_invalid'],
    ['/v1/wallet/movements?type=gift', 'validation_failed'],
    ['/v1/wallet/movements?limit=1000', 'validation_failed'],
    ['/v1/wallet/movements?from=yesterday', 'validation_failed'],
  ])('answers GET %s with 400 %s', async (url, code) => {
    const response = await fixture.app.inject({ method: 'GET', url, headers: alice.headers });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code });
  });

  it('pages the history with a cursor, newest first, without gaps or repeats', async () => {
    const all = await fixture.app.inject({
      method: 'GET',
      url: '/v1/wallet/movements?limit=100',
      headers: alice.headers,
    });
    const ids = all.json<{ movements: { id: string }[] }>().movements.map((movement) => movement.id);
    const paged: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : '';
      const page = await fixture.app.inject({
        method: 'GET',
        url: `/v1/wallet/movements?limit=2${query}`,
        headers: alice.headers,
      });
      const body = page.json<{ movements: { id: string }[]; nextCursor: string | null }>();
      paged.push(...body.movements.map((movement) => movement.id));
      cursor = body.nextCursor;
    } while (cursor);
    expect(paged).toEqual(ids);
    expect(ids.length).toBeGreaterThan(2);
  });

  it('exports the history as CSV', async () => {
    const response = await fixture.app.inject({
      method: 'GET',
      url: '/v1/wallet/movements.csv',
      headers: alice.headers,
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/csv/);
    const lines = response.body
      .replace(/^\uFEFF/, '')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('id,type,amount_fen,currency,status,counterparty,note,balance_after_fen,created_at');
    const history = await fixture.app.inject({
      method: 'GET',
      url: '/v1/wallet/movements?limit=100',
      headers: alice.headers,
    });
    expect(lines).toHaveLength(history.json<{ movements: unknown[] }>().movements.length + 1);
    expect(lines.some((line) => line.includes(',top_up,10000,CNY,succeeded,'))).toBe(true);
  });

  it('pays a large amount once a second factor (an SMS code) confirms it', async () => {
    await topUp(alice, aliceCard, 25_000);
    const before = await balance(alice);
    clock += 61_000; // one code a minute per number
    const otp = await fixture.app.inject({
      method: 'POST',
      url: '/v1/me/otp',
      headers: alice.headers,
      payload: { purpose: 'step_up' },
    });
    expect(otp.statusCode, otp.body).toBe(202);
    const code = await latestCode(alice.phone);
    const wrong = await post(alice, '/v1/wallet/transfers', {
      phone: bob.phone,
      amount: 20_000,
      pin: DEFAULT_PIN,
      stepUp: { otp: code === '000000' ? '111111' : '000000' },
    });
    expect(wrong.statusCode).toBe(422);
    expect(wrong.json()).toMatchObject({ code: 'otp_invalid' });
    expect((await balance(alice)).available).toBe(before.available);
    const paid = await post(alice, '/v1/wallet/transfers', {
      phone: bob.phone,
      amount: 20_000,
      pin: DEFAULT_PIN,
      stepUp: { otp: code },
    });
    expect(paid.statusCode, paid.body).toBe(201);
    expect((await balance(alice)).available).toBe(before.available - 20_000);
  });

  it('a frozen account moves no money until it is unfrozen', async () => {
    const erin = await newCustomer();
    await fixture.services.identity.freezeByCustomer(erin.customerId, { pin: DEFAULT_PIN });
    const card = await bindCard(erin);
    const frozenTopUp = await post(erin, '/v1/wallet/top-ups', { cardId: card, amount: 100 });
    expect(frozenTopUp.json()).toMatchObject({ code: 'account_frozen' });
    const toFrozen = await post(bob, '/v1/wallet/transfers', { phone: erin.phone, amount: 1, pin: DEFAULT_PIN });
    expect(toFrozen.json()).toMatchObject({ code: 'account_frozen' });
    expect(await balance(erin)).toMatchObject({ available: 0, held: 0 });
    await fixture.services.identity.unfreezeByCustomer(erin.customerId, { pin: DEFAULT_PIN });
    await topUp(erin, card, 100);
    expect(await balance(erin)).toMatchObject({ available: 100 });
  });

  it('closes an account only at a zero balance, and a closed account moves no money', async () => {
    const dave = await newCustomer();
    const card = await bindCard(dave);
    await topUp(dave, card, 100);
    const refused = await fixture.app.inject({
      method: 'POST',
      url: '/v1/wallet/close-account',
      headers: dave.headers,
      payload: { proof: { pin: DEFAULT_PIN } },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'balance_not_zero' });
    const withdrawal = await post(dave, '/v1/wallet/withdrawals', { cardId: card, amount: 100, pin: DEFAULT_PIN });
    await waitForOrder(dave, withdrawal.json<{ id: string }>().id);
    const closed = await fixture.app.inject({
      method: 'POST',
      url: '/v1/wallet/close-account',
      headers: dave.headers,
      payload: { proof: { pin: DEFAULT_PIN } },
    });
    expect(closed.statusCode, closed.body).toBe(204);
    const pay = await post(bob, '/v1/wallet/transfers', { phone: dave.phone, amount: 1, pin: DEFAULT_PIN });
    expect(pay.statusCode).toBe(404);
  });

  it('holds a withdrawal at once and shows where the money is', async () => {
    await setFaults({ latencyMs: 300 });
    const before = await balance(alice);
    const response = await post(alice, '/v1/wallet/withdrawals', { cardId: aliceCard, amount: 500, pin: DEFAULT_PIN });
    expect(response.statusCode, response.body).toBe(202);
    expect(response.json()).toMatchObject({ status: 'processing' });
    expect(await balance(alice)).toEqual({ currency: 'CNY', available: before.available - 500, held: 500 });
    await waitForOrder(alice, response.json<{ id: string }>().id);
    expect(await balance(alice)).toEqual({ currency: 'CNY', available: before.available - 500, held: 0 });
    await setFaults({});
  });
});

describe('bank faults leave every balance exact', () => {
  let carol: Customer;
  let card: string;

  beforeAll(async () => {
    await setFaults({});
    carol = await newCustomer();
    card = await bindCard(carol);
    await topUp(carol, card, 5_000);
  });

  it('a failed top-up credits nothing; a failed withdrawal releases the hold', async () => {
    await setFaults({ failureRate: 1 });
    const topUpResponse = await post(carol, '/v1/wallet/top-ups', { cardId: card, amount: 1_000 });
    expect(await waitForOrder(carol, topUpResponse.json<{ id: string }>().id)).toMatchObject({ status: 'failed' });
    const withdrawal = await post(carol, '/v1/wallet/withdrawals', { cardId: card, amount: 1_000, pin: DEFAULT_PIN });
    expect(await waitForOrder(carol, withdrawal.json<{ id: string }>().id)).toMatchObject({ status: 'failed' });
    expect(await balance(carol)).toMatchObject({ available: 5_000, held: 0 });
    await setFaults({});
  });

  it('a withdrawal the bank times out is held while it waits, then released; the customer sees it processing', async () => {
    await setFaults({ timeoutRate: 1, timeoutMs: 400 });
    const response = await post(carol, '/v1/wallet/withdrawals', { cardId: card, amount: 800, pin: DEFAULT_PIN });
    const orderId = response.json<{ id: string }>().id;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await fixture.services.wallet.order(carol.customerId, orderId)).status).toBe('processing');
    expect(await balance(carol)).toMatchObject({ available: 4_200, held: 800 });
    expect(await waitForOrder(carol, orderId)).toMatchObject({ status: 'failed', failureReason: 'bank_timeout' });
    expect(await balance(carol)).toMatchObject({ available: 5_000, held: 0 });
    await setFaults({});
  });

  it('duplicate, reordered and badly signed callbacks credit once', async () => {
    await setFaults({ duplicateCallbacks: 3, reorder: true, badSignatureRate: 1 });
    const response = await post(carol, '/v1/wallet/top-ups', { cardId: card, amount: 700 });
    await waitForOrder(carol, response.json<{ id: string }>().id);
    await new Promise((resolve) => setTimeout(resolve, 300)); // let the remaining copies arrive
    expect(await balance(carol)).toMatchObject({ available: 5_700 });
    await setFaults({});
  });

  it('a lost callback is recovered by the status query', async () => {
    await setFaults({ dropCallbackRate: 1 });
    const response = await post(carol, '/v1/wallet/top-ups', { cardId: card, amount: 300 });
    const orderId = response.json<{ id: string }>().id;
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect((await fixture.services.wallet.order(carol.customerId, orderId)).status).toBe('processing');
    const polled = await fixture.services.wallet.pollOpenOrders();
    expect(polled.applied).toBeGreaterThanOrEqual(1);
    expect(await waitForOrder(carol, orderId)).toMatchObject({ status: 'succeeded' });
    expect(await balance(carol)).toMatchObject({ available: 6_000 });
    await setFaults({});
  });

  it('refuses a callback with a bad signature', async () => {
    const response = await fetch(`${publicUrl}/v1/bank/callbacks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-bank-signature': 't=1,v1=00' },
      body: JSON.stringify({
        requestId: '0192f1b4-3c5e-7a2b-9c1d-2e3f4a5b6c7d',
        kind: 'debit',
        status: 'succeeded',
        amount: 1,
        currency: 'CNY',
      }),
    });
    expect(response.status).toBe(401);
  });

  it('keeps the ledger invariant through all of it', async () => {
    expect((await fixture.ledger.verify()).violations).toEqual([]);
  });
});
