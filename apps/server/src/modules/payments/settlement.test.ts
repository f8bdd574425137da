/**
 * T+1 settlement against a real database and the real bank-sim: business dates across a cut-off with
 * payments on both sides, a refund today of yesterday's payment, fees and their refunded share, all tied
 * to the ledger to the fen; payouts posted on the bank's success (status query or signed callback), voided
 * on its failure and retried; carried forward without a card; an idempotent job; and the check that
 * proves the stored files still tie (and catches a tampered file and a missing line).
 *
 * The clock: the ledger stamps transfers with `Date.now()`, so the test fakes `Date` (only `Date`) and moves
 * it forward across cut-offs, a few days ahead of the real time.
 */
import { signCallback } from '@yika/bank-sim';
import { accountIdFor, newId, TransferFlags } from '@yika/ledger';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { merchantSettlementAccountId } from '../merchants/index.js';
import { addDays, localDate, localToUtcMs } from './settlement.dates.js';
import { parseFile, sha256OfFile } from './settlement.file.js';
import type { SettlementView } from './settlement.service.js';
import {
  BANK_CALLBACK_SECRET,
  openSettlementHarness,
  type Customer,
  type Merchant,
  type SettlementHarness,
} from './test/settlement.harness.js';

const ZONE = 'Asia/Shanghai';
const D1 = addDays(localDate(Date.now(), ZONE), 2);
const D2 = addDays(D1, 1);
const D3 = addDays(D1, 2);
const D4 = addDays(D1, 3);
/** Local wall time on a date, as the fake clock's instant. */
const at = (date: string, hour: number, minute: number) => localToUtcMs(date, hour * 60 + minute, ZONE);
const setClock = (ms: number) => vi.setSystemTime(ms);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let harness: SettlementHarness;
let shop: Merchant;
let stall: Merchant;
let alice: Customer;
let bob: Customer;
let p1: string;

async function batch(merchant: Merchant, date: string): Promise<SettlementView> {
  const list = await harness.inject({ method: 'GET', url: '/v1/merchant/settlements', headers: merchant.headers });
  expect(list.statusCode, list.body).toBe(200);
  const found = list.json<{ items: SettlementView[] }>().items.find((item) => item.businessDate === date);
  expect(found, `a settlement of ${date}`).toBeDefined();
  return found!;
}

/** Polls the bank (status query) until the batch's payout is final; bounded. */
async function settleWithBank(merchant: Merchant, date: string): Promise<SettlementView> {
  for (let round = 0; round < 100; round += 1) {
    const view = await batch(merchant, date);
    if (view.status !== 'pending') return view;
    await sleep(30);
    await harness.fixture.services.settlement.pollPayouts();
  }
  throw new Error(`the payout of ${date} never became final`);
}

async function settlementAccount(merchant: Merchant) {
  const [account] = await harness.fixture.ledger.lookupAccounts([merchantSettlementAccountId(merchant.id)]);
  return account!;
}

beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  setClock(at(D1, 23, 40));
  harness = await openSettlementHarness({ SETTLEMENT_CUTOFF: '00:00', SETTLEMENT_GRACE_MS: '60000' });
  shop = await harness.newMerchant(60, '老街茶铺');
  stall = await harness.newMerchant(60, '街角面馆');
  alice = await harness.newCustomer(90_000n);
  bob = await harness.newCustomer(90_000n);
  await harness.verifyCard(shop);
}, 240_000);

afterAll(async () => {
  if (harness) {
    expect((await harness.fixture.ledger.verify()).violations).toEqual([]);
    await harness.close();
  }
  vi.useRealTimers();
});

