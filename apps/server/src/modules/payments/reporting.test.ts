/**
 * Merchant reports over HTTP against a real database: the payments list with each filter and cursor
 * paging (no row lost or repeated), the CSV export, takings per business date, and bad input as problems.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, localDate } from './settlement.dates.js';
import { openSettlementHarness, PIN, type Merchant, type SettlementHarness } from './test/settlement.harness.js';

interface Page {
  items: { id: string; method: string; amount: number; refundedAmount: number; createdAt: string }[];
  nextCursor: string | null;
}

let harness: SettlementHarness;
let shop: Merchant;
let other: Merchant;
const paid: string[] = [];
let dynamicPayment: string;
const today = localDate(Date.now(), 'Asia/Shanghai');

async function list(merchant: Merchant, query: string) {
  return harness.inject({ method: 'GET', url: `/v1/merchant/payments?${query}`, headers: merchant.headers });
}

async function ids(query: string): Promise<string[]> {
  const response = await list(shop, query);
  expect(response.statusCode, response.body).toBe(200);
  return response.json<Page>().items.map((item) => item.id);
}

beforeAll(async () => {
  harness = await openSettlementHarness();
  shop = await harness.newMerchant(60, '报表小店');
  other = await harness.newMerchant(60, '隔壁小店');
  const alice = await harness.newCustomer(50_000n);
  const bob = await harness.newCustomer(50_000n);
  paid.push(await harness.pay(alice, shop, 1_000));
  paid.push(await harness.pay(bob, shop, 2_000));
  paid.push(await harness.pay(alice, shop, 4_000));
  await harness.pay(bob, other, 700);
  const order = await harness.inject({
    method: 'POST',
    url: '/v1/merchant/qr-codes/dynamic',
    headers: shop.headers,
    payload: { amount: 3_000 },
  });
  expect(order.statusCode, order.body).toBe(201);
  const dynamic = await harness.inject({
    method: 'POST',
    url: '/v1/payments/qr/pay',
    headers: { ...bob.headers, 'idempotency-key': `reporting-${process.pid}-dynamic` },
    payload: { payload: order.json<{ qrPayload: string }>().qrPayload, pin: PIN },
  });
  expect(dynamic.statusCode, dynamic.body).toBe(201);
  dynamicPayment = dynamic.json<{ id: string }>().id;
  paid.push(dynamicPayment);
  await harness.refund(shop, paid[0]!, 1_000); // in full
  await harness.refund(shop, paid[1]!, 500); // in part
}, 240_000);

afterAll(async () => {
  await harness?.close();
});

describe('the payments list', { timeout: 120_000 }, () => {
  it('pages newest first with a cursor, losing and repeating nothing', async () => {
    const first = await list(shop, 'limit=3');
    expect(first.statusCode, first.body).toBe(200);
    const page = first.json<Page>();
    expect(page.items).toHaveLength(3);
    expect(page.nextCursor).not.toBeNull();
    const second = await list(shop, `limit=3&cursor=${encodeURIComponent(page.nextCursor!)}`);
    const rest = second.json<Page>();
    expect(rest.items).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();
    const all = [...page.items, ...rest.items];
    expect(all.map((item) => item.id)).toEqual([...paid].reverse());
    const times = all.map((item) => Date.parse(item.createdAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Another merchant's payment is never listed.
    expect(all).toHaveLength(4);
  });

  it('filters by method, refund state and business date or instant', async () => {
    expect(await ids('method=dynamic_qr')).toEqual([dynamicPayment]);
    expect((await ids('method=static_qr')).sort()).toEqual(paid.filter((id) => id !== dynamicPayment).sort());
    expect(await ids('status=refunded')).toEqual([paid[0]]);
    expect(await ids('status=partially_refunded')).toEqual([paid[1]]);
    expect(await ids('status=succeeded')).toHaveLength(4);
    expect(await ids('status=processing')).toEqual([]);
    expect(await ids(`from=${today}&to=${today}`)).toHaveLength(4);
    expect(await ids(`from=${addDays(today, 1)}`)).toEqual([]);
    expect(await ids(`to=${addDays(today, -1)}`)).toEqual([]);
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect(await ids(`from=${encodeURIComponent(future)}`)).toEqual([]);
    expect(await ids(`to=${encodeURIComponent(future)}&method=static_qr&status=refunded`)).toEqual([paid[0]]);
  });

  it("shows a store-bound staff member only that store's payments", async () => {
    // A store is known for payments taken at a cashier (payment-code charges carry it).
    const storeId = '0190a000-0000-7000-8000-00000000beef';
    await harness.fixture.db.query(
      `insert into payment_code_charges (id, merchant_id, customer_id, enrolment_id, store_id, amount, currency, status,
         payment_id, expires_at, created_at)
       values ($1, $2, $3, $4, $5, 4000, 'CNY', 'succeeded', $6, now(), now())`,
      [
        '0190a000-0000-7000-8000-0000000c0de1',
        shop.id,
        '0190a000-0000-7000-8000-00000000c057',
        '0190a000-0000-7000-8000-0000000e0e01',
        storeId,
        paid[2],
      ],
    );
    const reporting = harness.fixture.services.reporting;
    const page = await reporting.payments(shop.id, { storeId });
    expect(page.items.map((item) => item.id)).toEqual([paid[2]]);
    const summary = await reporting.summary(shop.id, 1, storeId);
    expect(summary.today).toEqual({ amount: 4_000, count: 1 });
    expect((await reporting.payments(shop.id, { storeId: null })).items).toHaveLength(4);
  });

  it('lists payments held for a risk review or failed by their own status, outside the takings', async () => {
    await harness.fixture.db.query(`update merchant_payments set status = 'in_review' where id = $1`, [dynamicPayment]);
    try {
      expect(await ids('status=in_review')).toEqual([dynamicPayment]);
      expect(await ids('status=succeeded')).toHaveLength(3);
      expect(await ids('status=failed')).toEqual([]);
      const page = await list(shop, 'method=dynamic_qr');
      expect(page.json<{ items: { status: string }[] }>().items[0]?.status).toBe('in_review');
      const summary = await harness.fixture.services.reporting.summary(shop.id, 1);
      expect(summary.today).toEqual({ amount: 7_000, count: 3 });
    } finally {
      await harness.fixture.db.query(`update merchant_payments set status = 'succeeded' where id = $1`, [
        dynamicPayment,
      ]);
    }
  });

  it('answers bad filters and a forged cursor with problems', async () => {
    const cursor = await list(shop, 'cursor=bm90LWEtY3Vyc29y');
    expect(cursor.statusCode).toBe(400);
    expect(cursor.json<{ code: string }>().code).toBe('cursor_invalid');
    const forged = Buffer.from(JSON.stringify(['2030-13-45T00:00:00.000000Z', paid[0]])).toString('base64url');
    expect((await list(shop, `cursor=${forged}`)).statusCode).toBe(400);
    for (const query of [
      'from=yesterday',
      'from=0000-01-01',
      'to=9999-12-31',
      'from=2030-02-30',
      'status=lost',
      'method=cash',
      'limit=0',
      'limit=101',
    ]) {
      const response = await list(shop, query);
      expect(response.statusCode, query).toBe(400);
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    const anonymous = await harness.inject({ method: 'GET', url: '/v1/merchant/payments' });
    expect(anonymous.statusCode).toBe(401);
  });
});

describe('the CSV export', { timeout: 120_000 }, () => {
  it('exports the filtered payments as UTF-8 CSV with a BOM', async () => {
    const response = await harness.inject({
      method: 'GET',
      url: '/v1/merchant/payments/export.csv',
      headers: shop.headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toContain('text/csv');
    expect(response.body.startsWith('\uFEFFpayment_id,created_at_local,')).toBe(true);
    const rows = response.body.slice(1).trim().split('\r\n');
    expect(rows).toHaveLength(5);
    expect(rows.find((row) => row.startsWith(paid[0]!))).toMatch(/,static_qr,,10\.00,1000,6,1000,refunded$/);
    const filtered = await harness.inject({
      method: 'GET',
      url: '/v1/merchant/payments/export.csv?method=dynamic_qr',
      headers: shop.headers,
    });
    expect(filtered.body.slice(1).trim().split('\r\n')).toHaveLength(2);
  });
});

describe('takings per business date', { timeout: 120_000 }, () => {
  it('sums today and the last days, refunds apart', async () => {
    const response = await harness.inject({
      method: 'GET',
      url: '/v1/merchant/summary?days=7',
      headers: shop.headers,
    });
    expect(response.statusCode, response.body).toBe(200);
    const summary = response.json<{
      currency: string;
      today: { amount: number; count: number };
      days: { date: string; amount: number; count: number; refunded: number }[];
    }>();
    expect(summary.currency).toBe('CNY');
    expect(summary.today).toEqual({ amount: 10_000, count: 4 });
    expect(summary.days).toHaveLength(7);
    expect(summary.days.at(-1)).toEqual({ date: today, amount: 10_000, count: 4, refunded: 1_500 });
    expect(summary.days[0]).toEqual({ date: addDays(today, -6), amount: 0, count: 0, refunded: 0 });
    const wrong = await harness.inject({ method: 'GET', url: '/v1/merchant/summary?days=0', headers: shop.headers });
    expect(wrong.statusCode).toBe(400);
  });
});
