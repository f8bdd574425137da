/**
 * Shared by the identity tests: one migrated database, the real bank-sim on a random port (its SMS inbox
 * is where codes are read), an app whose identity clock the test moves, and helpers to sign customers in.
 */
import { buildBankSim } from '@yika/bank-sim';
import type { Database } from '@yika/db';
import type { FastifyInstance } from 'fastify';
import { buildTestApp, openMigratedDatabase, type TestApp } from './app-fixture.js';
import { latestCode } from './sms-inbox.js';

export interface IdentityHarness {
  fixture: TestApp;
  db: Database;
  simUrl: string;
  /** Moves the identity clock forward. */
  advance(ms: number): void;
  now(): Date;
  /** A fresh mainland number and a fresh client IP, so tests do not share rate limits. */
  freshPhone(): string;
  freshIp(): string;
  latestCode(phone: string): Promise<string>;
  requestCode(phone: string, ip: string): Promise<void>;
  /** Registers or signs in through the API; returns the bearer token. */
  signIn(phone: string, options?: { ip?: string; deviceId?: string; deviceName?: string }): Promise<SignedIn>;
  close(): Promise<void>;
}

export interface SignedIn {
  token: string;
  customerId: string;
  deviceId: string;
  sessionId: string;
  headers: { authorization: string };
}

let phoneCounter = 0;
let ipCounter = 0;

export async function openIdentityHarness(): Promise<IdentityHarness> {
  const sim: FastifyInstance = buildBankSim({ logLevel: false, apiKey: 'identity-test-key' });
  const simUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
  const db = await openMigratedDatabase();
  let clock = Date.now();
  const now = () => new Date(clock);
  const fixture = await buildTestApp({
    db,
    env: { BANK_SIM_URL: simUrl, BANK_SIM_API_KEY: 'identity-test-key', RATE_LIMIT_MAX: '0' },
    now,
  });
  const salt = process.pid % 10_000;

  const harness: IdentityHarness = {
    fixture,
    db,
    simUrl,
    advance(ms) {
      clock += ms;
    },
    now,
    freshPhone() {
      phoneCounter += 1;
      return `+86139${String(salt).padStart(4, '0')}${String(phoneCounter).padStart(4, '0')}`;
    },
    freshIp() {
      ipCounter += 1;
      return `10.${salt % 250}.${Math.floor(ipCounter / 250)}.${ipCounter % 250}`;
    },
    latestCode: (phone) => latestCode(simUrl, phone),
    async requestCode(phone, ip) {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/auth/otp',
        payload: { phone },
        remoteAddress: ip,
      });
      if (response.statusCode !== 202) throw new Error(`otp: ${response.statusCode} ${response.body}`);
    },
    async signIn(phone, options = {}) {
      const ip = options.ip ?? harness.freshIp();
      // Codes for one number are at most one a minute.
      harness.advance(61_000);
      await harness.requestCode(phone, ip);
      const code = await harness.latestCode(phone);
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: {
          phone,
          code,
          client: 'api',
          ...(options.deviceId ? { deviceId: options.deviceId } : {}),
          ...(options.deviceName ? { deviceName: options.deviceName } : {}),
        },
        remoteAddress: ip,
      });
      if (response.statusCode !== 201) throw new Error(`sessions: ${response.statusCode} ${response.body}`);
      const body = response.json<{ token: string; customerId: string; deviceId: string; sessionId: string }>();
      return { ...body, headers: { authorization: `Bearer ${body.token}` } };
    },
    async close() {
      await fixture.close();
      await db.close();
      await sim.close();
    },
  };
  return harness;
}

/** A valid resident ID for a birth date (YYYYMMDD), with its GB 11643 check character. */
export function residentId(birthDate: string, sequence = '123'): string {
  const first17 = `110105${birthDate}${sequence}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = weights.reduce((total, weight, index) => total + weight * Number(first17[index]), 0);
  return first17 + '10X98765432'[sum % 11]!;
}
