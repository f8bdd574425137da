/**
 * Payments over HTTP against a real database: merchant QR codes (static and dynamic) paid with the PIN,
 * checkout orders, refunds in proportion, every refusal with its problem code and nothing moved, and the
 * ledger's invariant after all of it.
 */
import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPaymentsHarness,
  PIN,
  type PaymentsHarness,
  type TestCustomer,
  type TestMerchant,
} from './test/harness.js';
import { buildYikaMpm, crc16CcittFalse, parseMpm } from './emvco.js';

let harness: PaymentsHarness;
let keyCounter = 0;
const newKey = () => `pay-test-${process.pid}-${++keyCounter}`;

beforeAll(async () => {
  harness = await openPaymentsHarness({ STEP_UP_THRESHOLD_FEN: '50000', PAYMENT_CODE_NO_PIN_LIMIT_FEN: '50000' });
}, 60_000);

afterAll(async () => {
  if (harness) {
    expect((await harness.fixture.ledger.verify()).violations).toEqual([]);
    await harness.close();
  }
});

const inject = (options: InjectOptions) => harness.fixture.app.inject(options);

async function staticPayload(merchant: TestMerchant): Promise<string> {
  const response = await inject({ method: 'GET', url: '/v1/merchant/qr-codes/static', headers: merchant.headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.json<{ payload: string }>().payload;
}

async function dynamicOrder(merchant: TestMerchant, amount: number, extra: object = {}) {
  const response = await inject({
    method: 'POST',
    url: '/v1/merchant/qr-codes/dynamic',
    headers: merchant.headers,
    payload: { amount, description: 'Two bowls of noodles', ...extra },
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ id: string; qrPayload: string; status: string; amount: number }>();
}

async function pay(customer: TestCustomer, payload: object, key: string | null = newKey()) {
  return inject({
    method: 'POST',
    url: '/v1/payments/qr/pay',
    headers: { ...customer.headers, ...(key === null ? {} : { 'idempotency-key': key }) },
    payload: { pin: PIN, ...payload },
  });
}

async function refund(merchant: TestMerchant, paymentId: string, amount: number, key = newKey()) {
  return inject({
    method: 'POST',
    url: `/v1/merchant/payments/${paymentId}/refunds`,
    headers: { ...merchant.headers, 'idempotency-key': key },
    payload: { amount, reason: 'customer changed their mind' },
  });
}

describe('merchant-presented QR codes', () => {
  let merchant: TestMerchant;
  let customer: TestCustomer;

  beforeAll(async () => {
    merchant = await harness.newMerchant(60);
    customer = await harness.newCustomer(100_000n);
  });

  it('renders the static code as EMVCo text, PNG and SVG', async () => {
    const payload = await staticPayload(merchant);
    const parsed = parseMpm(payload);
    expect(parsed.pointOfInitiation).toBe('static');
    expect(parsed.amount).toBeNull();
    expect(parsed.merchantAccounts[0]?.fields['01']).toBe(merchant.id);
    const png = await inject({ method: 'GET', url: '/v1/merchant/qr-codes/static/image', headers: merchant.headers });
    expect(png.statusCode).toBe(200);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    const svg = await inject({
      method: 'GET',
      url: '/v1/merchant/qr-codes/static/image?format=svg',
      headers: merchant.headers,
    });
    expect(svg.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(svg.body).toContain('<svg');
  });

  it('builds codes for names of emoji and rare characters (outside the BMP) without splitting one', async () => {
    const emoji = await harness.newMerchant(60, '🍜'.repeat(20));
    const rare = await harness.newMerchant(60, '𠀀𪚥'.repeat(10));
    for (const [shop, character] of [
      [emoji, '🍜'],
      [rare, '𠀀'],
    ] as const) {
      const parsed = parseMpm(await staticPayload(shop));
      expect(parsed.merchantName.length).toBeLessThanOrEqual(25);
      expect(parsed.merchantName.startsWith(character)).toBe(true);
      expect(parsed.merchantName).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
    }
  });

  it('previews a static code (no amount) and a dynamic code (its amount and order)', async () => {
    const preview = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload: await staticPayload(merchant) },
    });
    expect(preview.statusCode, preview.body).toBe(200);
    expect(preview.json()).toMatchObject({
      kind: 'static',
      amount: null,
      merchant: { id: merchant.id, displayName: '小王面馆', mcc: '5812' },
    });
    const order = await dynamicOrder(merchant, 2_550);
    const dynamic = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload: order.qrPayload },
    });
    expect(dynamic.json()).toMatchObject({ kind: 'dynamic', amount: 2_550, orderId: order.id });
  });

  it('refuses a valid EMVCo code that is not Yika’s, and names what is wrong with a broken one', async () => {
    // A Thai PromptPay-style code: valid EMVCo, another scheme's account template (29), another currency.
    const tlv = (id: string, value: string) => `${id}${String(value.length).padStart(2, '0')}${value}`;
    const foreign = `${tlv('00', '01')}${tlv('01', '12')}${tlv('29', tlv('00', 'A000000677010111') + tlv('01', '0066888888888'))}${tlv('52', '5812')}${tlv('53', '764')}${tlv('54', '10.00')}${tlv('58', 'TH')}${tlv('59', 'Some Shop')}${tlv('60', 'Bangkok')}6304`;
    const payload = foreign + crc16CcittFalse(foreign).toString(16).toUpperCase().padStart(4, '0');
    const notYika = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload },
    });
    expect(notYika.statusCode, notYika.body).toBe(422);
    expect(notYika.json()).toMatchObject({ code: 'qr_not_yika' });
    const good = await staticPayload(merchant);
    // Change the CRC's last character to another one (the CRC differs per merchant id).
    const broken = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    const invalid = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload: broken },
    });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json()).toMatchObject({ code: 'qr_invalid', dataObject: '63' });
    const unknown = buildYikaMpm({
      merchantId: '01890000-0000-7000-8000-000000000000',
      mcc: '5812',
      merchantName: 'Nobody',
      merchantCity: 'Nowhere',
    });
    const stranger = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload: unknown },
    });
    expect(stranger.json()).toMatchObject({ code: 'qr_unknown_merchant' });
  });

  it('pays a static code: wallet → merchant (gross), merchant → Yika (fee, half-up), in one chain', async () => {
    const before = await harness.balances(customer, merchant);
    // 60 bps of 1,234 fen = 7.404 → 7 fen.
    const response = await pay(customer, { payload: await staticPayload(merchant), amount: 1_234 });
    expect(response.statusCode, response.body).toBe(201);
    const payment = response.json<{ id: string; fee: number; status: string; method: string }>();
    expect(payment).toMatchObject({ amount: 1_234, fee: 7, status: 'succeeded', method: 'static_qr' });
    const after = await harness.balances(customer, merchant);
    expect(after.wallet - before.wallet).toBe(-1_234n);
    expect(after.settlement - before.settlement).toBe(1_227n);
    expect(after.fees - before.fees).toBe(7n);
    const seen = await inject({ method: 'GET', url: `/v1/merchant/payments/${payment.id}`, headers: merchant.headers });
    expect(seen.json()).toMatchObject({ id: payment.id, status: 'succeeded', refundedAmount: 0 });
    const mine = await inject({ method: 'GET', url: `/v1/payments/${payment.id}`, headers: customer.headers });
    expect(mine.statusCode).toBe(200);
    // The event was written with the money, in the same transaction.
    const { rows } = await harness.fixture.db.query<{ type: string; payload: { payment: { id: string } } }>(
      `select type, payload from outbox_events where subject = $1 order by created_at`,
      [`merchant:${merchant.id}`],
    );
    expect(rows.map((row) => [row.type, row.payload.payment.id])).toContainEqual(['payment.succeeded', payment.id]);
  });

  it('answers a retried payment with the first answer and moves the money once', async () => {
    const payload = await staticPayload(merchant);
    const key = newKey();
    const before = await harness.balances(customer, merchant);
    const first = await pay(customer, { payload, amount: 500 }, key);
    const second = await pay(customer, { payload, amount: 500 }, key);
    expect(first.statusCode).toBe(201);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(second.json()).toEqual(first.json());
    expect((await harness.balances(customer, merchant)).wallet - before.wallet).toBe(-500n);
    const reused = await pay(customer, { payload, amount: 600 }, key);
    expect(reused.statusCode).toBe(409);
    expect(reused.json()).toMatchObject({ code: 'idempotency_key_reused' });
    const missing = await pay(customer, { payload, amount: 600 }, null);
    expect(missing.json()).toMatchObject({ code: 'idempotency_key_required' });
  });

  it('pays a dynamic code once, for its own amount; mismatch, reuse, expiry and closing are refused', async () => {
    const order = await dynamicOrder(merchant, 3_000);
    const before = await harness.balances(customer, merchant);
    const mismatch = await pay(customer, { payload: order.qrPayload, amount: 2_999 });
    expect(mismatch.statusCode).toBe(422);
    expect(mismatch.json()).toMatchObject({ code: 'amount_mismatch', orderAmount: 3_000 });
    expect(await harness.balances(customer, merchant)).toEqual(before);

    const paidKey = newKey();
    const paid = await pay(customer, { payload: order.qrPayload }, paidKey);
    expect(paid.statusCode, paid.body).toBe(201);
    expect(paid.json()).toMatchObject({ amount: 3_000, fee: 18, method: 'dynamic_qr', orderId: order.id });
    const retried = await pay(customer, { payload: order.qrPayload }, paidKey);
    expect(retried.statusCode).toBe(201);
    expect(retried.headers['idempotent-replayed']).toBe('true');
    const again = await pay(customer, { payload: order.qrPayload });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'order_paid' });
    const queried = await inject({ method: 'GET', url: `/v1/merchant/orders/${order.id}`, headers: merchant.headers });
    expect(queried.json()).toMatchObject({ status: 'paid', paymentId: paid.json<{ id: string }>().id });
    // The preview says so before the customer is asked for a PIN.
    const preview = await inject({
      method: 'POST',
      url: '/v1/payments/qr/preview',
      headers: customer.headers,
      payload: { payload: order.qrPayload },
    });
    expect(preview.statusCode).toBe(409);
    expect(preview.json()).toMatchObject({ code: 'order_paid' });

    const expiring = await dynamicOrder(merchant, 1_000);
    await harness.fixture.db.query(`update payment_orders set expires_at = now() - interval '1 second' where id = $1`, [
      expiring.id,
    ]);
    const mid = await harness.balances(customer, merchant);
    const expired = await pay(customer, { payload: expiring.qrPayload });
    expect(expired.statusCode).toBe(409);
    expect(expired.json()).toMatchObject({ code: 'order_expired' });

    const closing = await dynamicOrder(merchant, 1_000);
    const closed = await inject({
      method: 'POST',
      url: `/v1/merchant/orders/${closing.id}/close`,
      headers: merchant.headers,
    });
    expect(closed.json()).toMatchObject({ status: 'closed' });
    const afterClose = await pay(customer, { payload: closing.qrPayload });
    expect(afterClose.json()).toMatchObject({ code: 'order_closed' });
    for (const [code, payload] of [
      ['order_expired', expiring.qrPayload],
      ['order_closed', closing.qrPayload],
    ]) {
      const preview = await inject({
        method: 'POST',
        url: '/v1/payments/qr/preview',
        headers: customer.headers,
        payload: { payload },
      });
      expect(preview.json()).toMatchObject({ status: 409, code });
    }
    expect(await harness.balances(customer, merchant)).toEqual(mid);
  });

  it('refuses a wrong PIN, a static code without an amount, and insufficient funds, moving nothing', async () => {
    const poor = await harness.newCustomer(100n);
    const payload = await staticPayload(merchant);
    const before = await harness.balances(poor, merchant);
    const wrongPin = await pay(poor, { payload, amount: 50, pin: '000000' });
    expect(wrongPin.statusCode).toBe(422);
    expect(wrongPin.json()).toMatchObject({ code: 'pin_invalid' });
    const noAmount = await pay(poor, { payload });
    expect(noAmount.json()).toMatchObject({ code: 'amount_required' });
    const tooMuch = await pay(poor, { payload, amount: 101 });
    expect(tooMuch.statusCode).toBe(422);
    expect(tooMuch.json()).toMatchObject({ code: 'insufficient_funds' });
    const order = await dynamicOrder(merchant, 5_000);
    const orderTooMuch = await pay(poor, { payload: order.qrPayload });
    expect(orderTooMuch.json()).toMatchObject({ code: 'insufficient_funds' });
    const still = await inject({ method: 'GET', url: `/v1/merchant/orders/${order.id}`, headers: merchant.headers });
    expect(still.json()).toMatchObject({ status: 'open', paymentId: null });
    expect(await harness.balances(poor, merchant)).toEqual(before);
    const { rows } = await harness.fixture.db.query(`select 1 from merchant_payments where customer_id = $1`, [
      poor.customerId,
    ]);
    expect(rows).toHaveLength(0);
  });

  it('asks for a second factor at the step-up threshold, as wallet transfers do', async () => {
    const rich = await harness.newCustomer(90_000n);
    const response = await pay(rich, { payload: await staticPayload(merchant), amount: 60_000 });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'step_up_required' });
  });

  it('counts merchant payments against the payment-account limits (Class I: 1,000.00 since opening)', async () => {
    const spender = await harness.newCustomer(100_000n);
    const payload = await staticPayload(merchant);
    expect((await pay(spender, { payload, amount: 49_000 })).statusCode).toBe(201);
    expect((await pay(spender, { payload, amount: 49_000 })).statusCode).toBe(201);
    const over = await pay(spender, { payload, amount: 3_000 });
    expect(over.statusCode).toBe(422);
    expect(over.json()).toMatchObject({ code: 'limit_exceeded' });
  });

  it('refuses payments to a suspended merchant, and its attempts to create codes', async () => {
    const other = await harness.newMerchant(30, '老李水果');
    const payload = await staticPayload(other);
    const order = await dynamicOrder(other, 800);
    const suspended = await inject({
      method: 'POST',
      url: `/v1/ops/merchants/${other.id}/decisions`,
      headers: harness.ops,
      payload: { decision: 'suspend', reason: 'documents expired' },
    });
    expect(suspended.json()).toMatchObject({ status: 'suspended' });
    const before = await harness.balances(customer, other);
    expect((await pay(customer, { payload, amount: 100 })).json()).toMatchObject({ code: 'merchant_not_active' });
    expect((await pay(customer, { payload: order.qrPayload })).json()).toMatchObject({ code: 'merchant_not_active' });
    const create = await inject({
      method: 'POST',
      url: '/v1/merchant/qr-codes/dynamic',
      headers: other.headers,
      payload: { amount: 100 },
    });
    expect(create.statusCode).toBe(403);
    expect(create.json()).toMatchObject({ code: 'merchant_not_active' });
    expect(await harness.balances(customer, other)).toEqual(before);
  });
});