describe('settlement across a cut-off', { timeout: 240_000 }, () => {
  it('settles the first date T+1: payments less fees, paid out and posted on the bank success', async () => {
    setClock(at(D1, 23, 50));
    p1 = await harness.pay(alice, shop, 10_000); // fee 60
    await harness.pay(bob, shop, 5_000); // fee 30
    await harness.pay(alice, stall, 1_000); // fee 6; the stall has no card yet

    // Before the cut-off (and its grace) nothing is due.
    setClock(at(D2, 0, 0) + 30_000);
    expect((await harness.fixture.services.settlement.run()).settled).toBe(0);

    setClock(at(D2, 0, 5));
    const report = await harness.fixture.services.settlement.run();
    expect(report.settled).toBe(2);
    const pending = await batch(shop, D1);
    expect(pending).toMatchObject({
      status: 'pending',
      gross: 15_000,
      refunds: 0,
      fees: 90,
      net: 14_910,
      carriedIn: 0,
      payoutAmount: 14_910,
      carriedOut: 0,
      paymentCount: 2,
      cardLast4: '3446',
    });
    // Held at once: the hold reserves the money the refunds could otherwise take.
    expect((await settlementAccount(shop)).debitsPending).toBe(14_910n);

    const paid = await settleWithBank(shop, D1);
    expect(paid.status).toBe('paid');
    expect(paid.paidAt).not.toBeNull();
    const account = await settlementAccount(shop);
    expect(account.debitsPending).toBe(0n);
    expect(account.creditsPosted - account.debitsPosted).toBe(0n);

    const events = await harness.fixture.db.query<{ payload: { settlement: SettlementView } }>(
      `select payload from outbox_events where type = 'settlement.completed' and subject = $1`,
      [`merchant:${shop.id}`],
    );
    expect(events.rows.map((row) => row.payload.settlement.businessDate)).toEqual([D1]);
  });

  it('carries the net forward while the merchant has no verified card, and pays it once there is one', async () => {
    const first = await batch(stall, D1);
    expect(first).toMatchObject({ status: 'empty', net: 994, payoutAmount: 0, carriedOut: 994, cardLast4: null });
    const file = await harness.inject({
      method: 'GET',
      url: `/v1/merchant/settlements/${first.id}/file`,
      headers: stall.headers,
    });
    expect(file.body).toContain('payout,carried_forward');
    expect(file.body).toContain('No verified settlement card yet');
    setClock(at(D2, 0, 8));
    await harness.verifyCard(stall, '6222021234567890128');
  });

  it('settles the next date with a refund of the previous date, fee shares, and the earlier payout', async () => {
    setClock(at(D2, 0, 10));
    await harness.pay(alice, shop, 20_000); // fee 120
    await harness.refund(shop, p1, 4_000); // of yesterday's payment: fee share 24 comes back
    setClock(at(D2, 23, 59));
    await harness.pay(bob, shop, 3_000); // fee 18, one minute before the cut-off
    setClock(at(D3, 0, 0) + 61_000);
    // Two processes at once: one batch per merchant and date, one payout.
    const settlement = harness.fixture.services.settlement;
    await Promise.all([settlement.run(), settlement.run()]);
    const counts = await harness.fixture.db.query<{ batches: string; payouts: string }>(
      `select count(distinct b.id)::text as batches, count(p.id)::text as payouts
       from settlement_batches b left join settlement_payouts p on p.batch_id = b.id
       where b.merchant_id = $1 and b.business_date = $2`,
      [shop.id, D2],
    );
    expect(counts.rows[0]).toEqual({ batches: '1', payouts: '1' });

    const second = await batch(shop, D2);
    expect(second).toMatchObject({
      status: 'pending',
      gross: 23_000,
      refunds: 4_000,
      fees: 120 + 18 - 24,
      net: 18_886,
      payoutAmount: 18_886,
      paymentCount: 2,
      refundCount: 1,
    });
    const stallSecond = await batch(stall, D2);
    expect(stallSecond).toMatchObject({ net: 0, carriedIn: 994, payoutAmount: 994, carriedOut: 0 });

    const file = await harness.inject({
      method: 'GET',
      url: `/v1/merchant/settlements/${second.id}/file`,
      headers: shop.headers,
    });
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toContain('text/csv');
    expect(file.body.startsWith('\uFEFF')).toBe(true);
    expect(file.headers['x-content-sha256']).toBe(sha256OfFile(file.body));
    const parsed = parseFile(file.body);
    expect(parsed.lines.map((line) => line.type).sort()).toEqual(
      ['fee', 'fee', 'payment', 'payment', 'payout_hold', 'payout_post', 'refund', 'refund_fee'].sort(),
    );
    expect(parsed.totals.get('net')?.amount).toBe(18_886n);
    // The account changed by the net less yesterday's payout posted in this window.
    expect(parsed.totals.get('ledger_change')?.amount).toBe(18_886n - 14_910n);
    expect(file.body).toContain(`window_local,${D2}T00:00:00.000+08:00,${D3}T00:00:00.000+08:00`);
    expect(file.body).toMatch(/\r\npayment,[0-9a-f-]{36},[0-9a-f-]{36},,,,[^,]+,[^,]+,\d+,30\.00,3000\r\n/);
  });

  it('posts a payout on the signed bank callback; a forged callback is refused', async () => {
    const { rows } = await harness.fixture.db.query<{ id: string }>(
      `select p.id from settlement_payouts p join settlement_batches b on b.id = p.batch_id
       where b.merchant_id = $1 and b.business_date = $2`,
      [shop.id, D2],
    );
    const payoutId = rows[0]!.id;
    let outcome: Record<string, unknown> = {};
    for (let round = 0; round < 100 && outcome.status !== 'succeeded'; round += 1) {
      await sleep(30);
      const status = await fetch(new URL(`/v1/payments/${payoutId}`, harness.simUrl), {
        headers: { authorization: 'Bearer settlement-test-key' },
      });
      outcome = (await status.json()) as Record<string, unknown>;
    }
    expect(outcome.status).toBe('succeeded');
    const body = JSON.stringify(outcome);
    const forged = await harness.inject({
      method: 'POST',
      url: '/v1/bank/settlement-callbacks',
      headers: {
        'content-type': 'application/json',
        'x-bank-signature': signCallback('wrong-secret', body, Math.floor(Date.now() / 1000)),
      },
      payload: body,
    });
    expect(forged.statusCode).toBe(401);
    expect((await batch(shop, D2)).status).toBe('pending');
    const signed = await harness.inject({
      method: 'POST',
      url: '/v1/bank/settlement-callbacks',
      headers: {
        'content-type': 'application/json',
        'x-bank-signature': signCallback(BANK_CALLBACK_SECRET, body, Math.floor(Date.now() / 1000)),
      },
      payload: body,
    });
    expect(signed.statusCode, signed.body).toBe(204);
    expect((await batch(shop, D2)).status).toBe('paid');
    await settleWithBank(stall, D2);
  });

  it('voids the hold when the bank fails the payout, and pays on the next run', async () => {
    setClock(at(D3, 10, 0));
    await harness.pay(bob, shop, 2_000); // fee 12
    await harness.faults({ failureRate: 1 });
    setClock(at(D4, 0, 5));
    const settlement = harness.fixture.services.settlement;
    await settlement.run();
    const failed = await settleWithBank(shop, D3);
    expect(failed).toMatchObject({ status: 'failed', failureReason: 'bank_error', payoutAmount: 1_988 });
    let account = await settlementAccount(shop);
    expect(account.debitsPending).toBe(0n);
    expect(account.creditsPosted - account.debitsPosted).toBe(1_988n);

    await harness.faults({ failureRate: 0 });
    const report = await settlement.run();
    expect(report.retried).toBe(1);
    const paid = await settleWithBank(shop, D3);
    expect(paid.status).toBe('paid');
    account = await settlementAccount(shop);
    expect(account.creditsPosted - account.debitsPosted).toBe(0n);
    const attempts = await harness.fixture.db.query<{ status: string }>(
      `select p.status from settlement_payouts p join settlement_batches b on b.id = p.batch_id
       where b.merchant_id = $1 and b.business_date = $2 order by p.created_at`,
      [shop.id, D3],
    );
    expect(attempts.rows.map((row) => row.status)).toEqual(['failed', 'succeeded']);

    // The next date lists both attempts' holds, the void and the post, and still ties.
    setClock(at(addDays(D4, 1), 0, 5));
    await settlement.run();
    const fourth = await batch(shop, D4);
    expect(fourth).toMatchObject({ status: 'empty', net: 0, payoutAmount: 0 });
    const file = await harness.inject({
      method: 'GET',
      url: `/v1/merchant/settlements/${fourth.id}/file`,
      headers: shop.headers,
    });
    expect(file.statusCode, file.body).toBe(200);
    expect(parseFile(file.body).lines.map((line) => line.type)).toEqual([
      'payout_hold',
      'payout_void',
      'payout_hold',
      'payout_post',
    ]);
  });
});

