/**
 * Payment codes (付款码) over HTTP against a real database: RFC 6238 vectors for the OTP, enrolment, a
 * cashier charge posting without the PIN, its idempotent retry, replay (also concurrent), expiry, wrong
 * device, locks and throttling, charges above the no-PIN limit or the daily cap waiting for the
 * customer's PIN (confirm, decline, expiry), and the ledger's invariant after all of it.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestCode } from '../../test/sms-inbox.js';
import {
  openPaymentsHarness,
  PIN,
  type PaymentsHarness,
  type TestCustomer,
  type TestMerchant,
} from './test/harness.js';
import { hotp, parsePaymentCode, paymentCode, totp } from './payment-codes.totp.js';
import { ENROLMENT_FAILURES_MAX, MERCHANT_FAILURES_MAX } from './payment-codes.service.js';

let harness: PaymentsHarness;
let keyCounter = 0;
const newKey = () => `code-test-${process.pid}-${++keyCounter}`;

/**
 * The server's clock (identity and payment codes). It starts at noon in Shanghai, so moving it a few
 * minutes never crosses a business day, and tests move it forward to get the next code or expire one.
 */
let clockMs = (() => {
  const now = Date.now();
  const noonShanghai = Math.ceil((now - 4 * 3_600_000) / 86_400_000) * 86_400_000 + 4 * 3_600_000;
  return noonShanghai;
})();
const now = () => new Date(clockMs);
const nextStep = () => {
  clockMs += 60_000;
};

beforeAll(async () => {
  harness = await openPaymentsHarness(
    {
      STEP_UP_THRESHOLD_FEN: '500000',
      PAYMENT_CODE_NO_PIN_LIMIT_FEN: '100000',
      PAYMENT_CODE_DAILY_NO_PIN_CAP_FEN: '200000',
      // Class I customers (the harness's) may pay up to 50,000 CNY here, so only the code's own limits bind.
      LIMITS_CLASS_I: '5000000/5000000/5000000',
    },
    { now },
  );
}, 60_000);

afterAll(async () => {
  if (harness) {
    expect((await harness.fixture.ledger.verify()).violations).toEqual([]);
    await harness.close();
  }
});

const inject = (options: InjectOptions) => harness.fixture.app.inject(options);

interface Device {
  deviceIndex: string;
  secret: Buffer;
  code(atMs?: number): string;
}

async function enrol(customer: TestCustomer): Promise<Device> {
  const response = await inject({
    method: 'POST',
    url: '/v1/payment-codes/devices',
    headers: customer.headers,
    payload: { pin: PIN },
  });
  expect(response.statusCode, response.body).toBe(201);
  const body = response.json<{ deviceIndex: string; secret: string; prefix: string; digits: number }>();
  expect(body).toMatchObject({ prefix: '28', digits: 8, algorithm: 'SHA-1', periodSeconds: 60 });
  expect(body.deviceIndex).toMatch(/^\d{8}$/);
  const secret = Buffer.from(body.secret, 'hex');
  expect(secret).toHaveLength(20);
  return {
    deviceIndex: body.deviceIndex,
    secret,
    code: (atMs = clockMs) => paymentCode(body.deviceIndex, secret, atMs),
  };
}

async function charge(merchant: TestMerchant, code: string, amount: number, key: string = newKey()) {
  return inject({
    method: 'POST',
    url: '/v1/merchant/payment-code-charges',
    headers: { ...merchant.headers, 'idempotency-key': key },
    payload: { code, amount, note: 'Lunch' },
  });
}

type Charge = { id: string; status: string; amount: number; paymentId: string | null; expiresAt: string | null };

