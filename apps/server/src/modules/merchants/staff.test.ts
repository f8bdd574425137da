/**
 * Stores and staff over HTTP: a signed-in applicant becomes the owner and sees the merchant in
 * /v1/me/merchants; owners add staff by their registered phone, change roles and stores, and remove
 * them, but never the last owner; limits; a pending merchant's staff may only look; cookie sessions need
 * the CSRF header; a cashier's store is what the payments code filters on.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type InjectOptions } from 'fastify';
import auth from '../../platform/auth.js';
import { merchantGuard, merchantOf } from '../../platform/merchant-auth.js';
import { openPaymentsHarness, type PaymentsHarness, type TestCustomer } from '../payments/test/harness.js';
import { MEMBERS_MAX, STORES_MAX } from './merchants.service.js';

let harness: PaymentsHarness;

beforeAll(async () => {
  harness = await openPaymentsHarness();
});

afterAll(async () => {
  await harness?.close();
});

const application = {
  legalName: '上海老李烧烤有限公司',
  displayName: '老李烧烤',
  mcc: '5812',
  contactName: '李四',
  contactPhone: '+8613800138001',
  city: 'Shanghai',
  feeRateBps: 60,
};

const inject = (options: InjectOptions) => harness.fixture.app.inject(options);

async function applyAs(customer: TestCustomer): Promise<string> {
  const response = await inject({
    method: 'POST',
    url: '/v1/merchants/applications',
    headers: customer.headers,
    payload: application,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json<{ id: string }>().id;
}

async function approve(merchantId: string) {
  const response = await inject({
    method: 'POST',
    url: `/v1/ops/merchants/${merchantId}/decisions`,
    headers: harness.ops,
    payload: { decision: 'approve' },
  });
  expect(response.statusCode, response.body).toBe(200);
}

const as = (customer: TestCustomer, merchantId: string) => ({ ...customer.headers, 'x-yika-merchant-id': merchantId });

describe('owners and memberships', () => {
  it('makes a signed-in applicant the owner; an anonymous application has no staff', async () => {
    const owner = await harness.newCustomer();
    const merchantId = await applyAs(owner);
    const mine = await inject({ method: 'GET', url: '/v1/me/merchants', headers: owner.headers });
    expect(mine.statusCode).toBe(200);
    expect(mine.json()).toEqual({
      items: [{ merchantId, displayName: '老李烧烤', status: 'pending', role: 'owner', storeId: null }],
    });
    const staff = await inject({ method: 'GET', url: '/v1/merchant/staff', headers: as(owner, merchantId) });
    expect(staff.json<{ items: { role: string; phoneMasked: string }[] }>().items).toEqual([
      expect.objectContaining({
        role: 'owner',
        customerId: owner.customerId,
        phoneMasked: expect.stringMatching(/^\+86\*{6}\d{4}$/),
      }),
    ]);

    const anonymous = await inject({ method: 'POST', url: '/v1/merchants/applications', payload: application });
    expect(anonymous.statusCode).toBe(201);
    expect(await harness.fixture.services.merchants.listMembers(anonymous.json<{ id: string }>().id)).toEqual([]);

    const badSession = await inject({
      method: 'POST',
      url: '/v1/merchants/applications',
      headers: { authorization: 'Bearer expired-or-made-up' },
      payload: application,
    });
    expect(badSession.statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/v1/me/merchants' })).statusCode).toBe(401);
  });

  it("lets a pending merchant's owner read /v1/merchant but change nothing until approval", async () => {
    const owner = await harness.newCustomer();
    const merchantId = await applyAs(owner);
    const read = await inject({ method: 'GET', url: '/v1/merchant', headers: as(owner, merchantId) });
    expect(read.json()).toMatchObject({ id: merchantId, status: 'pending' });
    for (const [url, payload] of [
      ['/v1/merchant/stores', { name: '一号店', city: 'Shanghai' }],
      ['/v1/merchant/qr-codes/dynamic', { amount: 100 }],
      ['/v1/merchant/api-keys', {}],
    ] as const) {
      const response = await inject({
        method: 'POST',
        url,
        headers: { ...as(owner, merchantId), 'idempotency-key': randomUUID() },
        payload,
      });
      expect(response.statusCode, url).toBe(403);
      expect(response.json()).toMatchObject({ code: 'forbidden' });
    }
    await approve(merchantId);
    const store = await inject({
      method: 'POST',
      url: '/v1/merchant/stores',
      headers: as(owner, merchantId),
      payload: { name: '一号店', city: 'Shanghai' },
    });
    expect(store.statusCode, store.body).toBe(201);
  });
});

describe('staff management', () => {
  let owner: TestCustomer;
  let merchantId: string;

  beforeAll(async () => {
    owner = await harness.newCustomer();
    merchantId = await applyAs(owner);
    await approve(merchantId);
  });

  it('adds staff by registered phone, refuses unknown and malformed numbers and duplicates', async () => {
    const cashier = await harness.newCustomer();
    const added = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: cashier.phone, role: 'cashier' },
    });
    expect(added.statusCode, added.body).toBe(201);
    expect(added.json()).toMatchObject({ customerId: cashier.customerId, role: 'cashier', storeId: null });

    const again = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: cashier.phone, role: 'manager' },
    });
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: 'staff_already_member' });

    const unknown = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: '+8613912345678', role: 'cashier' },
    });
    expect(unknown.statusCode).toBe(422);
    expect(unknown.json()).toMatchObject({ code: 'staff_phone_unknown' });

    const malformed = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: '12345678', role: 'cashier' },
    });
    expect(malformed.statusCode).toBeGreaterThanOrEqual(400);
    expect(malformed.statusCode).toBeLessThan(500);

    const mine = await inject({ method: 'GET', url: '/v1/me/merchants', headers: cashier.headers });
    expect(mine.json()).toEqual({
      items: [{ merchantId, displayName: '老李烧烤', status: 'approved', role: 'cashier', storeId: null }],
    });
  });

  it('binds a cashier to a store (exposed as staff.storeId) and refuses closing a store with staff', async () => {
    const store = await inject({
      method: 'POST',
      url: '/v1/merchant/stores',
      headers: as(owner, merchantId),
      payload: { name: '徐汇店', city: 'Shanghai' },
    });
    expect(store.statusCode, store.body).toBe(201);
    const storeId = store.json<{ id: string }>().id;
    const cashier = await harness.newCustomer();
    const added = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: cashier.phone, role: 'cashier', storeId },
    });
    expect(added.json()).toMatchObject({ storeId });

    // What a payments route sees for this cashier: a route behind the same guard echoes merchantOf().
    const probe = Fastify();
    await probe.register(auth, { authenticator: harness.fixture.services.identity });
    await probe.register(async (app) => {
      const asMerchant = merchantGuard(app, harness.fixture.services.merchants);
      app.get('/probe', { preHandler: asMerchant(['cashier']) }, async (request) => merchantOf(request));
    });
    const seen = await probe.inject({ method: 'GET', url: '/probe', headers: as(cashier, merchantId) });
    await probe.close();
    expect(seen.json()).toEqual({
      merchantId,
      keyId: null,
      staff: { customerId: cashier.customerId, role: 'cashier', storeId },
    });

    // Other modules check a storeId they are given against the merchant's open stores.
    await expect(harness.fixture.services.merchants.openStore(merchantId, storeId)).resolves.toMatchObject({
      id: storeId,
    });
    const stranger = await harness.newMerchant(60, '别家店');
    await expect(harness.fixture.services.merchants.openStore(stranger.id, storeId)).rejects.toMatchObject({
      status: 404,
    });

    const close = await inject({
      method: 'POST',
      url: `/v1/merchant/stores/${storeId}/close`,
      headers: as(owner, merchantId),
    });
    expect(close.statusCode).toBe(409);
    expect(close.json()).toMatchObject({ code: 'store_has_staff', staffCount: 1 });

    const renamed = await inject({
      method: 'PATCH',
      url: `/v1/merchant/stores/${storeId}`,
      headers: as(owner, merchantId),
      payload: { name: '徐汇旗舰店' },
    });
    expect(renamed.json()).toMatchObject({ id: storeId, name: '徐汇旗舰店', city: 'Shanghai' });

    const memberId = added.json<{ id: string }>().id;
    const moved = await inject({
      method: 'PATCH',
      url: `/v1/merchant/staff/${memberId}`,
      headers: as(owner, merchantId),
      payload: { storeId: null },
    });
    expect(moved.json()).toMatchObject({ storeId: null, role: 'cashier' });
    const closed = await inject({
      method: 'POST',
      url: `/v1/merchant/stores/${storeId}/close`,
      headers: as(owner, merchantId),
    });
    expect(closed.statusCode).toBe(200);
    expect(closed.json<{ closedAt: string | null }>().closedAt).not.toBeNull();
    const toClosed = await inject({
      method: 'PATCH',
      url: `/v1/merchant/staff/${memberId}`,
      headers: as(owner, merchantId),
      payload: { storeId },
    });
    expect(toClosed.statusCode).toBe(404);
    const list = await inject({ method: 'GET', url: '/v1/merchant/stores', headers: as(owner, merchantId) });
    expect(list.json<{ items: { id: string; closedAt: string | null }[] }>().items.at(-1)).toMatchObject({
      id: storeId,
    });
  });

  it('never removes or demotes the last owner, but does once a second owner exists', async () => {
    const members = (await inject({ method: 'GET', url: '/v1/merchant/staff', headers: as(owner, merchantId) })).json<{
      items: { id: string; role: string; customerId: string }[];
    }>().items;
    const ownerMember = members.find((member) => member.customerId === owner.customerId)!;
    for (const request of [
      { method: 'POST' as const, url: `/v1/merchant/staff/${ownerMember.id}/remove` },
      { method: 'PATCH' as const, url: `/v1/merchant/staff/${ownerMember.id}`, payload: { role: 'manager' } },
    ]) {
      const response = await inject({ ...request, headers: as(owner, merchantId) });
      expect(response.statusCode).toBe(409);
      expect(response.json()).toMatchObject({ code: 'last_owner' });
    }
    const second = await harness.newCustomer();
    const added = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: second.phone, role: 'owner' },
    });
    expect(added.statusCode).toBe(201);
    // Both owners try to step down at once: one of them must stay.
    const secondId = added.json<{ id: string }>().id;
    const results = await Promise.all([
      inject({
        method: 'PATCH',
        url: `/v1/merchant/staff/${ownerMember.id}`,
        headers: as(owner, merchantId),
        payload: { role: 'manager' },
      }),
      inject({
        method: 'PATCH',
        url: `/v1/merchant/staff/${secondId}`,
        headers: as(second, merchantId),
        payload: { role: 'manager' },
      }),
    ]);
    expect(results.map((result) => result.statusCode).sort()).toEqual([200, 409]);
    const owners = (await harness.fixture.services.merchants.listMembers(merchantId)).filter(
      (member) => member.role === 'owner',
    );
    expect(owners).toHaveLength(1);
    const remaining = owners[0]!;
    const remainingCustomer = remaining.customerId === owner.customerId ? owner : second;
    const demotedId = remaining.id === secondId ? ownerMember.id : secondId;
    const removed = await inject({
      method: 'POST',
      url: `/v1/merchant/staff/${demotedId}/remove`,
      headers: as(remainingCustomer, merchantId),
    });
    expect(removed.statusCode).toBe(204);
    // Every change of who may act for the merchant is on the audit trail, with who made it.
    const trail = await harness.fixture.services.audit.list({ subject: { type: 'merchant', id: merchantId } });
    const actions = trail.map((record) => record.action);
    expect(actions).toEqual(
      expect.arrayContaining(['merchants.staff_added', 'merchants.staff_changed', 'merchants.staff_removed']),
    );
    expect(trail.find((record) => record.action === 'merchants.staff_removed')).toMatchObject({
      actor: { type: 'staff', id: remainingCustomer.customerId },
      before: { memberId: demotedId },
    });
    expect((await harness.fixture.services.audit.verify()).ok).toBe(true);
    const demotedCustomer = remainingCustomer === owner ? second : owner;
    const gone = await inject({ method: 'GET', url: '/v1/merchant', headers: as(demotedCustomer, merchantId) });
    expect(gone.statusCode).toBe(403);
    owner = remainingCustomer;
  });

  it('needs the CSRF header on unsafe requests authenticated by the session cookie', async () => {
    const token = owner.headers.authorization!.replace(/^Bearer /, '');
    const cookieHeaders = { cookie: `yika_session=${token}`, 'x-yika-merchant-id': merchantId };
    const payload = { name: '静安店', city: 'Shanghai' };
    const bare = await inject({ method: 'POST', url: '/v1/merchant/stores', headers: cookieHeaders, payload });
    expect(bare.statusCode).toBe(403);
    expect(bare.json()).toMatchObject({ code: 'csrf_required' });
    const withHeader = await inject({
      method: 'POST',
      url: '/v1/merchant/stores',
      headers: { ...cookieHeaders, 'x-yika-csrf': '1' },
      payload,
    });
    expect(withHeader.statusCode, withHeader.body).toBe(201);
    const read = await inject({ method: 'GET', url: '/v1/merchant/stores', headers: cookieHeaders });
    expect(read.statusCode).toBe(200);
  });

  it(`keeps at most ${STORES_MAX} open stores and ${MEMBERS_MAX} staff`, async () => {
    const merchants = harness.fixture.services.merchants;
    const open = (await merchants.listStores(merchantId)).filter((store) => store.closedAt === null).length;
    for (let index = open; index < STORES_MAX; index += 1) {
      await merchants.createStore(merchantId, { name: `店${index}`, city: 'Shanghai' });
    }
    const over = await inject({
      method: 'POST',
      url: '/v1/merchant/stores',
      headers: as(owner, merchantId),
      payload: { name: '一家太多', city: 'Shanghai' },
    });
    expect(over.statusCode).toBe(409);
    expect(over.json()).toMatchObject({ code: 'limit_reached' });

    // Fill the staff up to the limit directly (creating 200 customers through SMS sign-in is slow).
    const live = (await merchants.listMembers(merchantId)).length;
    const { db } = harness.fixture;
    for (let index = live; index < MEMBERS_MAX; index += 1) {
      await db.query(
        `insert into merchant_members (id, merchant_id, customer_id, phone_masked, role) values ($1, $2, $3, '+86******0000', 'cashier')`,
        [randomUUID(), merchantId, randomUUID()],
      );
    }
    const newcomer = await harness.newCustomer();
    const full = await inject({
      method: 'POST',
      url: '/v1/merchant/staff',
      headers: as(owner, merchantId),
      payload: { phone: newcomer.phone, role: 'cashier' },
    });
    expect(full.statusCode).toBe(409);
    expect(full.json()).toMatchObject({ code: 'limit_reached' });
    expect(await merchants.listMembers(merchantId)).toHaveLength(MEMBERS_MAX);
  });
});
