/**
 * Portal authentication over every `/v1/merchant/*` route the app serves (read from the OpenAPI
 * document, so a new route is covered the day it is added): no credentials → 401, a signed-in
 * non-member → 403, each staff role refused exactly where the role rights say, an API key refused on
 * staff management and confined to its own merchant. Refusals come before body validation, so an empty
 * body is enough to probe every route.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openPaymentsHarness,
  type PaymentsHarness,
  type TestCustomer,
  type TestMerchant,
} from '../payments/test/harness.js';

type Role = 'owner' | 'manager' | 'cashier';

/**
 * The role rights of the contract: owner = everything; manager = everything except API keys, webhook
 * endpoints, the notify key, staff, and the settlement (payout) bank account; cashier = cashier charges,
 * QR codes, and reading payments (and the orders behind their dynamic QR codes).
 */
function roleMayCall(role: Role, method: string, path: string): boolean {
  if (role === 'owner') return true;
  const ownerOnly = /^\/v1\/merchant\/(api-keys|webhook-endpoints|notify-key|staff|settlement-account)(\/|$)/;
  if (role === 'manager') return !ownerOnly.test(path);
  if (method === 'GET' && path === '/v1/merchant') return true;
  if (/^\/v1\/merchant\/(qr-codes|payment-code-charges)(\/|$)/.test(path)) return true;
  if (method === 'GET' && /^\/v1\/merchant\/payments(\/|$)/.test(path)) return true;
  if (method === 'GET' && /^\/v1\/merchant\/orders\/\{id\}(\/qr)?$/.test(path)) return true;
  return false;
}

/** Staff management is for people, never for an integration's API key. */
const apiKeyMayCall = (path: string) => !/^\/v1\/merchant\/(staff|settlement-account)(\/|$)/.test(path);

interface Route {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  path: string;
}

let harness: PaymentsHarness;
let merchant: TestMerchant;
let other: TestMerchant;
let routes: Route[];
const staff = {} as Record<Role, TestCustomer>;
let outsider: TestCustomer;

beforeAll(async () => {
  harness = await openPaymentsHarness();
  merchant = await harness.newMerchant(60, '角色测试店');
  other = await harness.newMerchant(60, '隔壁店');
  const owner = await harness.newCustomer();
  // The owner is made through the service (the harness's merchant applied without a session).
  const added = await harness.fixture.services.merchants.addMember(merchant.id, { phone: owner.phone, role: 'owner' });
  expect(added.role).toBe('owner');
  staff.owner = owner;
  for (const role of ['manager', 'cashier'] as const) {
    staff[role] = await harness.newCustomer();
    const response = await harness.fixture.app.inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: { ...owner.headers, 'x-yika-merchant-id': merchant.id },
      payload: { phone: staff[role].phone, role },
    });
    expect(response.statusCode, response.body).toBe(201);
  }
  outsider = await harness.newCustomer();

  const document = (await harness.fixture.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
    paths: Record<string, Record<string, unknown>>;
  }>();
  routes = Object.entries(document.paths)
    .filter(([path]) => path === '/v1/merchant' || path.startsWith('/v1/merchant/'))
    .flatMap(([path, operations]) =>
      Object.keys(operations)
        .filter((method) => ['get', 'post', 'patch', 'put', 'delete'].includes(method))
        .map((method) => ({ method: method.toUpperCase() as Route['method'], path })),
    );
});

afterAll(async () => {
  await harness?.close();
});

const concrete = (path: string) => path.replace(/\{[^}]+\}/g, randomUUID());

async function call(route: Route, headers: Record<string, string>) {
  return harness.fixture.app.inject({
    method: route.method,
    url: concrete(route.path),
    headers: { ...headers, 'idempotency-key': randomUUID() },
    ...(route.method === 'GET' || route.method === 'DELETE' ? {} : { payload: {} }),
  });
}