describe('the one-time password (RFC 6238 / RFC 4226)', () => {
  // RFC 6238 appendix B: 8 digits, 30-second steps, a seed per algorithm.
  const seeds = {
    sha1: Buffer.from('12345678901234567890'),
    sha256: Buffer.from('12345678901234567890123456789012'),
    sha512: Buffer.from('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  it.each(vectors)('at %i s gives the RFC values', (seconds, sha1, sha256, sha512) => {
    const options = { digits: 8, stepSeconds: 30 } as const;
    expect(totp(seeds.sha1, seconds * 1000, { ...options, algorithm: 'sha1' })).toBe(sha1);
    expect(totp(seeds.sha256, seconds * 1000, { ...options, algorithm: 'sha256' })).toBe(sha256);
    expect(totp(seeds.sha512, seconds * 1000, { ...options, algorithm: 'sha512' })).toBe(sha512);
  });

  it('gives the RFC 4226 HOTP values (6 digits)', () => {
    const expected = [
      '755224',
      '287082',
      '359152',
      '969429',
      '338314',
      '254676',
      '287922',
      '162583',
      '399871',
      '520489',
    ];
    expected.forEach((value, counter) => expect(hotp(seeds.sha1, BigInt(counter), 6, 'sha1')).toBe(value));
  });

  it('parses 18 digits with prefix 28, grouped or not, and nothing else', () => {
    expect(parsePaymentCode('28 1234 5678 8765 4321')).toEqual({ deviceIndex: '12345678', otp: '87654321' });
    expect(parsePaymentCode('281234567887654321')).toEqual({ deviceIndex: '12345678', otp: '87654321' });
    expect(parsePaymentCode('181234567887654321')).toBeNull();
    expect(parsePaymentCode('2812345678876543')).toBeNull();
    expect(parsePaymentCode('28123456788765432a')).toBeNull();
  });
});

