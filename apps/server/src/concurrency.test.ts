/**
 * 200 concurrent clients over real HTTP against a listening app and the real bank simulator: they pay the
 * same merchant from the same wallets, transfer between each other and withdraw (the bank fails some
 * withdrawals), and retry some requests with the same idempotency key while the first is in flight.
 * Afterwards no balance is negative, every balance equals what the acknowledged operations imply, nothing
 * is left held, and the ledger invariant holds. Runs on PostgreSQL when TEST_DATABASE_URL is set.
 */
import { isDeepStrictEqual } from 'node:util';
import { buildBankSim } from '@yika/bank-sim';
import { accountIdFor, newId, type Ledger } from '@yika/ledger';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEE_INCOME_ACCOUNT_ID, merchantSettlementAccountId } from './modules/merchants/index.js';
import { activateRules, defaultRulesWithout } from './modules/risk/test/rules.js';
import { walletAccountId } from './modules/wallet/chart.js';
import { buildTestApp, openMigratedDatabase, type TestApp } from './test/app-fixture.js';
import { latestCode } from './test/sms-inbox.js';

const CLIENTS = 200;
const WALLETS = 20;
const OPERATIONS_PER_CLIENT = 3;
const FUNDS = 500_00n;
const PIN = '135790';
const OPS_TOKEN = 'ops-token-for-concurrency-0123456789';
const API_KEY = 'concurrency-test-key';
const CALLBACK_SECRET = 'concurrency-callback-secret';
const salt = String(process.pid % 10_000).padStart(4, '0');

interface Wallet {
  phone: string;
  customerId: string;
  token: string;
  cardId: string;
}

type Acknowledged =
  | { kind: 'payment'; from: number; amount: bigint; fee: bigint }
  | { kind: 'transfer'; from: number; to: number; amount: bigint }
  | { kind: 'withdrawal'; from: number; amount: bigint; orderId: string };

/** Refusals a client may meet under contention; anything else (and every 5xx) is a defect. */
const EXPECTED_REFUSALS = new Set([
  'insufficient_funds',
  'limit_exceeded',
  'idempotency_key_in_flight',
  'step_up_required',
]);

