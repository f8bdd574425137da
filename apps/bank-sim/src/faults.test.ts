import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig, resolveLogLevel } from './config.js';
import { DEFAULT_FAULTS } from './faults.js';
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
  type ReceivedCallback,
  type Sim,
} from './test/harness.js';

const PHONE = '+8613600000001';
const QUIET = { ...DEFAULT_FAULTS, latencyMs: 5 };

function signedCorrectly(callback: ReceivedCallback): boolean {
  const header = callback.headers['x-bank-signature'];
  return verifyCallbackSignature(
    CALLBACK_SECRET,
    typeof header === 'string' ? header : undefined,
    callback.rawBody,
    Date.now() / 1000,
  );
}

describe('fault modes', () => {
  let sim: Sim;
  let receiver: Receiver;
  let token: string;
  let cardNumber = 100;
  let requestNumber = 0;
  const pay = (requestId = `fault-${++requestNumber}`) =>
    sim.call('POST', '/v1/payments', {
      requestId,
      kind: 'debit',
      cardToken: token,
      amount: 100,
      currency: 'CNY',
      callbackUrl: receiver.url,
    });
  const setFaults = async (faults: Record<string, unknown>) => {
    const answer = await sim.call('PUT', '/admin/faults', { ...QUIET, ...faults });
    expect(answer.status).toBe(200);
  };
  const status = async (requestId: string) => (await sim.call('GET', `/v1/payments/${requestId}`)).body;

  beforeAll(async () => {
    sim = await startSim();
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await sim.close();
    await receiver.close();
  });
  beforeEach(async () => {
    await sim.call('POST', '/admin/reset');
    await setFaults({});
    receiver.clear();
    receiver.respondWith = (callback) => (signedCorrectly(callback) ? 200 : 401);
    token = await bindCard(sim, testCard(++cardNumber), PHONE);
  });

  it('failureRate: the payment fails with bank_error', async () => {
    await setFaults({ failureRate: 1 });
    await pay('fails');
    const [callback] = await receiver.waitFor(1);
    expect(callback!.body).toMatchObject({ requestId: 'fails', status: 'failed', reason: 'bank_error' });
    expect(await status('fails')).toMatchObject({ status: 'failed', reason: 'bank_error' });
  });

  it('timeoutRate: the payment stays processing for timeoutMs, then fails with bank_timeout', async () => {
    await setFaults({ timeoutRate: 1, timeoutMs: 600 });
    await pay('slow');
    await sleep(150);
    expect(await status('slow')).toMatchObject({ status: 'processing' });
    expect(receiver.received).toHaveLength(0);
    const [callback] = await receiver.waitFor(1);
    expect(callback!.body).toMatchObject({ requestId: 'slow', status: 'failed', reason: 'bank_timeout' });
    expect(await status('slow')).toMatchObject({ status: 'failed', reason: 'bank_timeout' });
  });

  it('dropCallbackRate: no callback is sent, but the status query answers', async () => {
    await setFaults({ dropCallbackRate: 1 });
    await pay('dropped');
    const settled = await eventually(async () => {
      const body = await status('dropped');
      return body.status === 'processing' ? undefined : body;
    });
    expect(settled).toMatchObject({ status: 'succeeded', bankReference: expect.any(String) });
    await sleep(150);
    expect(receiver.received).toHaveLength(0);
  });

  it('duplicateCallbacks: sends extra identical, correctly signed copies', async () => {
    await setFaults({ duplicateCallbacks: 2 });
    await pay('twice-more');
    const received = await receiver.waitFor(3);
    await sleep(100);
    expect(receiver.received).toHaveLength(3);
    expect(new Set(received.map((c) => c.rawBody)).size).toBe(1);
    expect(received.every(signedCorrectly)).toBe(true);
  });

  it('badSignatureRate: sends the callback with a wrong signature, then once correctly', async () => {
    await setFaults({ badSignatureRate: 1 });
    await pay('forged-first');
    const [bad, good] = await receiver.waitFor(2);
    expect(signedCorrectly(bad!)).toBe(false);
    expect(signedCorrectly(good!)).toBe(true);
    expect(good!.rawBody).toBe(bad!.rawBody);
    await sleep(100);
    expect(receiver.received).toHaveLength(2);
  });

  it('reorder: callbacks of payments sent in order arrive shuffled, and all arrive', async () => {
    // Each callback is held back up to 2 × latencyMs: far more than the time between two submissions.
    await setFaults({ reorder: true, latencyMs: 150 });
    const sent: string[] = [];
    for (let index = 0; index < 8; index += 1) {
      sent.push(`ordered-${index}`);
      await pay(`ordered-${index}`);
    }
    const received = await receiver.waitFor(8);
    const arrived = received.map((c) => c.body.requestId as string);
    expect([...arrived].sort()).toEqual([...sent].sort());
    expect(arrived).not.toEqual(sent);
  });

  it('shows and validates the fault settings', async () => {
    await setFaults({ failureRate: 0.25 });
    expect((await sim.call('GET', '/admin/faults')).body).toEqual({ ...QUIET, failureRate: 0.25 });
    const bad = await sim.call('PUT', '/admin/faults', { failureRate: 2, latencyMs: -1, reorder: 'yes', typo: 1 });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.failureRate',
      'body.latencyMs',
      'body.reorder',
      'body.typo',
    ]);
  });
});