describe('charging a payment code', () => {
  let merchant: TestMerchant;
  let customer: TestCustomer;
  let device: Device;

  beforeAll(async () => {
    merchant = await harness.newMerchant(60, '街角便利店');
    customer = await harness.newCustomer(1_000_000n);
    device = await enrol(customer);
  });

  it('enrols a device only with the payment PIN (a session alone is not enough)', async () => {
    const eve = await harness.newCustomer();
    const url = '/v1/payment-codes/devices';
    const missing = await inject({ method: 'POST', url, headers: eve.headers, payload: {} });
    expect(missing.statusCode).toBe(400);
    const wrong = await inject({ method: 'POST', url, headers: eve.headers, payload: { pin: '000000' } });
    expect(wrong.json()).toMatchObject({ code: 'pin_invalid' });
    const current = await inject({ method: 'GET', url: `${url}/current`, headers: eve.headers });
    expect(current.json()).toMatchObject({ enrolled: false });
  });

  it('says whether this device is enrolled', async () => {
    const response = await inject({
      method: 'GET',
      url: '/v1/payment-codes/devices/current',
      headers: customer.headers,
    });
    expect(response.json()).toEqual({ enrolled: true, deviceIndex: device.deviceIndex, status: 'active' });
    const other = await harness.newCustomer();
    const none = await inject({ method: 'GET', url: '/v1/payment-codes/devices/current', headers: other.headers });
    expect(none.json()).toEqual({ enrolled: false, deviceIndex: null, status: null });
  });

  it('posts a small charge without the PIN as an ordinary payment; a retry replays it', async () => {
    nextStep();
    const before = await harness.balances(customer, merchant);
    const key = newKey();
    const code = device.code();
    const first = await charge(merchant, code, 1_250, key);
    expect(first.statusCode, first.body).toBe(201);
    const body = first.json<Charge>();
    expect(body).toMatchObject({ status: 'succeeded', amount: 1_250, expiresAt: null });
    expect(body.paymentId).toMatch(/^[0-9a-f-]{36}$/);
    const after = await harness.balances(customer, merchant);
    expect(after.wallet - before.wallet).toBe(-1_250n);
    expect(after.settlement - before.settlement).toBe(1_250n - 8n); // fee 0.6 % of 1,250 = 7.5 → 8 (half-up)

    const retry = await charge(merchant, code, 1_250, key);
    expect(retry.statusCode).toBe(201);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(body);
    expect((await harness.balances(customer, merchant)).wallet).toBe(after.wallet);

    const payment = await inject({
      method: 'GET',
      url: `/v1/merchant/payments/${body.paymentId}`,
      headers: merchant.headers,
    });
    expect(payment.json()).toMatchObject({ method: 'payment_code', amount: 1_250, status: 'succeeded' });
    const view = await inject({
      method: 'GET',
      url: `/v1/merchant/payment-code-charges/${body.id}`,
      headers: merchant.headers,
    });
    expect(view.json()).toEqual(body);
  });

  it('refuses a replay of a used code, and one of two concurrent charges of the same code', async () => {
    nextStep();
    const code = device.code();
    const paid = await charge(merchant, code, 100);
    expect(paid.statusCode, paid.body).toBe(201);
    const replay = await charge(merchant, code, 100);
    expect(replay.statusCode).toBe(409);
    expect(replay.json()).toMatchObject({ code: 'payment_code_used' });

    nextStep();
    const before = await harness.balances(customer, merchant);
    const fresh = device.code();
    const both = await Promise.all([charge(merchant, fresh, 300), charge(merchant, fresh, 300)]);
    expect(both.map((response) => response.statusCode).sort()).toEqual([201, 409]);
    expect(both.find((response) => response.statusCode === 409)?.json()).toMatchObject({ code: 'payment_code_used' });
    expect((await harness.balances(customer, merchant)).wallet - before.wallet).toBe(-300n);
  });

  it('accepts the previous minute’s code and refuses an older one as expired', async () => {
    // Two steps on: the step before now has not been used by the tests above.
    nextStep();
    nextStep();
    const previous = device.code(clockMs - 60_000);
    const accepted = await charge(merchant, previous, 200);
    expect(accepted.statusCode, accepted.body).toBe(201);
    const old = device.code(clockMs - 3 * 60_000);
    const expired = await charge(merchant, old, 200);
    expect(expired.statusCode).toBe(422);
    expect(expired.json()).toMatchObject({ code: 'payment_code_expired' });
  });

  it('names malformed and unknown codes', async () => {
    const short = await charge(merchant, '2812345678', 100);
    expect(short.statusCode).toBe(400);
    expect(short.json()).toMatchObject({ code: 'validation_failed' });
    const prefix = await charge(merchant, `19${device.code().slice(2)}`, 100);
    expect(prefix.statusCode).toBe(422);
    expect(prefix.json()).toMatchObject({ code: 'payment_code_malformed' });
    const otherIndex = device.deviceIndex === '00000000' ? '00000001' : '00000000';
    const unknown = await charge(merchant, `28${otherIndex}${device.code().slice(10)}`, 100);
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'payment_code_unknown' });
  });

  it('refuses a store that is not one of the merchant’s open stores, spending nothing', async () => {
    const code = device.code();
    const response = await inject({
      method: 'POST',
      url: '/v1/merchant/payment-code-charges',
      headers: { ...merchant.headers, 'idempotency-key': newKey() },
      payload: { code, amount: 100, storeId: '00000000-0000-4000-8000-000000000001' },
    });
    expect(response.statusCode).toBe(404);
    // The code was not spent: it still pays.
    expect((await charge(merchant, code, 100)).statusCode).toBe(201);
  });

  it('needs an Idempotency-Key', async () => {
    const response = await inject({
      method: 'POST',
      url: '/v1/merchant/payment-code-charges',
      headers: merchant.headers,
      payload: { code: device.code(), amount: 100 },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'idempotency_key_required' });
  });
});