describe('every /v1/merchant route', () => {
  it('is found in the OpenAPI document, and the known ones are among them', () => {
    const names = routes.map((route) => `${route.method} ${route.path}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'GET /v1/merchant',
        'POST /v1/merchant/api-keys',
        'GET /v1/merchant/webhook-deliveries',
        'POST /v1/merchant/staff',
        'PATCH /v1/merchant/stores/{id}',
        'GET /v1/merchant/qr-codes/static',
        'POST /v1/merchant/orders',
        'POST /v1/merchant/payments/{id}/refunds',
      ]),
    );
    expect(routes.length).toBeGreaterThan(15);
  });

  it('answers 401 without credentials, and with an unknown API key or session', async () => {
    const wrongKey = `yk_${'0'.repeat(16)}_${'A'.repeat(43)}`;
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Bearer ${wrongKey}` },
      { authorization: 'Bearer not-a-session' },
    ];
    for (const route of routes) {
      for (const headers of attempts) {
        const response = await call(route, { ...headers, 'x-yika-merchant-id': merchant.id });
        expect(response.statusCode, `${route.method} ${route.path} ${JSON.stringify(headers)}`).toBe(401);
        expect(response.json()).toMatchObject({ code: 'unauthenticated' });
      }
    }
  });

  it('answers 403 forbidden to a signed-in customer who is not on the staff', async () => {
    for (const route of routes) {
      const response = await call(route, { ...outsider.headers, 'x-yika-merchant-id': merchant.id });
      expect(response.statusCode, `${route.method} ${route.path}`).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    }
  });

  it('refuses each role exactly where its rights end (403 forbidden), and lets it through elsewhere', async () => {
    const table: string[] = [];
    for (const route of routes) {
      for (const role of ['owner', 'manager', 'cashier'] as const) {
        const response = await call(route, { ...staff[role].headers, 'x-yika-merchant-id': merchant.id });
        const refused = response.statusCode === 403 && response.json<{ code: string }>().code === 'forbidden';
        const expected = !roleMayCall(role, route.method, route.path);
        if (refused !== expected || response.statusCode === 401 || response.statusCode >= 500) {
          table.push(`${role} ${route.method} ${route.path}: ${response.statusCode} ${response.body.slice(0, 120)}`);
        }
      }
    }
    expect(table).toEqual([]);
  });

  it('lets an API key through everywhere but staff management, for its own merchant only', async () => {
    const table: string[] = [];
    for (const route of routes) {
      const response = await call(route, merchant.headers);
      const refused = response.statusCode === 403 && response.json<{ code: string }>().code === 'forbidden';
      if (refused === apiKeyMayCall(route.path) || response.statusCode === 401 || response.statusCode >= 500) {
        table.push(`${route.method} ${route.path}: ${response.statusCode} ${response.body.slice(0, 120)}`);
      }
      // Naming another merchant with this key is refused, never served as that merchant.
      const crossed = await call(route, { ...merchant.headers, 'x-yika-merchant-id': other.id });
      if (crossed.statusCode !== 403) table.push(`crossed ${route.method} ${route.path}: ${crossed.statusCode}`);
    }
    expect(table).toEqual([]);
  });
});

describe('isolation between merchants', () => {
  it("never shows merchant B's order or merchant to A's key or A's staff", async () => {
    const order = await harness.fixture.app.inject({
      method: 'POST',
      url: '/v1/merchant/orders',
      headers: { ...other.headers, 'idempotency-key': randomUUID() },
      payload: { amount: 1_000, description: 'B only' },
    });
    expect(order.statusCode, order.body).toBe(201);
    const orderId = order.json<{ id: string }>().id;
    const viaKey = await harness.fixture.app.inject({
      method: 'GET',
      url: `/v1/merchant/orders/${orderId}`,
      headers: merchant.headers,
    });
    expect(viaKey.statusCode).toBe(404);
    const viaStaff = await harness.fixture.app.inject({
      method: 'GET',
      url: `/v1/merchant/orders/${orderId}`,
      headers: { ...staff.owner.headers, 'x-yika-merchant-id': other.id },
    });
    expect(viaStaff.statusCode).toBe(403);
    const own = await harness.fixture.app.inject({ method: 'GET', url: '/v1/merchant', headers: merchant.headers });
    expect(own.json()).toMatchObject({ id: merchant.id });
    const asStaff = await harness.fixture.app.inject({
      method: 'GET',
      url: '/v1/merchant',
      headers: { ...staff.cashier.headers, 'x-yika-merchant-id': merchant.id },
    });
    expect(asStaff.json()).toMatchObject({ id: merchant.id });
  });

  it('asks a staff session to name the merchant (400 merchant_id_required)', async () => {
    for (const value of [undefined, 'not-a-uuid']) {
      const response = await harness.fixture.app.inject({
        method: 'GET',
        url: '/v1/merchant',
        headers: { ...staff.owner.headers, ...(value === undefined ? {} : { 'x-yika-merchant-id': value }) },
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'merchant_id_required' });
    }
  });
});