describe('fault randomness', () => {
  it('is reproducible with a seed', async () => {
    const outcomes = async (): Promise<string[]> => {
      const sim = await startSim({ seed: 7, faults: { failureRate: 0.5, latencyMs: 1 } });
      try {
        const token = await bindCard(sim, testCard(900), '+8613600000009');
        for (let index = 0; index < 12; index += 1) {
          await sim.call('POST', '/v1/payments', {
            requestId: `seeded-${index}`,
            kind: 'debit',
            cardToken: token,
            amount: 1,
            currency: 'CNY',
            callbackUrl: 'http://127.0.0.1:9/unused',
          });
        }
        return await eventually(async () => {
          const statuses: string[] = [];
          for (let index = 0; index < 12; index += 1) {
            statuses.push((await sim.call('GET', `/v1/payments/seeded-${index}`)).body.status);
          }
          return statuses.includes('processing') ? undefined : statuses;
        });
      } finally {
        await sim.close();
      }
    };
    const first = await outcomes();
    expect(await outcomes()).toEqual(first);
    expect(first).toContain('succeeded');
    expect(first).toContain('failed');
  });
});

describe('configuration', () => {
  it('reads fault defaults from BANK_SIM_* variables', () => {
    const config = resolveConfig(
      {},
      { BANK_SIM_LATENCY_MS: '200', BANK_SIM_REORDER: 'true', BANK_SIM_FAILURE_RATE: '0.1' },
    );
    expect(config.faults).toMatchObject({ latencyMs: 200, reorder: true, failureRate: 0.1 });
    expect(config.apiKey).toBe('dev-bank-key');
    expect(config.cardBalance).toBe(100_000_000n);
  });

  it('refuses a bad value with one line naming the variable', () => {
    expect(() => resolveConfig({}, { BANK_SIM_FAILURE_RATE: '2' })).toThrow(ConfigError);
    expect(() => resolveConfig({}, { BANK_SIM_FAILURE_RATE: '2' })).toThrow(
      'Configuration error: BANK_SIM_FAILURE_RATE must be a number between 0 and 1 (got "2")',
    );
    expect(() => resolveConfig({}, { BANK_SIM_CARD_BALANCE: '-5' })).toThrow(/BANK_SIM_CARD_BALANCE/);
    expect(() => resolveConfig({}, { BANK_SIM_REORDER: 'maybe' })).toThrow(/BANK_SIM_REORDER/);
    expect(() => resolveLogLevel({ BANK_SIM_LOG_LEVEL: 'loud' })).toThrow(/BANK_SIM_LOG_LEVEL must be one of/);
  });
});