describe('wrong device', () => {
  let merchant: TestMerchant;

  beforeAll(async () => {
    merchant = await harness.newMerchant(0, '水果店');
  });

  it("refuses another enrolment's index with this device's OTP, and a re-enrolled device's old codes", async () => {
    const alice = await harness.newCustomer(100_000n);
    const bob = await harness.newCustomer(100_000n);
    const aliceDevice = await enrol(alice);
    const bobDevice = await enrol(bob);
    nextStep();
    // Bob's index with an OTP from Alice's secret: Bob's device did not make it.
    const forged = `28${bobDevice.deviceIndex}${totp(aliceDevice.secret, clockMs)}`;
    const refused = await charge(merchant, forged, 100);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'payment_code_invalid' });

    const reenrolled = await enrol(alice);
    expect(reenrolled.deviceIndex).not.toBe(aliceDevice.deviceIndex);
    const oldCode = await charge(merchant, aliceDevice.code(), 100);
    expect(oldCode.statusCode).toBe(422);
    expect(oldCode.json()).toMatchObject({ code: 'payment_code_device_replaced' });
    const oldSecret = await charge(merchant, `28${reenrolled.deviceIndex}${totp(aliceDevice.secret, clockMs)}`, 100);
    expect(oldSecret.json()).toMatchObject({ code: 'payment_code_invalid' });
    const current = await charge(merchant, reenrolled.code(), 100);
    expect(current.statusCode, current.body).toBe(201);
    const balances = await harness.balances(alice, merchant);
    expect(balances.wallet).toBe(100_000n - 100n);
    expect((await harness.balances(bob, merchant)).wallet).toBe(100_000n);
  });

  it('stops a signed-out device’s codes (a lost phone), offline codes included', async () => {
    const dave = await harness.newCustomer(100_000n);
    const lost = await enrol(dave);
    const devices = await inject({ method: 'GET', url: '/v1/me/devices', headers: dave.headers });
    const current = devices.json<{ devices: { id: string; current: boolean }[] }>().devices.find((d) => d.current);
    expect(current).toBeDefined();
    // Signed out from the device itself here; the same holds when another device signs it out.
    const revoked = await inject({ method: 'DELETE', url: `/v1/me/devices/${current!.id}`, headers: dave.headers });
    expect(revoked.statusCode, revoked.body).toBe(204);
    const refused = await charge(merchant, lost.code(), 100);
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'payment_code_device_signed_out' });
    expect((await harness.balances(dave, merchant)).wallet).toBe(100_000n);
  });

  it(`locks an enrolment after ${ENROLMENT_FAILURES_MAX} wrong codes, even for the right one; re-enrolling unlocks`, async () => {
    const carol = await harness.newCustomer(100_000n);
    const device = await enrol(carol);
    nextStep();
    const right = device.code();
    const wrongOtp = right.endsWith('0') ? `${right.slice(0, 17)}1` : `${right.slice(0, 17)}0`;
    for (let attempt = 0; attempt < ENROLMENT_FAILURES_MAX; attempt += 1) {
      const response = await charge(merchant, wrongOtp, 100);
      expect(response.json()).toMatchObject({ code: 'payment_code_invalid' });
    }
    const locked = await charge(merchant, right, 100);
    expect(locked.statusCode).toBe(423);
    expect(locked.json()).toMatchObject({ code: 'payment_code_locked' });
    const status = await inject({ method: 'GET', url: '/v1/payment-codes/devices/current', headers: carol.headers });
    expect(status.json()).toMatchObject({ enrolled: false, status: 'locked' });
    const fresh = await enrol(carol);
    const paid = await charge(merchant, fresh.code(), 100);
    expect(paid.statusCode, paid.body).toBe(201);
  });

  it(`throttles a merchant after ${MERCHANT_FAILURES_MAX} failed codes`, async () => {
    const guesser = await harness.newMerchant(0, '猜码店');
    for (let attempt = 0; attempt < MERCHANT_FAILURES_MAX; attempt += 1) {
      const index = String(10_000_000 + attempt);
      const response = await charge(guesser, `28${index}12345678`, 100);
      expect(response.statusCode).toBe(422);
    }
    const throttled = await charge(guesser, '281000000012345678', 100);
    expect(throttled.statusCode).toBe(429);
    expect(throttled.json()).toMatchObject({ code: 'payment_code_rate_limited' });
  });
});