describe('refunds', () => {
  let merchant: TestMerchant;
  let customer: TestCustomer;

  beforeAll(async () => {
    merchant = await harness.newMerchant(50, '便利店');
    customer = await harness.newCustomer(50_000n);
  });

  async function paid(amount: number): Promise<{ id: string; fee: number }> {
    const response = await pay(customer, { payload: await staticPayload(merchant), amount });
    expect(response.statusCode, response.body).toBe(201);
    return response.json();
  }

  it('refunds in parts that give the fee back in proportion and sum exactly to the payment', async () => {
    const payment = await paid(1_001); // fee 50 bps of 1,001 = 5.005 → 5
    expect(payment.fee).toBe(5);
    const before = await harness.balances(customer, merchant);
    const first = await refund(merchant, payment.id, 500);
    expect(first.statusCode, first.body).toBe(201);
    expect(first.json()).toMatchObject({ amount: 500, feeShare: 2, status: 'succeeded' }); // 5 × 500/1001 = 2.497 → 2
    const second = await refund(merchant, payment.id, 300);
    expect(second.json()).toMatchObject({ feeShare: 2 }); // 5 × 800/1001 = 3.996 → 4, minus 2
    const last = await refund(merchant, payment.id, 201);
    expect(last.json()).toMatchObject({ feeShare: 1 }); // the rest of the fee
    const after = await harness.balances(customer, merchant);
    expect(after.wallet - before.wallet).toBe(1_001n);
    expect(after.settlement - before.settlement).toBe(-(1_001n - 5n));
    expect(after.fees - before.fees).toBe(-5n);
    const list = await inject({
      method: 'GET',
      url: `/v1/merchant/payments/${payment.id}/refunds`,
      headers: merchant.headers,
    });
    expect(list.json<{ refunds: unknown[] }>().refunds).toHaveLength(3);
    const view = await inject({ method: 'GET', url: `/v1/merchant/payments/${payment.id}`, headers: merchant.headers });
    expect(view.json()).toMatchObject({ refundedAmount: 1_001 });
  });

  it('never refunds more than was paid, and changes nothing when it refuses', async () => {
    const payment = await paid(2_000);
    expect((await refund(merchant, payment.id, 1_500)).statusCode).toBe(201);
    const before = await harness.balances(customer, merchant);
    const over = await refund(merchant, payment.id, 501);
    expect(over.statusCode).toBe(422);
    expect(over.json()).toMatchObject({ code: 'refund_exceeds_payment', refundable: 500 });
    expect(await harness.balances(customer, merchant)).toEqual(before);
  });

  it("refuses to refund another merchant's payment (as not found)", async () => {
    const payment = await paid(700);
    const stranger = await harness.newMerchant(10, '隔壁店');
    const response = await refund(stranger, payment.id, 100);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 'not_found' });
  });

  it('replays a refund retried with the same key, once', async () => {
    const payment = await paid(900);
    const key = newKey();
    const first = await refund(merchant, payment.id, 400, key);
    const again = await refund(merchant, payment.id, 400, key);
    expect(again.json()).toEqual(first.json());
    expect(again.headers['idempotent-replayed']).toBe('true');
    const view = await inject({ method: 'GET', url: `/v1/merchant/payments/${payment.id}`, headers: merchant.headers });
    expect(view.json()).toMatchObject({ refundedAmount: 400 });
  });

  it('refuses a refund the merchant can no longer cover awaiting settlement', async () => {
    const lonely = await harness.newMerchant(0, '小摊');
    const buyer = await harness.newCustomer(5_000n);
    const paidResponse = await pay(buyer, { payload: await staticPayload(lonely), amount: 1_000 });
    const payment = paidResponse.json<{ id: string }>();
    // The merchant's money leaves its settlement account (as settlement would pay it out).
    const { accountIdFor, newId } = await import('@yika/ledger');
    const { merchantSettlementAccountId } = await import('../merchants/index.js');
    const [moved] = await harness.fixture.ledger.submit([
      {
        id: newId(),
        debitAccountId: merchantSettlementAccountId(lonely.id),
        creditAccountId: accountIdFor('system', 'bank-clearing.CNY'),
        amount: 900n,
        ledger: 156,
        code: 999,
      },
    ]);
    expect(moved?.result).toBe('ok');
    const response = await refund(lonely, payment.id, 500);
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ code: 'merchant_balance_insufficient' });
  });
});

