/**
 * For the settlement and reporting tests: a migrated database, the real bank-sim in process (its URL is
 * exposed for faults and the SMS inbox), the app, customers with a PIN and funds, approved merchants with
 * an API key, and the merchant's settlement card verified through the bank's SMS code.
 */
import { buildBankSim } from '@yika/bank-sim';
import type { Database } from '@yika/db';
import { accountIdFor, newId } from '@yika/ledger';
import type { InjectOptions } from 'fastify';
import { expect } from 'vitest';
import { buildTestApp, openMigratedDatabase, type TestApp } from '../../../test/app-fixture.js';
import { latestCode } from '../../../test/sms-inbox.js';

export const OPS_TOKEN = 'ops-token-for-settlement-0123456789';
export const BANK_KEY = 'settlement-test-key';
export const BANK_CALLBACK_SECRET = 'settlement-test-callback-secret';
export const PIN = '246801';

export interface Customer {
  customerId: string;
  headers: Record<string, string>;
}

export interface Merchant {
  id: string;
  /** The merchant's API key. */
  headers: Record<string, string>;
  /** The owner's signed-in session for this merchant (the settlement card is theirs alone). */
  owner: Record<string, string>;
}

let counter = 0;
let keys = 0;
const salt = String(process.pid % 10_000).padStart(4, '0');

export interface SettlementHarness {
  fixture: TestApp;
  simUrl: string;
  inject: TestApp['app']['inject'];
  newCustomer(funds: bigint): Promise<Customer>;
  newMerchant(feeRateBps: number, name?: string): Promise<Merchant>;
  /** Verifies a settlement card for the merchant through the bank's SMS code. */
  verifyCard(merchant: Merchant, cardNumber?: string): Promise<void>;
  /** Pays the merchant's static code; returns the payment id. */
  pay(customer: Customer, merchant: Merchant, amount: number): Promise<string>;
  refund(merchant: Merchant, paymentId: string, amount: number): Promise<void>;
  faults(settings: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export async function openSettlementHarness(
  env: Record<string, string> = {},
  options: { db?: Database } = {},
): Promise<SettlementHarness> {
  const sim = buildBankSim({ logLevel: false, apiKey: BANK_KEY, callbackSecret: BANK_CALLBACK_SECRET });
  const simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
  const db = options.db ?? (await openMigratedDatabase());
  const fixture = await buildTestApp({
    db,
    env: {
      BANK_SIM_URL: simUrl,
      BANK_SIM_API_KEY: BANK_KEY,
      BANK_CALLBACK_SECRET,
      // Nothing listens there: outcomes arrive through the status query or a callback the test posts.
      PUBLIC_URL: 'http://127.0.0.1:9',
      BANK_POLL_AFTER_MS: '0',
      RATE_LIMIT_MAX: '0',
      OPS_API_TOKEN: OPS_TOKEN,
      ...env,
    },
  });
  const { app, ledger, services } = fixture;
  const ops = { authorization: `Bearer ${OPS_TOKEN}` };
  const inject = ((options: InjectOptions) => app.inject(options)) as TestApp['app']['inject'];

  const harness: SettlementHarness = {
    fixture,
    simUrl,
    inject,
    async newCustomer(funds) {
      counter += 1;
      const phone = `+86137${salt}${String(counter).padStart(4, '0')}`;
      const remoteAddress = `10.78.${Math.floor(counter / 250)}.${counter % 250}`;
      const otp = await app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress });
      expect(otp.statusCode, otp.body).toBe(202);
      const session = await app.inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: { phone, code: await latestCode(simUrl, phone), client: 'api' },
        remoteAddress,
      });
      expect(session.statusCode, session.body).toBe(201);
      const { token, customerId } = session.json<{ token: string; customerId: string }>();
      await services.identity.setPin(customerId, PIN);
      await services.wallet.openWallet(customerId);
      if (funds > 0n) {
        const [result] = await ledger.submit([
          {
            id: newId(),
            debitAccountId: accountIdFor('system', 'bank-clearing.CNY'),
            creditAccountId: accountIdFor('wallet', customerId),
            amount: funds,
            ledger: 156,
            code: 101,
          },
        ]);
        expect(result?.result).toBe('ok');
      }
      return { customerId, headers: { authorization: `Bearer ${token}` } };
    },
    async newMerchant(feeRateBps, name = '老街茶铺') {
      // Applying while signed in makes the applicant the owner.
      const owner = await harness.newCustomer(0n);
      const applied = await app.inject({
        method: 'POST',
        url: '/v1/merchants/applications',
        headers: owner.headers,
        payload: {
          legalName: `${name}有限公司`,
          displayName: name,
          mcc: '5814',
          contactName: '李四',
          contactPhone: '+8613900139000',
          city: 'Shanghai',
          feeRateBps,
        },
      });
      expect(applied.statusCode, applied.body).toBe(201);
      const id = applied.json<{ id: string }>().id;
      const approved = await app.inject({
        method: 'POST',
        url: `/v1/ops/merchants/${id}/decisions`,
        headers: ops,
        payload: { decision: 'approve' },
      });
      expect(approved.statusCode, approved.body).toBe(200);
      const key = await app.inject({
        method: 'POST',
        url: `/v1/ops/merchants/${id}/api-keys`,
        headers: ops,
        payload: {},
      });
      expect(key.statusCode, key.body).toBe(201);
      return {
        id,
        headers: { authorization: `Bearer ${key.json<{ secret: string }>().secret}` },
        owner: { ...owner.headers, 'x-yika-merchant-id': id },
      };
    },
    async verifyCard(merchant, cardNumber = '6222020200112233446') {
      counter += 1;
      const phone = `+86135${salt}${String(counter).padStart(4, '0')}`;
      const started = await app.inject({
        method: 'POST',
        url: '/v1/merchant/settlement-account/verifications',
        headers: merchant.owner,
        payload: { cardNumber, holderName: '李四', phone },
      });
      expect(started.statusCode, started.body).toBe(201);
      const { verificationId } = started.json<{ verificationId: string }>();
      const confirmed = await app.inject({
        method: 'POST',
        url: `/v1/merchant/settlement-account/verifications/${verificationId}/confirm`,
        headers: merchant.owner,
        payload: { code: await latestCode(simUrl, phone) },
      });
      expect(confirmed.statusCode, confirmed.body).toBe(200);
    },
    async pay(customer, merchant, amount) {
      const code = await app.inject({ method: 'GET', url: '/v1/merchant/qr-codes/static', headers: merchant.headers });
      expect(code.statusCode, code.body).toBe(200);
      const paid = await app.inject({
        method: 'POST',
        url: '/v1/payments/qr/pay',
        headers: { ...customer.headers, 'idempotency-key': `settle-${process.pid}-${++keys}` },
        payload: { payload: code.json<{ payload: string }>().payload, amount, pin: PIN },
      });
      expect(paid.statusCode, paid.body).toBe(201);
      return paid.json<{ id: string }>().id;
    },
    async refund(merchant, paymentId, amount) {
      const refunded = await app.inject({
        method: 'POST',
        url: `/v1/merchant/payments/${paymentId}/refunds`,
        headers: { ...merchant.headers, 'idempotency-key': `settle-${process.pid}-${++keys}` },
        payload: { amount },
      });
      expect(refunded.statusCode, refunded.body).toBe(201);
    },
    async faults(settings) {
      const response = await fetch(new URL('/admin/faults', simUrl), {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(settings),
      });
      expect(response.status).toBe(200);
    },
    async close() {
      await fixture.close();
      if (!options.db) await db.close();
      await sim.close();
    },
  };
  return harness;
}