describe('money held for a risk review', { timeout: 240_000 }, () => {
  it('counts a held payment once it is posted; a hold released unposted moves nothing', async () => {
    const D5 = addDays(D4, 1);
    setClock(at(D5, 9, 0));
    const { ledger } = harness.fixture;
    const account = merchantSettlementAccountId(shop.id);
    const wallet = accountIdFor('wallet', alice.customerId);
    const held = newId();
    const released = newId();
    const pending = {
      debitAccountId: wallet,
      creditAccountId: account,
      ledger: 156,
      code: 201,
      flags: TransferFlags.pending,
    };
    const holds = await ledger.submit([
      { ...pending, id: held, amount: 700n },
      { ...pending, id: released, amount: 300n },
    ]);
    expect(holds.map((result) => result.result)).toEqual(['ok', 'ok']);
    const resolved = await ledger.submit([
      { id: newId(), pendingId: held, flags: TransferFlags.postPending },
      { id: newId(), pendingId: released, flags: TransferFlags.voidPending },
    ]);
    expect(resolved.map((result) => result.result)).toEqual(['ok', 'ok']);
    setClock(at(addDays(D5, 1), 0, 5));
    await harness.fixture.services.settlement.run();
    const fifth = await batch(shop, D5);
    expect(fifth).toMatchObject({ gross: 700, fees: 0, net: 700, paymentCount: 1, payoutAmount: 700 });
    const file = await harness.inject({
      method: 'GET',
      url: `/v1/merchant/settlements/${fifth.id}/file`,
      headers: shop.headers,
    });
    expect(parseFile(file.body).lines.map((line) => line.type)).toEqual(['held', 'held', 'payment', 'released']);
    expect((await settleWithBank(shop, D5)).status).toBe('paid');
  });
});

