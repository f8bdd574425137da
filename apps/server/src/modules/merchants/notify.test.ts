/**
 * Order notifications and the SSRF guard in the running app: a paid checkout order's notify URL
 * receives the payment.succeeded event signed with the merchant's notify key (shown to the owner, and
 * rotatable), through the webhook machinery (logged, replayable). With private networks not allowed,
 * webhook endpoints and notify URLs on loopback are refused at registration (422 webhook_url_forbidden)
 * and a delivery that would reach one anyway (a host that now resolves privately) is never sent.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPaymentsHarness, PIN, type PaymentsHarness } from '../payments/test/harness.js';
import { SIGNATURE_HEADER, WebhookService } from './webhooks.js';

interface Received {
  url: string;
  signature: string;
  body: string;
}

let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];

beforeAll(async () => {
  receiver = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        url: request.url ?? '',
        signature: String(request.headers[SIGNATURE_HEADER] ?? ''),
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => receiver.close(resolve));
});

function verify(secret: string, header: string, body: string): boolean {
  const match = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  if (!match) return false;
  return createHmac('sha256', secret).update(`${match[1]}.${body}`).digest('hex') === match[2];
}

async function payOrder(harness: PaymentsHarness, headers: Record<string, string>, notifyUrl: string) {
  const customer = await harness.newCustomer(10_000n);
  const created = await harness.fixture.app.inject({
    method: 'POST',
    url: '/v1/merchant/orders',
    headers,
    payload: { amount: 1_200, description: 'Notebook', merchantOrderNo: `SO-${randomUUID()}`, notifyUrl },
  });
  expect(created.statusCode, created.body).toBe(201);
  const orderId = created.json<{ id: string }>().id;
  const paid = await harness.fixture.app.inject({
    method: 'POST',
    url: `/v1/checkout/${orderId}/pay`,
    headers: { ...customer.headers, 'idempotency-key': randomUUID() },
    payload: { pin: PIN },
  });
  expect(paid.statusCode, paid.body).toBe(201);
  return { orderId, paymentId: paid.json<{ id: string }>().id };
}

describe('order notifications (private networks allowed, as in tests and the demo)', () => {
  let harness: PaymentsHarness;

  beforeAll(async () => {
    harness = await openPaymentsHarness({ WEBHOOK_RETRY_BASE_MS: '10', WEBHOOK_TIMEOUT_MS: '2000' });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it("posts payment.succeeded to the order's notify URL, signed with the merchant's notify key", async () => {
    const merchant = await harness.newMerchant(60, '文具店');
    const key = await harness.fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant/notify-key',
      headers: merchant.headers,
    });
    expect(key.statusCode, key.body).toBe(200);
    const { secret } = key.json<{ secret: string }>();
    expect(secret).toMatch(/^nksec_/);
    // Shown again unchanged: the merchant's server needs it to verify.
    expect(
      (
        await harness.fixture.app.inject({ method: 'GET', url: '/v1/merchant/notify-key', headers: merchant.headers })
      ).json(),
    ).toMatchObject({ secret });

    const { paymentId } = await payOrder(harness, merchant.headers, `${receiverUrl}/notify/stationery`);
    for (let round = 0; round < 10 && !received.some((r) => r.url === '/notify/stationery'); round += 1) {
      await harness.fixture.services.webhooks.run();
    }
    const notification = received.find((r) => r.url === '/notify/stationery');
    expect(notification).toBeDefined();
    expect(verify(secret, notification!.signature, notification!.body)).toBe(true);
    expect(JSON.parse(notification!.body)).toMatchObject({
      type: 'payment.succeeded',
      data: { payment: { id: paymentId, amount: 1_200 } },
    });

    // Logged like any webhook delivery, marked as a notification, and replayable.
    const deliveries = await harness.fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant/webhook-deliveries',
      headers: merchant.headers,
    });
    const delivery = deliveries
      .json<{ deliveries: { id: string; endpointId: string | null; notifyUrl: string | null; status: string }[] }>()
      .deliveries.find((d) => d.notifyUrl === `${receiverUrl}/notify/stationery`);
    expect(delivery).toMatchObject({ endpointId: null, status: 'succeeded' });

    const rotated = await harness.fixture.app.inject({
      method: 'POST',
      url: '/v1/merchant/notify-key/rotate',
      headers: merchant.headers,
    });
    const newSecret = rotated.json<{ secret: string }>().secret;
    expect(newSecret).not.toBe(secret);
    const replay = await harness.fixture.app.inject({
      method: 'POST',
      url: `/v1/merchant/webhook-deliveries/${delivery!.id}/replay`,
      headers: merchant.headers,
    });
    expect(replay.statusCode, replay.body).toBe(201);
    const before = received.filter((r) => r.url === '/notify/stationery').length;
    for (
      let round = 0;
      round < 10 && received.filter((r) => r.url === '/notify/stationery').length === before;
      round += 1
    ) {
      await harness.fixture.services.webhooks.run();
    }
    const replayed = received.filter((r) => r.url === '/notify/stationery').at(-1)!;
    expect(replayed.body).toBe(notification!.body);
    expect(verify(newSecret, replayed.signature, replayed.body)).toBe(true);
    expect(verify(secret, replayed.signature, replayed.body)).toBe(false);
  });

  it("keeps the notify key from managers and from other merchants' keys", async () => {
    const merchant = await harness.newMerchant(60, '书店');
    const other = await harness.newMerchant(60, '花店');
    const mine = (
      await harness.fixture.app.inject({ method: 'GET', url: '/v1/merchant/notify-key', headers: merchant.headers })
    ).json<{
      secret: string;
    }>();
    const theirs = (
      await harness.fixture.app.inject({ method: 'GET', url: '/v1/merchant/notify-key', headers: other.headers })
    ).json<{
      secret: string;
    }>();
    expect(mine.secret).not.toBe(theirs.secret);
    const manager = await harness.newCustomer();
    await harness.fixture.services.merchants.addMember(merchant.id, { phone: manager.phone, role: 'manager' });
    const refused = await harness.fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant/notify-key',
      headers: { ...manager.headers, 'x-yika-merchant-id': merchant.id },
    });
    expect(refused.statusCode).toBe(403);
  });
});

describe('SSRF guard with private networks not allowed (production)', () => {
  let harness: PaymentsHarness;

  beforeAll(async () => {
    harness = await openPaymentsHarness({
      WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'false',
      WEBHOOK_ATTEMPTS_MAX: '1',
      WEBHOOK_TIMEOUT_MS: '2000',
    });
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('refuses loopback, private and metadata URLs for webhook endpoints and notify URLs', async () => {
    const merchant = await harness.newMerchant(60, '安全店');
    for (const url of [
      `${receiverUrl}/hook`,
      'http://localhost/hook',
      'http://10.0.0.8/hook',
      'http://169.254.169.254/latest/meta-data/',
      'http://[::ffff:127.0.0.1]/hook',
      'http://[fd00:ec2::254]/',
    ]) {
      const endpoint = await harness.fixture.app.inject({
        method: 'POST',
        url: '/v1/merchant/webhook-endpoints',
        headers: merchant.headers,
        payload: { url },
      });
      expect(endpoint.statusCode, url).toBe(422);
      expect(endpoint.json()).toMatchObject({ code: 'webhook_url_forbidden' });
      const order = await harness.fixture.app.inject({
        method: 'POST',
        url: '/v1/merchant/orders',
        headers: merchant.headers,
        payload: { amount: 100, notifyUrl: url },
      });
      expect(order.statusCode, url).toBe(422);
      expect(order.json()).toMatchObject({ code: 'webhook_url_forbidden' });
    }
    expect((await harness.fixture.services.merchants.listWebhookEndpoints(merchant.id)).length).toBe(0);
  });

  it('never sends a delivery whose host is private at delivery time (literal or rebound DNS)', async () => {
    const merchant = await harness.newMerchant(60, '改址店');
    const { db, services } = harness.fixture;
    // An endpoint registered while its host was public, since pointed at loopback (stored as is).
    const endpoint = await services.merchants.addWebhookEndpoint(merchant.id, 'http://93.184.216.34/hook');
    await db.query(`update merchant_webhook_endpoints set url = $2 where id = $1`, [
      endpoint.id,
      `${receiverUrl}/rebound`,
    ]);
    // A notify URL whose name resolved publicly when the order was made and resolves to loopback now.
    const port = (receiver.address() as AddressInfo).port;
    const { paymentId } = await payOrder(harness, merchant.headers, `http://93.184.216.34:${port}/rebound-notify`);
    await db.query(
      `update outbox_events set payload = jsonb_set(payload, '{notifyUrl}', to_jsonb($2::text))
       where payload->>'notifyUrl' like $1`,
      ['%/rebound-notify', `http://shop.rebound.test:${port}/rebound-notify`],
    );
    const before = received.length;
    // The same database, delivered by a service whose DNS answers loopback for every name.
    const webhooks = new WebhookService({
      db,
      cipher: services.cipher,
      attemptsMax: 1,
      retryBaseMs: 10,
      timeoutMs: 2000,
      allowPrivateNetworks: false,
      resolve: () => Promise.resolve(['127.0.0.1']),
    });
    await webhooks.run();
    await webhooks.run();
    expect(received.length).toBe(before);
    const deliveries = await webhooks.deliveries(merchant.id);
    const forPayment = deliveries.filter((delivery) => delivery.eventType === 'payment.succeeded');
    expect(forPayment.length).toBe(2); // the endpoint and the notify URL
    for (const delivery of forPayment) {
      expect(delivery.status).toBe('failed');
      expect(delivery.log[0]?.error).toMatch(/forbidden/);
    }
    expect(paymentId).toBeDefined();
  });
});