function luhnCard(index: number): string {
  const body = `622202${salt}${String(index).padStart(8, '0')}`.slice(0, 18);
  for (let check = 0; check <= 9; check += 1) {
    const candidate = body + check;
    let sum = 0;
    for (let position = 0; position < candidate.length; position += 1) {
      let digit = Number(candidate[candidate.length - 1 - position]);
      if (position % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

/** A small deterministic generator, so a failing run can be repeated. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('200 concurrent clients paying, transferring and withdrawing', () => {
  let sim: FastifyInstance;
  let fixture: TestApp;
  let baseUrl = '';
  const wallets: Wallet[] = [];
  let merchantId = '';
  let staticCode = '';

  async function api(path: string, init: { method?: string; token?: string; body?: unknown; key?: string } = {}) {
    const response = await fetch(`${baseUrl}${path}`, {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
        ...(init.key ? { 'idempotency-key': init.key } : {}),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : null) as Record<string, unknown> };
  }

  beforeAll(async () => {
    sim = buildBankSim({
      logLevel: false,
      apiKey: API_KEY,
      callbackSecret: CALLBACK_SECRET,
      callbackRetryBaseMs: 50,
      faults: { latencyMs: 10, failureRate: 0.2, duplicateCallbacks: 1, reorder: true },
    });
    const simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
    fixture = await buildTestApp({
      db: await openMigratedDatabase(),
      env: {
        BANK_SIM_URL: simUrl,
        BANK_SIM_API_KEY: API_KEY,
        BANK_CALLBACK_SECRET: CALLBACK_SECRET,
        BANK_POLL_AFTER_MS: '0',
        RATE_LIMIT_MAX: '0',
        OPS_API_TOKEN: OPS_TOKEN,
      },
      publicUrl: () => baseUrl,
    });
    baseUrl = await fixture.app.listen({ host: '127.0.0.1', port: 0 });
    const { services, ledger } = fixture;
    // 200 clients on 20 wallets are a burst the velocity rules exist to stop; the subject here is money
    // under contention, so the risk engine runs without them (its own tests cover them).
    await activateRules(services.risk, defaultRulesWithout(['attempts_burst', 'device_many_attempts', 'hourly_count']));

    for (let index = 0; index < WALLETS; index += 1) {
      const phone = `+86135${salt}${String(index).padStart(4, '0')}`;
      expect((await api('/v1/auth/otp', { body: { phone } })).status).toBe(202);
      const session = await api('/v1/auth/sessions', {
        body: { phone, code: await latestCode(simUrl, phone), client: 'api' },
      });
      expect(session.status, JSON.stringify(session.body)).toBe(201);
      const token = String(session.body.token);
      const customerId = String(session.body.customerId);
      await services.identity.setPin(customerId, PIN);
      await services.wallet.openWallet(customerId);
      const started = await api('/v1/cards/verifications', {
        token,
        body: { cardNumber: luhnCard(index), phone, holderName: '张明' },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(201);
      const confirmed = await api(`/v1/cards/verifications/${String(started.body.verificationId)}/confirm`, {
        token,
        body: { code: await latestCode(simUrl, phone) },
      });
      expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(201);
      await fund(ledger, customerId);
      wallets.push({ phone, customerId, token, cardId: String(confirmed.body.id) });
    }

    const applied = await api('/v1/merchants/applications', {
      body: {
        legalName: '并发测试餐饮有限公司',
        displayName: '并发小馆',
        mcc: '5812',
        contactName: '王小明',
        contactPhone: '+8613800138000',
        city: 'Shanghai',
        feeRateBps: 60,
      },
    });
    expect(applied.status).toBe(201);
    merchantId = String(applied.body.id);
    expect(
      (await api(`/v1/ops/merchants/${merchantId}/decisions`, { token: OPS_TOKEN, body: { decision: 'approve' } }))
        .status,
    ).toBe(200);
    const key = await api(`/v1/ops/merchants/${merchantId}/api-keys`, { token: OPS_TOKEN, body: {} });
    staticCode = String((await api('/v1/merchant/qr-codes/static', { token: String(key.body.secret) })).body.payload);
  }, 300_000);

  afterAll(async () => {
    await fixture?.close();
    await fixture?.db.close();
    await sim?.close();
  });

  async function fund(ledger: Ledger, customerId: string): Promise<void> {
    const [result] = await ledger.submit([
      {
        id: newId(),
        debitAccountId: accountIdFor('system', 'bank-clearing.CNY'),
        creditAccountId: accountIdFor('wallet', customerId),
        amount: FUNDS,
        ledger: 156,
        code: 101,
      },
    ]);
    expect(result?.result).toBe('ok');
  }

  it('leaves every balance exactly as the acknowledged operations say', async () => {
    const acknowledged = new Map<string, Acknowledged>();
    const defects: string[] = [];
    const refusals = new Map<string, number>();

    async function attempt(client: number, operation: number, next: () => number): Promise<void> {
      const from = client % WALLETS;
      const wallet = wallets[from]!;
      const key = `client-${client}-operation-${operation}`;
      const roll = next();
      // Up to 50.00: enough that some wallets run dry and meet the balance check under contention.
      const amount = BigInt(1 + Math.floor(next() * 5_000));
      let request: { path: string; body: unknown };
      let record: (body: Record<string, unknown>) => Acknowledged;
      if (roll < 0.45) {
        request = { path: '/v1/payments/qr/pay', body: { payload: staticCode, amount: Number(amount), pin: PIN } };
        record = (body) => ({ kind: 'payment', from, amount, fee: BigInt(Number(body.fee)) });
      } else if (roll < 0.85) {
        const to = (from + 1 + Math.floor(next() * (WALLETS - 1))) % WALLETS;
        request = {
          path: '/v1/wallet/transfers',
          body: { phone: wallets[to]!.phone, amount: Number(amount), pin: PIN },
        };
        record = () => ({ kind: 'transfer', from, to, amount });
      } else {
        request = { path: '/v1/wallet/withdrawals', body: { cardId: wallet.cardId, amount: Number(amount), pin: PIN } };
        record = (body) => ({ kind: 'withdrawal', from, amount, orderId: String(body.id) });
      }
      // One request in five is sent twice at once with the same key: it must count once.
      const copies = next() < 0.2 ? 2 : 1;
      const answers = await Promise.all(
        Array.from({ length: copies }, () => api(request.path, { token: wallet.token, body: request.body, key })),
      );
      for (const answer of answers) {
        if (answer.status === 201 || answer.status === 202) {
          const previous = acknowledged.get(key);
          const entry = record(answer.body);
          if (previous && !isDeepStrictEqual(previous, entry)) {
            defects.push(`${key}: two different acknowledgements for one key`);
          }
          acknowledged.set(key, entry);
        } else if (answer.status >= 500 || !EXPECTED_REFUSALS.has(String(answer.body?.code))) {
          defects.push(`${key} ${request.path} → ${answer.status} ${JSON.stringify(answer.body)}`);
        } else {
          const code = String(answer.body.code);
          refusals.set(code, (refusals.get(code) ?? 0) + 1);
        }
      }
    }

    await Promise.all(
      Array.from({ length: CLIENTS }, async (_unused, client) => {
        const next = random(client + 1);
        for (let operation = 0; operation < OPERATIONS_PER_CLIENT; operation += 1)
          await attempt(client, operation, next);
      }),
    );
    expect(defects.slice(0, 20), `${defects.length} defects`).toEqual([]);

    // Withdrawals end when the bank answers (callback or status poll); none may stay held.
    const succeededWithdrawals = new Set<string>();
    for (const entry of acknowledged.values()) {
      if (entry.kind !== 'withdrawal') continue;
      const deadline = Date.now() + 30_000;
      for (;;) {
        const order = await api(`/v1/wallet/orders/${entry.orderId}`, { token: wallets[entry.from]!.token });
        if (order.body.status === 'succeeded') succeededWithdrawals.add(entry.orderId);
        if (order.body.status === 'succeeded' || order.body.status === 'failed') break;
        if (Date.now() > deadline) throw new Error(`withdrawal ${entry.orderId} still ${String(order.body.status)}`);
        await fixture.services.wallet.pollOpenOrders();
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }

    const expected = wallets.map(() => FUNDS);
    let gross = 0n;
    let fees = 0n;
    for (const entry of acknowledged.values()) {
      if (entry.kind === 'payment') {
        expected[entry.from]! -= entry.amount;
        gross += entry.amount;
        fees += entry.fee;
      } else if (entry.kind === 'transfer') {
        expected[entry.from]! -= entry.amount;
        expected[entry.to]! += entry.amount;
      } else if (succeededWithdrawals.has(entry.orderId)) {
        expected[entry.from]! -= entry.amount;
      }
    }

    const { ledger } = fixture;
    const accounts = await ledger.lookupAccounts([
      ...wallets.map((wallet) => walletAccountId(wallet.customerId)),
      merchantSettlementAccountId(merchantId),
      FEE_INCOME_ACCOUNT_ID,
    ]);
    const byId = new Map(accounts.map((account) => [account.id, account]));
    wallets.forEach((wallet, index) => {
      const account = byId.get(walletAccountId(wallet.customerId))!;
      const posted = account.creditsPosted - account.debitsPosted;
      expect(posted, `wallet ${index}`).toBe(expected[index]);
      expect(posted >= 0n, `wallet ${index} negative`).toBe(true);
      expect(account.debitsPending, `wallet ${index} still holds money`).toBe(0n);
    });
    const settlement = byId.get(merchantSettlementAccountId(merchantId))!;
    expect(settlement.creditsPosted - settlement.debitsPosted).toBe(gross - fees);
    const feeIncome = byId.get(FEE_INCOME_ACCOUNT_ID)!;
    expect(feeIncome.creditsPosted - feeIncome.debitsPosted).toBe(fees);

    const verification = await ledger.verify();
    expect(verification.ok, JSON.stringify(verification)).toBe(true);
    // The run must have exercised every kind of operation, not refused its way through.
    const kinds = new Set([...acknowledged.values()].map((entry) => entry.kind));
    expect([...kinds].sort()).toEqual(['payment', 'transfer', 'withdrawal']);
    expect(acknowledged.size).toBeGreaterThan(CLIENTS * OPERATIONS_PER_CLIENT * 0.5);
    console.info(
      `concurrency: ${acknowledged.size} acknowledged of ${CLIENTS * OPERATIONS_PER_CLIENT}; refusals ${JSON.stringify(Object.fromEntries(refusals))}; withdrawals succeeded ${succeededWithdrawals.size}`,
    );
  }, 600_000);
});