describe("the customer's history and monthly bill", () => {
  it('list merchant payments and refunds with the balance after each, and the bill ties to the ledger', async () => {
    const merchant = await harness.newMerchant(60, '书店');
    const funder = await harness.newCustomer(10_000n);
    // Money that reached this wallet through a recorded movement only, so its bill can tie.
    const customer = await harness.newCustomer();
    const gift = await inject({
      method: 'POST',
      url: '/v1/wallet/transfers',
      headers: { ...funder.headers, 'idempotency-key': newKey() },
      payload: { phone: customer.phone, amount: 5_000, pin: PIN },
    });
    expect(gift.statusCode, gift.body).toBe(201);
    const payment = await pay(customer, { payload: await staticPayload(merchant), amount: 1_200 });
    expect(payment.statusCode, payment.body).toBe(201);
    expect((await refund(merchant, payment.json<{ id: string }>().id, 200)).statusCode).toBe(201);

    const history = await inject({ method: 'GET', url: '/v1/wallet/movements', headers: customer.headers });
    expect(history.statusCode, history.body).toBe(200);
    const movements = history.json<{
      movements: { type: string; amount: number; balanceAfter: number; counterparty: string }[];
    }>().movements;
    expect(movements.map(({ type, amount, balanceAfter }) => ({ type, amount, balanceAfter }))).toEqual([
      { type: 'merchant_refund', amount: 200, balanceAfter: 4_000 },
      { type: 'merchant_payment', amount: -1_200, balanceAfter: 3_800 },
      { type: 'p2p_in', amount: 5_000, balanceAfter: 5_000 },
    ]);
    expect(movements[1]!.counterparty).toBe('书店');

    const month = new Date().toLocaleDateString('sv-SE', { timeZone: 'Asia/Shanghai' }).slice(0, 7);
    const bill = await inject({ method: 'GET', url: `/v1/wallet/bills/${month}`, headers: customer.headers });
    expect(bill.statusCode, bill.body).toBe(200);
    expect(bill.json()).toMatchObject({ openingBalance: 0, income: 5_200, spending: 1_200, closingBalance: 4_000 });
  });
});