describe('above the no-PIN limit or the daily cap', () => {
  let merchant: TestMerchant;
  let customer: TestCustomer;
  let device: Device;

  beforeAll(async () => {
    merchant = await harness.newMerchant(60, '电器城');
    customer = await harness.newCustomer(2_000_000n);
    device = await enrol(customer);
  });

  const confirm = (id: string, pin = PIN, key = newKey()) =>
    inject({
      method: 'POST',
      url: `/v1/payment-codes/confirmations/${id}`,
      headers: { ...customer.headers, 'idempotency-key': key },
      payload: { pin },
    });
  /** A step-up SMS code, as the customer would read it (the risk engine asks unverified accounts for one). */
  async function stepUpCode(who: TestCustomer): Promise<string> {
    clockMs += 61_000; // one SMS code a minute
    const otp = await inject({
      method: 'POST',
      url: '/v1/me/otp',
      headers: who.headers,
      payload: { purpose: 'step_up' },
    });
    expect(otp.statusCode, otp.body).toBe(202);
    return latestCode(harness.simUrl, who.phone);
  }
  const pending = async () =>
    (await inject({ method: 'GET', url: '/v1/payment-codes/confirmations', headers: customer.headers })).json<{
      items: (Charge & { merchantName: string })[];
    }>().items;

  it('waits for the PIN (and the second factor the risk engine asks for), then posts (a retry replays)', async () => {
    nextStep();
    const before = await harness.balances(customer, merchant);
    const response = await charge(merchant, device.code(), 150_000);
    expect(response.statusCode, response.body).toBe(201);
    const waiting = response.json<Charge>();
    expect(waiting).toMatchObject({ status: 'awaiting_confirmation', paymentId: null });
    expect(new Date(waiting.expiresAt!).getTime()).toBe(clockMs + 120_000);
    expect((await harness.balances(customer, merchant)).wallet).toBe(before.wallet);
    expect((await pending()).map((item) => [item.id, item.merchantName, item.amount])).toEqual([
      [waiting.id, '电器城', 150_000],
    ]);

    const wrongPin = await confirm(waiting.id, '000000');
    expect(wrongPin.statusCode).toBe(422);
    expect(wrongPin.json()).toMatchObject({ code: 'pin_invalid' });
    const key = newKey();
    // A Class I account paying 500 yuan or more: the risk engine wants a second factor too.
    const challenged = await confirm(waiting.id, PIN, key);
    expect(challenged.statusCode).toBe(401);
    expect(challenged.json()).toMatchObject({ code: 'step_up_required' });
    expect((await harness.balances(customer, merchant)).wallet).toBe(before.wallet);
    const otp = await stepUpCode(customer);
    const confirmed = await inject({
      method: 'POST',
      url: `/v1/payment-codes/confirmations/${waiting.id}`,
      headers: { ...customer.headers, 'idempotency-key': key },
      payload: { pin: PIN, stepUp: { otp } },
    });
    expect(confirmed.statusCode, confirmed.body).toBe(200);
    expect(confirmed.json()).toMatchObject({ status: 'succeeded', amount: 150_000 });
    // The SMS code is spent; the retry of the same confirmation replays its answer with the PIN alone.
    const again = await confirm(waiting.id, PIN, key);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(confirmed.json());
    const otherKey = await confirm(waiting.id);
    expect(otherKey.json()).toMatchObject({ code: 'charge_not_awaiting' });
    expect((await harness.balances(customer, merchant)).wallet - before.wallet).toBe(-150_000n);
    const merchantView = await inject({
      method: 'GET',
      url: `/v1/merchant/payment-code-charges/${waiting.id}`,
      headers: merchant.headers,
    });
    expect(merchantView.json()).toMatchObject({ status: 'succeeded', paymentId: confirmed.json<Charge>().paymentId });
    expect(await pending()).toEqual([]);
  });

  it('moves nothing when the customer declines', async () => {
    nextStep();
    const before = await harness.balances(customer, merchant);
    const waiting = (await charge(merchant, device.code(), 120_000)).json<Charge>();
    const declined = await inject({
      method: 'POST',
      url: `/v1/payment-codes/confirmations/${waiting.id}/decline`,
      headers: customer.headers,
    });
    expect(declined.statusCode, declined.body).toBe(200);
    expect(declined.json()).toMatchObject({ status: 'declined' });
    const late = await confirm(waiting.id);
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ code: 'charge_not_awaiting' });
    expect((await harness.balances(customer, merchant)).wallet).toBe(before.wallet);
  });

  it('expires an unconfirmed charge after two minutes', async () => {
    nextStep();
    const waiting = (await charge(merchant, device.code(), 110_000)).json<Charge>();
    clockMs += 121_000;
    expect(await pending()).toEqual([]);
    const late = await confirm(waiting.id);
    expect(late.statusCode).toBe(409);
    expect(late.json()).toMatchObject({ code: 'charge_expired' });
    const view = await inject({
      method: 'GET',
      url: `/v1/merchant/payment-code-charges/${waiting.id}`,
      headers: merchant.headers,
    });
    expect(view.json()).toMatchObject({ status: 'expired', paymentId: null });
  });

  it('asks the customer instead when the risk engine wants more than the code (no PIN, no second factor)', async () => {
    nextStep();
    // Under the no-PIN limit, but 500 yuan or more from a Class I account: the default rules challenge it.
    const response = await charge(merchant, device.code(), 60_000);
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toMatchObject({ status: 'awaiting_confirmation', paymentId: null });
  });

  it("asks for the PIN once the day's no-PIN charges would pass the cap", async () => {
    const spender = await harness.newCustomer(1_000_000n);
    const phone = await enrol(spender);
    // Each under 500 yuan, so the risk engine lets Class I pay them with the code alone.
    for (const amount of [45_000, 45_000, 45_000, 45_000]) {
      nextStep();
      const response = await charge(merchant, phone.code(), amount);
      expect(response.json()).toMatchObject({ status: 'succeeded' });
    }
    nextStep();
    const over = await charge(merchant, phone.code(), 30_000);
    expect(over.json()).toMatchObject({ status: 'awaiting_confirmation' });
    nextStep();
    const within = await charge(merchant, phone.code(), 20_000);
    expect(within.json()).toMatchObject({ status: 'succeeded' });
    // Confirmed charges are the customer's own PIN payments: they do not use up the no-PIN cap.
    const confirmed = await inject({
      method: 'POST',
      url: `/v1/payment-codes/confirmations/${over.json<Charge>().id}`,
      headers: { ...spender.headers, 'idempotency-key': newKey() },
      payload: { pin: PIN },
    });
    expect(confirmed.json()).toMatchObject({ status: 'succeeded' });
    expect((await harness.balances(spender, merchant)).wallet).toBe(1_000_000n - 230_000n);
  });

  it('lets nobody else confirm or see a customer’s charge', async () => {
    nextStep();
    const waiting = (await charge(merchant, device.code(), 130_000)).json<Charge>();
    const stranger = await harness.newCustomer();
    const response = await inject({
      method: 'POST',
      url: `/v1/payment-codes/confirmations/${waiting.id}`,
      headers: { ...stranger.headers, 'idempotency-key': newKey() },
      payload: { pin: PIN },
    });
    expect(response.statusCode).toBe(404);
    const otherMerchant = await harness.newMerchant(0, '隔壁店');
    const peek = await inject({
      method: 'GET',
      url: `/v1/merchant/payment-code-charges/${waiting.id}`,
      headers: otherMerchant.headers,
    });
    expect(peek.statusCode).toBe(404);
  });
});
