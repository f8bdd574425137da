/**
 * Merchants over HTTP: applications and operations' review behind the interim token, API keys (shown
 * once, hashed, revocable), webhook endpoints (secret encrypted at rest), and webhook delivery through
 * the outbox to a real local HTTP receiver: signed, retried with back-off, logged, replayable.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTestApp, type TestApp } from '../../test/app-fixture.js';
import { retryDelayMs, signWebhook } from './webhooks.js';

const OPS_TOKEN = 'merchants-ops-token-0123456789';
let fixture: TestApp;
const ops = { authorization: `Bearer ${OPS_TOKEN}` };

beforeAll(async () => {
  fixture = await buildTestApp({
    env: {
      OPS_API_TOKEN: OPS_TOKEN,
      RATE_LIMIT_MAX: '0',
      WEBHOOK_ATTEMPTS_MAX: '3',
      WEBHOOK_RETRY_BASE_MS: '10',
      WEBHOOK_TIMEOUT_MS: '1000',
    },
  });
});

afterAll(async () => {
  if (fixture) {
    expect((await fixture.ledger.verify()).violations).toEqual([]);
    await fixture.close();
  }
});

const application = {
  legalName: '上海小王餐饮有限公司',
  displayName: '小王面馆',
  mcc: '5812',
  contactName: '王小明',
  contactPhone: '+8613800138000',
  city: 'Shanghai',
  feeRateBps: 60,
};

async function apply(): Promise<string> {
  const response = await fixture.app.inject({
    method: 'POST',
    url: '/v1/merchants/applications',
    payload: application,
  });
  expect(response.statusCode, response.body).toBe(201);
  expect(response.json()).toMatchObject({ status: 'pending', feeRateBps: 60 });
  return response.json<{ id: string }>().id;
}

async function decide(id: string, decision: string) {
  return fixture.app.inject({
    method: 'POST',
    url: `/v1/ops/merchants/${id}/decisions`,
    headers: ops,
    payload: { decision },
  });
}

async function issueKey(id: string): Promise<{ id: string; secret: string; prefix: string }> {
  const response = await fixture.app.inject({
    method: 'POST',
    url: `/v1/ops/merchants/${id}/api-keys`,
    headers: ops,
    payload: {},
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json();
}

describe('onboarding and review', () => {
  it('refuses bad applications field by field', async () => {
    const response = await fixture.app.inject({
      method: 'POST',
      url: '/v1/merchants/applications',
      payload: { ...application, mcc: '58A2', feeRateBps: 10_001, displayName: '' },
    });
    expect(response.statusCode).toBe(400);
    const fields = response.json<{ errors: { field: string }[] }>().errors.map((error) => error.field);
    expect(fields).toEqual(expect.arrayContaining(['mcc', 'feeRateBps', 'displayName']));
  });

  it('keeps operations routes behind the OPS_API_TOKEN bearer', async () => {
    const id = await apply();
    for (const headers of [{}, { authorization: 'Bearer not-the-token' }]) {
      const response = await fixture.app.inject({
        method: 'POST',
        url: `/v1/ops/merchants/${id}/decisions`,
        headers,
        payload: { decision: 'approve' },
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'unauthenticated' });
    }
    const unchanged = await fixture.app.inject({ method: 'GET', url: `/v1/ops/merchants/${id}`, headers: ops });
    expect(unchanged.json()).toMatchObject({ status: 'pending' });
  });

  it('moves pending → approved → suspended → approved, and refuses decisions that do not apply', async () => {
    const id = await apply();
    expect((await decide(id, 'suspend')).json()).toMatchObject({
      code: 'merchant_status_conflict',
      merchantStatus: 'pending',
    });
    expect((await decide(id, 'approve')).json()).toMatchObject({ status: 'approved' });
    expect((await decide(id, 'reject')).statusCode).toBe(409);
    expect((await decide(id, 'suspend')).json()).toMatchObject({ status: 'suspended' });
    expect((await decide(id, 'reinstate')).json()).toMatchObject({ status: 'approved' });
    const rejected = await apply();
    expect((await decide(rejected, 'reject')).json()).toMatchObject({ status: 'rejected' });
    expect((await decide(rejected, 'approve')).statusCode).toBe(409);
  });
});

describe('API keys', () => {
  it('shows the secret once, keeps only its SHA-256, authenticates with it and stops at revocation', async () => {
    const id = await apply();
    await decide(id, 'approve');
    const key = await issueKey(id);
    expect(key.secret).toMatch(/^yk_[0-9a-f]{16}_/);
    const { rows } = await fixture.db.query<{ secret_hash: string }>(
      `select secret_hash from merchant_api_keys where id = $1`,
      [key.id],
    );
    expect(rows[0]?.secret_hash).toBe(createHash('sha256').update(key.secret).digest('hex'));
    const headers = { authorization: `Bearer ${key.secret}` };
    const me = await fixture.app.inject({ method: 'GET', url: '/v1/merchant', headers });
    expect(me.json()).toMatchObject({ id, status: 'approved' });
    const list = await fixture.app.inject({ method: 'GET', url: '/v1/merchant/api-keys', headers });
    expect(list.body).not.toContain(key.secret);

    const second = await fixture.app.inject({
      method: 'POST',
      url: '/v1/merchant/api-keys',
      headers,
      payload: { label: 'till 2' },
    });
    expect(second.statusCode).toBe(201);
    const revoked = await fixture.app.inject({
      method: 'POST',
      url: `/v1/merchant/api-keys/${key.id}/revoke`,
      headers,
    });
    expect(revoked.json<{ revokedAt: string | null }>().revokedAt).not.toBeNull();
    const after = await fixture.app.inject({ method: 'GET', url: '/v1/merchant', headers });
    expect(after.statusCode).toBe(401);
    expect(after.json()).toMatchObject({ code: 'unauthenticated' });
    const stillWorks = await fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant',
      headers: { authorization: `Bearer ${second.json<{ secret: string }>().secret}` },
    });
    expect(stillWorks.statusCode).toBe(200);
  });

  it('refuses a forged key with a known prefix, a malformed key and no key', async () => {
    const id = await apply();
    const key = await issueKey(id);
    const forged = `${key.secret.slice(0, 20)}${'A'.repeat(key.secret.length - 20)}`;
    for (const authorization of [`Bearer ${forged}`, 'Bearer yk_nope', undefined]) {
      const response = await fixture.app.inject({
        method: 'GET',
        url: '/v1/merchant',
        headers: authorization ? { authorization } : {},
      });
      expect(response.statusCode).toBe(401);
    }
  });
});

describe('webhooks', () => {
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
  let failuresLeft = 0;

  beforeAll(async () => {
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        if (failuresLeft > 0) {
          failuresLeft -= 1;
          response.writeHead(500).end('try later');
        } else response.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });

  afterAll(async () => {
    receiver.closeAllConnections();
    await new Promise((resolve) => receiver.close(resolve));
  });

  /** Runs the delivery job until nothing is due (bounded). */
  async function drain(): Promise<void> {
    for (let round = 0; round < 50; round += 1) {
      const result = await fixture.services.webhooks.run();
      const { rows } = await fixture.db.query<{ n: string | number | bigint }>(
        `select count(*) as n from merchant_webhook_deliveries where status = 'pending'`,
      );
      if (result.attempted === 0 && Number(rows[0]?.n ?? 0) === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  async function merchantWithEndpoint() {
    const id = await apply();
    await decide(id, 'approve');
    const headers = { authorization: `Bearer ${(await issueKey(id)).secret}` };
    const endpoint = await fixture.app.inject({
      method: 'POST',
      url: '/v1/merchant/webhook-endpoints',
      headers,
      payload: { url: receiverUrl },
    });
    expect(endpoint.statusCode, endpoint.body).toBe(201);
    return { id, headers, endpoint: endpoint.json<{ id: string; secret: string }>() };
  }

  async function emit(merchantId: string, type: string) {
    const { appendEvent } = await import('../../platform/outbox.js');
    await fixture.db.transaction((tx) =>
      appendEvent(tx, { type, subject: `merchant:${merchantId}`, payload: { hello: type } }),
    );
  }

  it('keeps the signing secret encrypted at rest', async () => {
    const { endpoint } = await merchantWithEndpoint();
    const { rows } = await fixture.db.query<{ secret_ciphertext: string }>(
      `select secret_ciphertext from merchant_webhook_endpoints where id = $1`,
      [endpoint.id],
    );
    expect(rows[0]?.secret_ciphertext).toMatch(/^v1\./);
    expect(rows[0]?.secret_ciphertext).not.toContain(endpoint.secret);
  });

  it('delivers an outbox event signed with HMAC-SHA256 over `${t}.${body}`', async () => {
    const { id, endpoint } = await merchantWithEndpoint();
    received.length = 0;
    await emit(id, 'payment.succeeded');
    await drain();
    expect(received).toHaveLength(1);
    const { headers, body } = received[0]!;
    const signature = String(headers['yika-signature']);
    const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature);
    expect(match).not.toBeNull();
    const expected = createHmac('sha256', endpoint.secret).update(`${match![1]}.${body}`).digest('hex');
    expect(match![2]).toBe(expected);
    expect(signWebhook(endpoint.secret, body, Number(match![1]))).toBe(signature);
    expect(JSON.parse(body)).toMatchObject({ type: 'payment.succeeded', data: { hello: 'payment.succeeded' } });
  });

  it('retries a failing endpoint with back-off, logs every attempt, and stops after the bounded attempts', async () => {
    const { id, headers } = await merchantWithEndpoint();
    received.length = 0;
    failuresLeft = 2;
    await emit(id, 'refund.succeeded');
    await drain();
    expect(received).toHaveLength(3);
    const list = await fixture.app.inject({ method: 'GET', url: '/v1/merchant/webhook-deliveries', headers });
    const [delivery] = list.json<{
      deliveries: { status: string; attempts: number; log: { responseStatus: number }[] }[];
    }>().deliveries;
    expect(delivery).toMatchObject({ status: 'succeeded', attempts: 3 });
    expect(delivery!.log.map((attempt) => attempt.responseStatus)).toEqual([500, 500, 200]);

    received.length = 0;
    failuresLeft = 10;
    await emit(id, 'payment.succeeded');
    await drain();
    expect(received).toHaveLength(3); // WEBHOOK_ATTEMPTS_MAX
    const failed = await fixture.app.inject({ method: 'GET', url: '/v1/merchant/webhook-deliveries?limit=1', headers });
    const last = failed.json<{ deliveries: { id: string; status: string }[] }>().deliveries[0]!;
    expect(last.status).toBe('failed');

    // Replay: a new delivery of the same event, which succeeds now that the endpoint is back.
    failuresLeft = 0;
    const replay = await fixture.app.inject({
      method: 'POST',
      url: `/v1/merchant/webhook-deliveries/${last.id}/replay`,
      headers,
    });
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.json()).toMatchObject({ replayOf: last.id, status: 'pending' });
    await drain();
    const replayed = await fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant/webhook-deliveries?limit=1',
      headers,
    });
    expect(replayed.json<{ deliveries: { status: string }[] }>().deliveries[0]).toMatchObject({ status: 'succeeded' });
  });

  it("does not let a merchant replay another merchant's delivery", async () => {
    const first = await merchantWithEndpoint();
    await emit(first.id, 'payment.succeeded');
    await drain();
    const list = await fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant/webhook-deliveries',
      headers: first.headers,
    });
    const deliveryId = list.json<{ deliveries: { id: string }[] }>().deliveries[0]!.id;
    const other = await merchantWithEndpoint();
    const response = await fixture.app.inject({
      method: 'POST',
      url: `/v1/merchant/webhook-deliveries/${deliveryId}/replay`,
      headers: other.headers,
    });
    expect(response.statusCode).toBe(404);
  });

  it('backs off exponentially, capped', () => {
    expect([1, 2, 3, 4].map((attempt) => retryDelayMs(attempt, 1_000))).toEqual([1_000, 2_000, 4_000, 8_000]);
    expect(retryDelayMs(40, 30_000)).toBe(6 * 3_600_000);
  });
});