describe('settlement:verify', { timeout: 120_000 }, () => {
  async function stored(date: string) {
    const { rows } = await harness.fixture.db.query<{ id: string; file_csv: string; file_sha256: string }>(
      `select id, file_csv, file_sha256 from settlement_batches where merchant_id = $1 and business_date = $2`,
      [shop.id, date],
    );
    return rows[0]!;
  }

  async function store(id: string, csv: string, sha256: string) {
    await harness.fixture.db.query(`update settlement_batches set file_csv = $2, file_sha256 = $3 where id = $1`, [
      id,
      csv,
      sha256,
    ]);
  }

  it('passes when every stored file ties to its hash and the ledger', async () => {
    const report = await harness.fixture.services.settlement.verify();
    expect(report.mismatches).toEqual([]);
    expect(report.batches).toBeGreaterThanOrEqual(7);
    const one = await harness.fixture.services.settlement.verify({ date: D2 });
    expect(one).toEqual({ batches: 2, mismatches: [] });
  });

  it('catches a tampered file by its hash', async () => {
    const original = await stored(D2);
    await store(original.id, original.file_csv.replace(',30.00,3000\r\n', ',31.00,3100\r\n'), original.file_sha256);
    try {
      const report = await harness.fixture.services.settlement.verify({ date: D2 });
      expect(report.mismatches).toEqual([expect.stringContaining('the file differs from its SHA-256')]);
    } finally {
      await store(original.id, original.file_csv, original.file_sha256);
    }
  });

  it('catches a changed amount and a missing line even when the hash was recomputed', async () => {
    const original = await stored(D2);
    const changed = original.file_csv.replace(',30.00,3000\r\n', ',31.00,3100\r\n');
    const rows = original.file_csv.split('\r\n');
    const missing = rows.filter((row) => !row.startsWith('refund_fee,')).join('\r\n');
    try {
      await store(original.id, changed, sha256OfFile(`\uFEFF${changed}`));
      let report = await harness.fixture.services.settlement.verify({ date: D2 });
      expect(report.mismatches).toEqual([expect.stringMatching(/amount 3100 fen, the ledger says 3000/)]);

      await store(original.id, missing, sha256OfFile(`\uFEFF${missing}`));
      report = await harness.fixture.services.settlement.verify({ date: D2 });
      expect(report.mismatches).toEqual([
        expect.stringMatching(/ledger transfer [0-9a-f-]+ \(refund_fee, 24 fen .*is missing from the file/),
      ]);
    } finally {
      await store(original.id, original.file_csv, original.file_sha256);
    }
    expect((await harness.fixture.services.settlement.verify()).mismatches).toEqual([]);
  });
});

describe('the settlement card and the routes', { timeout: 120_000 }, () => {
  it('keeps the card to the owner: an API key may neither read nor change it', async () => {
    for (const [method, url] of [
      ['GET', '/v1/merchant/settlement-account'],
      ['POST', '/v1/merchant/settlement-account/verifications'],
    ] as const) {
      const response = await harness.inject({
        method,
        url,
        headers: shop.headers,
        ...(method === 'POST'
          ? { payload: { cardNumber: '6222020200112233446', holderName: '李四', phone: '+8613500000000' } }
          : {}),
      });
      expect(response.statusCode).toBe(403);
    }
  });

  it('shows the card as its last four digits and a masked holder, owner only', async () => {
    const response = await harness.inject({
      method: 'GET',
      url: '/v1/merchant/settlement-account',
      headers: shop.owner,
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ account: { last4: '3446', holderName: '*四' } });
    expect(response.body).not.toContain('6222020200112233446');
    const { rows } = await harness.fixture.db.query<{ card_number_enc: string }>(
      `select card_number_enc from merchant_settlement_accounts where merchant_id = $1`,
      [shop.id],
    );
    expect(rows[0]!.card_number_enc).not.toContain('6222020200112233446');
  });

  it('answers bad input with problem codes, never a 5xx', async () => {
    const bad = await harness.inject({
      method: 'POST',
      url: '/v1/merchant/settlement-account/verifications',
      headers: shop.owner,
      payload: { cardNumber: '1234 5678 9012 3456', holderName: '李四', phone: '+8613500000000' },
    });
    expect(bad.statusCode).toBe(422);
    expect(bad.json<{ code: string }>().code).toMatch(/^bank_card_invalid$|^card_number_invalid$/);
    const unknown = await harness.inject({
      method: 'POST',
      url: '/v1/merchant/settlement-account/verifications/0190a000-0000-7000-8000-000000000000/confirm',
      headers: shop.owner,
      payload: { code: '123456' },
    });
    expect(unknown.statusCode).toBe(404);
    const otherMerchants = await harness.inject({
      method: 'GET',
      url: `/v1/merchant/settlements/${(await batch(shop, D1)).id}/file`,
      headers: stall.headers,
    });
    expect(otherMerchants.statusCode).toBe(404);
    const anonymous = await harness.inject({ method: 'GET', url: '/v1/merchant/settlements' });
    expect(anonymous.statusCode).toBe(401);
    const badCallback = await harness.inject({
      method: 'POST',
      url: '/v1/bank/settlement-callbacks',
      headers: {
        'content-type': 'application/json',
        'x-bank-signature': signCallback(BANK_CALLBACK_SECRET, '{}', Math.floor(Date.now() / 1000)),
      },
      payload: '{}',
    });
    expect(badCallback.statusCode).toBe(400);
  });
});