describe('online checkout', () => {
  it('creates an order by API, the customer pays it with the PIN, the merchant queries it paid', async () => {
    const merchant = await harness.newMerchant(60, '网店');
    const customer = await harness.newCustomer(10_000n);
    const created = await inject({
      method: 'POST',
      url: '/v1/merchant/orders',
      headers: merchant.headers,
      payload: {
        amount: 4_990,
        description: 'Headphones',
        merchantOrderNo: 'SO-1001',
        expiresInSeconds: 600,
        notifyUrl: 'https://shop.example.com/notify',
        returnUrl: 'https://shop.example.com/done',
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const order = created.json<{ id: string; channel: string; status: string }>();
    expect(order).toMatchObject({ channel: 'checkout', status: 'open' });
    const duplicate = await inject({
      method: 'POST',
      url: '/v1/merchant/orders',
      headers: merchant.headers,
      payload: { amount: 100, merchantOrderNo: 'SO-1001' },
    });
    expect(duplicate.json()).toMatchObject({ code: 'merchant_order_no_in_use' });

    const page = await inject({ method: 'GET', url: `/v1/checkout/${order.id}`, headers: customer.headers });
    expect(page.json()).toMatchObject({
      merchantName: '网店',
      amount: 4_990,
      returnUrl: 'https://shop.example.com/done',
    });
    const paid = await inject({
      method: 'POST',
      url: `/v1/checkout/${order.id}/pay`,
      headers: { ...customer.headers, 'idempotency-key': newKey() },
      payload: { pin: PIN },
    });
    expect(paid.statusCode, paid.body).toBe(201);
    expect(paid.json()).toMatchObject({ method: 'checkout', amount: 4_990, fee: 30 }); // 29.94 → 30
    const queried = await inject({ method: 'GET', url: `/v1/merchant/orders/${order.id}`, headers: merchant.headers });
    expect(queried.json()).toMatchObject({ status: 'paid' });
    const closePaid = await inject({
      method: 'POST',
      url: `/v1/merchant/orders/${order.id}/close`,
      headers: merchant.headers,
    });
    expect(closePaid.json()).toMatchObject({ code: 'order_paid' });
    const other = await harness.newMerchant(60, '别家');
    const foreign = await inject({ method: 'GET', url: `/v1/merchant/orders/${order.id}`, headers: other.headers });
    expect(foreign.statusCode).toBe(404);
  });

  it('refuses bad order input field by field', async () => {
    const merchant = await harness.newMerchant();
    const response = await inject({
      method: 'POST',
      url: '/v1/merchant/orders',
      headers: merchant.headers,
      payload: { amount: 0, expiresInSeconds: 10, notifyUrl: 'ftp://x' },
    });
    expect(response.statusCode).toBe(400);
    const fields = response.json<{ errors: { field: string }[] }>().errors.map((error) => error.field);
    expect(fields).toEqual(expect.arrayContaining(['amount', 'expiresInSeconds', 'notifyUrl']));
  });
});

describe('single use under concurrency, and the webhook of a real payment', () => {
  it('lets exactly one of two customers paying the same dynamic code at once succeed', async () => {
    const merchant = await harness.newMerchant(60, '抢购');
    const order = await dynamicOrder(merchant, 1_500);
    const [first, second] = await Promise.all([harness.newCustomer(5_000n), harness.newCustomer(5_000n)]);
    const responses = await Promise.all([
      pay(first, { payload: order.qrPayload }),
      pay(second, { payload: order.qrPayload }),
    ]);
    const statuses = responses.map((response) => response.statusCode).sort();
    expect(statuses).toEqual([201, 409]);
    const refused = responses.find((response) => response.statusCode === 409)!;
    expect(refused.json()).toMatchObject({ code: 'order_paid' });
    const { rows } = await harness.fixture.db.query(`select id from merchant_payments where order_id = $1`, [order.id]);
    expect(rows).toHaveLength(1);
    const total = (await harness.balances(first, merchant)).wallet + (await harness.balances(second, merchant)).wallet;
    expect(total).toBe(10_000n - 1_500n);
  });

  it('delivers payment.succeeded and refund.succeeded to the merchant’s endpoint, signed', async () => {
    const { createServer } = await import('node:http');
    const { createHmac } = await import('node:crypto');
    const bodies: { signature: string; body: string }[] = [];
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        bodies.push({ signature: String(request.headers['yika-signature']), body });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      const port = (receiver.address() as { port: number }).port;
      const merchant = await harness.newMerchant(60, '回调店');
      const endpoint = await inject({
        method: 'POST',
        url: '/v1/merchant/webhook-endpoints',
        headers: merchant.headers,
        payload: { url: `http://127.0.0.1:${port}/yika` },
      });
      const secret = endpoint.json<{ secret: string }>().secret;
      const customer = await harness.newCustomer(5_000n);
      const paid = await pay(customer, { payload: await staticPayload(merchant), amount: 2_000 });
      const paymentId = paid.json<{ id: string }>().id;
      expect((await refund(merchant, paymentId, 500)).statusCode).toBe(201);
      for (let round = 0; round < 20 && bodies.length < 2; round += 1) await harness.fixture.services.webhooks.run();
      const events = bodies.map(({ signature, body }) => {
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!;
        expect(createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')).toBe(v1);
        return JSON.parse(body) as { type: string; data: { payment?: { id: string }; refund?: { paymentId: string } } };
      });
      expect(events.map((event) => event.type)).toEqual(['payment.succeeded', 'refund.succeeded']);
      expect(events[0]!.data.payment?.id).toBe(paymentId);
      expect(events[1]!.data.refund?.paymentId).toBe(paymentId);
    } finally {
      receiver.closeAllConnections();
      await new Promise((resolve) => receiver.close(resolve));
    }
  });
});
