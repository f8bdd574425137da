/**
 * For the payments tests: a migrated database, the real bank-sim (its SMS inbox gives sign-in codes), an
 * app with an operations token, customers signed in through the API with a PIN and a funded wallet, and
 * approved merchants with an API key.
 */
import { buildBankSim } from '@yika/bank-sim';
import { accountIdFor, newId } from '@yika/ledger';
import type { FastifyInstance } from 'fastify';
import { expect } from 'vitest';
import { buildTestApp, openMigratedDatabase, type TestApp } from '../../../test/app-fixture.js';
import { FEE_INCOME_ACCOUNT_ID, merchantSettlementAccountId } from '../../merchants/index.js';
import { latestCode as readLatestCode } from '../../../test/sms-inbox.js';

export const OPS_TOKEN = 'ops-token-for-tests-0123456789';
export const PIN = '135790';

export interface TestCustomer {
  phone: string;
  customerId: string;
  headers: Record<string, string>;
}

export interface TestMerchant {
  id: string;
  key: string;
  headers: Record<string, string>;
}

export interface PaymentsHarness {
  fixture: TestApp;
  ops: Record<string, string>;
  /** The bank simulator (its SMS inbox has the step-up and card-binding codes). */
  simUrl: string;
  newCustomer(funds?: bigint): Promise<TestCustomer>;
  newMerchant(feeRateBps?: number, name?: string): Promise<TestMerchant>;
  /** Posted balances: customer wallet, merchant settlement, Yika fee income. */
  balances(
    customer: TestCustomer,
    merchant: TestMerchant,
  ): Promise<{ wallet: bigint; settlement: bigint; fees: bigint }>;
  close(): Promise<void>;
}

let counter = 0;
const salt = String(process.pid % 10_000).padStart(4, '0');

export async function openPaymentsHarness(
  env: Record<string, string> = {},
  options: { now?: () => Date } = {},
): Promise<PaymentsHarness> {
  const sim: FastifyInstance = buildBankSim({ logLevel: false, apiKey: 'payments-test-key' });
  const simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
  const db = await openMigratedDatabase();
  const fixture = await buildTestApp({
    db,
    env: {
      BANK_SIM_URL: simUrl,
      BANK_SIM_API_KEY: 'payments-test-key',
      RATE_LIMIT_MAX: '0',
      OPS_API_TOKEN: OPS_TOKEN,
      ...env,
    },
    ...(options.now ? { now: options.now } : {}),
  });
  const ops = { authorization: `Bearer ${OPS_TOKEN}` };
  const { app, ledger, services } = fixture;

  const latestCode = (phone: string) => readLatestCode(simUrl, phone);

  return {
    fixture,
    ops,
    simUrl,
    async newCustomer(funds = 0n) {
      counter += 1;
      const phone = `+86136${salt}${String(counter).padStart(4, '0')}`;
      const remoteAddress = `10.77.${Math.floor(counter / 250)}.${counter % 250}`;
      const otp = await app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress });
      expect(otp.statusCode, otp.body).toBe(202);
      const session = await app.inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: { phone, code: await latestCode(phone), client: 'api' },
        remoteAddress,
      });
      expect(session.statusCode, session.body).toBe(201);
      const { token, customerId } = session.json<{ token: string; customerId: string }>();
      await services.identity.setPin(customerId, PIN);
      await services.wallet.openWallet(customerId);
      if (funds > 0n) {
        // Money in as a top-up would bring it: from bank clearing (the bank flow itself is the wallet's tests').
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
      return { phone, customerId, headers: { authorization: `Bearer ${token}` } };
    },
    async newMerchant(feeRateBps = 60, name = '小王面馆') {
      const applied = await app.inject({
        method: 'POST',
        url: '/v1/merchants/applications',
        payload: {
          legalName: `${name}餐饮有限公司`,
          displayName: name,
          mcc: '5812',
          contactName: '王小明',
          contactPhone: '+8613800138000',
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
      const secret = key.json<{ secret: string }>().secret;
      return { id, key: secret, headers: { authorization: `Bearer ${secret}` } };
    },
    async balances(customer, merchant) {
      const ids = [
        accountIdFor('wallet', customer.customerId),
        merchantSettlementAccountId(merchant.id),
        FEE_INCOME_ACCOUNT_ID,
      ];
      const accounts = await ledger.lookupAccounts(ids);
      const posted = (id: string) => {
        const account = accounts.find((candidate) => candidate.id === id);
        return account ? account.creditsPosted - account.debitsPosted : 0n;
      };
      return { wallet: posted(ids[0]!), settlement: posted(ids[1]!), fees: posted(ids[2]!) };
    },
    async close() {
      await fixture.close();
      await db.close();
      await sim.close();
    },
  };
}
