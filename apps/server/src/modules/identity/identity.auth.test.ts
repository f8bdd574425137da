import type { InjectOptions } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityHarness, type IdentityHarness } from '../../test/identity-harness.js';

let h: IdentityHarness;
beforeAll(async () => {
  h = await openIdentityHarness();
});
afterAll(async () => {
  await h.close();
});

const inject = (options: InjectOptions) => h.fixture.app.inject(options);

async function count(sql: string, params: unknown[]): Promise<number> {
  const { rows } = await h.db.query<{ n: number | bigint }>(sql, params);
  return Number(rows[0]!.n);
}
const customersWithPhone = (phone: string) =>
  count('select count(*) as n from identity_customers where phone = $1', [phone]);
const sessionsOf = (phone: string) =>
  count(
    'select count(*) as n from identity_sessions s join identity_customers c on c.id = s.customer_id where c.phone = $1',
    [phone],
  );

describe('registration and sign-in by SMS code', () => {
  it('registers a new customer in three steps: request code, enter code, set PIN', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    let steps = 0;

    steps += 1;
    const otp = await inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress: ip });
    expect(otp.statusCode).toBe(202);
    expect(otp.json()).toEqual({ expiresInSeconds: 300, resendAfterSeconds: 60 });

    steps += 1;
    const code = await h.latestCode(phone);
    const session = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code, deviceName: 'Test phone', client: 'api' },
      remoteAddress: ip,
    });
    expect(session.statusCode).toBe(201);
    const body = session.json();
    expect(body).toMatchObject({
      isNewCustomer: true,
      nextStep: 'set_pin',
      customer: { phone, status: 'active', accountClass: 'I', maskedName: null },
    });
    expect(body.token).toMatch(/^[A-Za-z0-9_-]{43}$/);

    steps += 1;
    const pin = await inject({
      method: 'PUT',
      url: '/v1/me/pin',
      headers: { authorization: `Bearer ${body.token}` },
      payload: { pin: '285714' },
    });
    expect(pin.statusCode).toBe(204);
    expect(steps).toBeLessThanOrEqual(3);

    const me = await inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${body.token}` } });
    expect(me.json()).toMatchObject({ customerId: body.customerId, pinSet: true, kycVerified: false });

    // Signing in again with the same number finds the same customer.
    const again = await h.signIn(phone);
    expect(again.customerId).toBe(body.customerId);
    expect(await customersWithPhone(phone)).toBe(1);

    // The token is stored only as its hash; codes only as keyed hashes.
    const { rows } = await h.db.query<{ token_hash: string }>(
      'select token_hash from identity_sessions where id = $1',
      [body.sessionId],
    );
    expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.token_hash).not.toContain(body.token);
    const codes = await h.db.query<{ code_hash: string }>(
      'select code_hash from identity_one_time_codes where phone = $1',
      [phone],
    );
    expect(codes.rows.every((row) => /^[0-9a-f]{64}$/.test(row.code_hash) && !row.code_hash.includes(code))).toBe(true);
  });

  it('answers a code request the same way whether or not the number is registered', async () => {
    const registered = h.freshPhone();
    await h.signIn(registered);
    h.advance(61_000);
    const unknown = h.freshPhone();
    const first = await inject({
      method: 'POST',
      url: '/v1/auth/otp',
      payload: { phone: registered },
      remoteAddress: h.freshIp(),
    });
    const second = await inject({
      method: 'POST',
      url: '/v1/auth/otp',
      payload: { phone: unknown },
      remoteAddress: h.freshIp(),
    });
    expect(first.statusCode).toBe(second.statusCode);
    expect(first.body).toBe(second.body);
    expect(await customersWithPhone(unknown)).toBe(0);
  });

  it('refuses invalid numbers with phone_invalid and stores nothing', async () => {
    for (const phone of ['+8612800138000', '+86138001380', 'hello', '+0123456', '12345']) {
      const response = await inject({
        method: 'POST',
        url: '/v1/auth/otp',
        payload: { phone },
        remoteAddress: h.freshIp(),
      });
      expect(response.statusCode, phone).toBe(422);
      expect(response.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(response.json().code).toBe('phone_invalid');
    }
    expect(await count("select count(*) as n from identity_one_time_codes where phone like '+8612%'", [])).toBe(0);
    const missing = await inject({ method: 'POST', url: '/v1/auth/otp', payload: {} });
    expect(missing.json()).toMatchObject({ code: 'validation_failed', errors: [{ field: 'phone', in: 'body' }] });
  });

  it('refuses a wrong code with attempts left, and creates nothing', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    await h.requestCode(phone, ip);
    const code = await h.latestCode(phone);
    const wrong = code === '000000' ? '000001' : '000000';
    const response = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code: wrong },
      remoteAddress: ip,
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    expect(await customersWithPhone(phone)).toBe(0);
    // The right code still works afterwards.
    const right = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code },
      remoteAddress: ip,
    });
    expect(right.statusCode).toBe(201);
    // ...once.
    const reused = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code },
      remoteAddress: ip,
    });
    expect(reused.json().code).toBe('otp_invalid');
    expect(await sessionsOf(phone)).toBe(1);
  });

  it('burns a code after five wrong attempts: even the right one fails then', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    await h.requestCode(phone, ip);
    const code = await h.latestCode(phone);
    const wrong = code === '999999' ? '999998' : '999999';
    const answers: string[] = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const response = await inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: { phone, code: wrong },
        remoteAddress: ip,
      });
      answers.push(`${response.json().code}:${response.json().attemptsLeft ?? '-'}`);
    }
    expect(answers).toEqual([
      'otp_invalid:4',
      'otp_invalid:3',
      'otp_invalid:2',
      'otp_invalid:1',
      'otp_attempts_exceeded:-',
    ]);
    const right = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code },
      remoteAddress: ip,
    });
    expect(right.statusCode).toBe(422);
    expect(right.json().code).toBe('otp_attempts_exceeded');
    expect(await customersWithPhone(phone)).toBe(0);
  });

  it('refuses a code older than five minutes with otp_expired', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    await h.requestCode(phone, ip);
    const code = await h.latestCode(phone);
    h.advance(5 * 60_000 + 1_000);
    const response = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code },
      remoteAddress: ip,
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('otp_expired');
    expect(await customersWithPhone(phone)).toBe(0);
  });

  it('only the latest code counts', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    await h.requestCode(phone, ip);
    const first = await h.latestCode(phone);
    h.advance(61_000);
    await h.requestCode(phone, ip);
    const second = await h.latestCode(phone);
    if (first !== second) {
      const old = await inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        payload: { phone, code: first },
        remoteAddress: ip,
      });
      expect(old.json().code).toBe('otp_invalid');
    }
    const latest = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code: second },
      remoteAddress: ip,
    });
    expect(latest.statusCode).toBe(201);
  });

  it('limits codes per number (one a minute, five an hour) and per IP (twenty an hour)', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    await h.requestCode(phone, ip);
    const tooSoon = await inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress: ip });
    expect(tooSoon.statusCode).toBe(429);
    expect(tooSoon.json()).toMatchObject({ code: 'otp_rate_limited', retryAfterSeconds: 60 });
    expect(tooSoon.headers['retry-after']).toBe('60');
    for (let sent = 1; sent < 5; sent += 1) {
      h.advance(61_000);
      await h.requestCode(phone, h.freshIp());
    }
    h.advance(61_000);
    const sixth = await inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress: h.freshIp() });
    expect(sixth.json().code).toBe('otp_rate_limited');
    h.advance(3_600_000);
    await h.requestCode(phone, h.freshIp());

    const busyIp = h.freshIp();
    for (let sent = 0; sent < 20; sent += 1) await h.requestCode(h.freshPhone(), busyIp);
    const victim = h.freshPhone();
    const blocked = await inject({
      method: 'POST',
      url: '/v1/auth/otp',
      payload: { phone: victim },
      remoteAddress: busyIp,
    });
    expect(blocked.statusCode).toBe(429);
    expect(blocked.json().code).toBe('otp_rate_limited');
    expect(await count('select count(*) as n from identity_one_time_codes where phone = $1', [victim])).toBe(0);
  });
  it('answers 503 sms_unavailable when the provider is down, and the unsent code cannot be used', async () => {
    const { buildTestApp } = await import('../../test/app-fixture.js');
    const down = await buildTestApp({
      db: h.db,
      sms: {
        send: async () => {
          throw new Error('provider down');
        },
      },
      now: () => h.now(),
    });
    try {
      const phone = h.freshPhone();
      const response = await down.app.inject({
        method: 'POST',
        url: '/v1/auth/otp',
        payload: { phone },
        remoteAddress: h.freshIp(),
      });
      expect(response.statusCode).toBe(503);
      expect(response.json().code).toBe('sms_unavailable');
      const { rows } = await h.db.query<{ consumed_at: Date | null }>(
        'select consumed_at from identity_one_time_codes where phone = $1',
        [phone],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.consumed_at).not.toBeNull();
    } finally {
      await down.close();
    }
  });
});

describe('sessions', () => {
  it('answers 401 unauthenticated without a token, with an unknown one and with a malformed header', async () => {
    for (const headers of [{}, { authorization: 'Bearer nope-nope-nope-nope-nope' }, { authorization: 'Basic abc' }]) {
      const response = await inject({ method: 'GET', url: '/v1/me', headers });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'unauthenticated', status: 401 });
    }
  });

  it('signs out with DELETE /v1/auth/session: the token stops working', async () => {
    const customer = await h.signIn(h.freshPhone());
    expect((await inject({ method: 'GET', url: '/v1/me', headers: customer.headers })).statusCode).toBe(200);
    expect((await inject({ method: 'DELETE', url: '/v1/auth/session', headers: customer.headers })).statusCode).toBe(
      204,
    );
    expect((await inject({ method: 'GET', url: '/v1/me', headers: customer.headers })).statusCode).toBe(401);
  });

  it('rotates a token: the old one stops working, the new one works', async () => {
    const customer = await h.signIn(h.freshPhone());
    const rotated = await inject({ method: 'POST', url: '/v1/auth/session/rotate', headers: customer.headers });
    expect(rotated.statusCode).toBe(200);
    const token = rotated.json().token as string;
    expect(token).not.toBe(customer.token);
    expect((await inject({ method: 'GET', url: '/v1/me', headers: customer.headers })).statusCode).toBe(401);
    expect(
      (await inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token}` } })).statusCode,
    ).toBe(200);
  });

  it('expires after 30 idle days, and after 90 days however much it is used', async () => {
    const idle = await h.signIn(h.freshPhone());
    const busy = await h.signIn(h.freshPhone());
    for (let day = 0; day < 3; day += 1) {
      h.advance(29 * 86_400_000);
      expect((await inject({ method: 'GET', url: '/v1/me', headers: busy.headers })).statusCode).toBe(200);
    }
    expect((await inject({ method: 'GET', url: '/v1/me', headers: idle.headers })).statusCode).toBe(401);
    h.advance(3 * 86_400_000 + 1_000); // 90 days and a second since sign-in
    expect((await inject({ method: 'GET', url: '/v1/me', headers: busy.headers })).statusCode).toBe(401);
  });

  it('sets an HttpOnly SameSite=Lax cookie for the web app, and needs the CSRF header on unsafe requests', async () => {
    const phone = h.freshPhone();
    const ip = h.freshIp();
    h.advance(61_000);
    await h.requestCode(phone, ip);
    const response = await inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      payload: { phone, code: await h.latestCode(phone), client: 'web' },
      remoteAddress: ip,
    });
    expect(response.statusCode).toBe(201);
    expect(response.json().token).toBeUndefined();
    const setCookie = String(response.headers['set-cookie']);
    expect(setCookie).toMatch(/^yika_session=[A-Za-z0-9_-]{43};/);
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Lax/);
    expect(setCookie).not.toMatch(/Secure/); // plain http here; behind TLS the cookie is Secure
    const token = /yika_session=([^;]+)/.exec(setCookie)![1]!;
    const cookies = { yika_session: token };

    expect((await inject({ method: 'GET', url: '/v1/me', cookies })).statusCode).toBe(200);
    const forged = await inject({ method: 'PUT', url: '/v1/me/pin', cookies, payload: { pin: '285714' } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json().code).toBe('csrf_required');
    expect((await inject({ method: 'GET', url: '/v1/me', cookies })).json().pinSet).toBe(false);
    const allowed = await inject({
      method: 'PUT',
      url: '/v1/me/pin',
      cookies,
      headers: { 'x-yika-csrf': '1' },
      payload: { pin: '285714' },
    });
    expect(allowed.statusCode).toBe(204);

    // Rotation by cookie sets a new cookie and does not reveal the token.
    const rotated = await inject({
      method: 'POST',
      url: '/v1/auth/session/rotate',
      cookies,
      headers: { 'x-yika-csrf': '1' },
    });
    expect(rotated.json().token).toBeUndefined();
    expect(String(rotated.headers['set-cookie'])).toMatch(/^yika_session=/);

    const logout = await inject({
      method: 'DELETE',
      url: '/v1/auth/session',
      cookies: { yika_session: /yika_session=([^;]+)/.exec(String(rotated.headers['set-cookie']))![1]! },
      headers: { 'x-yika-csrf': '1' },
    });
    expect(logout.statusCode).toBe(204);
    expect(String(logout.headers['set-cookie'])).toMatch(/yika_session=;.*Expires=Thu, 01 Jan 1970/);
  });

  it('marks the cookie Secure when the request came over TLS through a trusted proxy', async () => {
    const { buildTestApp } = await import('../../test/app-fixture.js');
    const behindProxy = await buildTestApp({
      db: h.db,
      env: { BANK_SIM_URL: h.simUrl, BANK_SIM_API_KEY: 'identity-test-key', TRUST_PROXY: 'true' },
      now: () => h.now(),
    });
    try {
      const phone = h.freshPhone();
      h.advance(61_000);
      await behindProxy.app.inject({
        method: 'POST',
        url: '/v1/auth/otp',
        payload: { phone },
        remoteAddress: h.freshIp(),
      });
      const response = await behindProxy.app.inject({
        method: 'POST',
        url: '/v1/auth/sessions',
        headers: { 'x-forwarded-proto': 'https' },
        payload: { phone, code: await h.latestCode(phone), client: 'web' },
      });
      expect(String(response.headers['set-cookie'])).toMatch(/Secure/);
    } finally {
      await behindProxy.close();
    }
  });
});

describe('devices', () => {
  it('lists the devices of an account and signs one out', async () => {
    const phone = h.freshPhone();
    const phoneApp = await h.signIn(phone, { deviceName: 'Phone', deviceId: 'device-aaaaaaaa' });
    const laptop = await h.signIn(phone, { deviceName: 'Laptop', deviceId: 'device-bbbbbbbb' });
    // Signing in again on a known device reuses its record.
    const phoneAgain = await h.signIn(phone, { deviceName: 'Phone', deviceId: 'device-aaaaaaaa' });
    expect(phoneAgain.deviceId).toBe(phoneApp.deviceId);

    const list = await inject({ method: 'GET', url: '/v1/me/devices', headers: laptop.headers });
    const devices = list.json().devices as { id: string; name: string; current: boolean }[];
    expect(devices.map((device) => device.name).sort()).toEqual(['Laptop', 'Phone']);
    expect(devices.find((device) => device.current)?.id).toBe(laptop.deviceId);

    const signOut = await inject({
      method: 'DELETE',
      url: `/v1/me/devices/${phoneApp.deviceId}`,
      headers: laptop.headers,
    });
    expect(signOut.statusCode).toBe(204);
    expect((await inject({ method: 'GET', url: '/v1/me', headers: phoneApp.headers })).statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/v1/me', headers: phoneAgain.headers })).statusCode).toBe(401);
    expect((await inject({ method: 'GET', url: '/v1/me', headers: laptop.headers })).statusCode).toBe(200);

    const again = await inject({
      method: 'DELETE',
      url: `/v1/me/devices/${phoneApp.deviceId}`,
      headers: laptop.headers,
    });
    expect(again.json().code).toBe('not_found');
    const stranger = await h.signIn(h.freshPhone());
    const foreign = await inject({
      method: 'DELETE',
      url: `/v1/me/devices/${laptop.deviceId}`,
      headers: stranger.headers,
    });
    expect(foreign.statusCode).toBe(404);
    expect((await inject({ method: 'GET', url: '/v1/me', headers: laptop.headers })).statusCode).toBe(200);
    const badId = await inject({ method: 'DELETE', url: '/v1/me/devices/not-a-uuid', headers: laptop.headers });
    expect(badId.json().code).toBe('validation_failed');

    const events = await inject({ method: 'GET', url: '/v1/me/events', headers: laptop.headers });
    expect(events.json().events.map((event: { kind: string }) => event.kind)).toEqual(
      expect.arrayContaining(['registered', 'signed_in', 'device_signed_out']),
    );
  });

  it('lists every identity route in the OpenAPI document', async () => {
    const document = (await inject({ method: 'GET', url: '/openapi.json' })).json();
    for (const path of [
      '/v1/auth/otp',
      '/v1/auth/sessions',
      '/v1/auth/session',
      '/v1/me/devices/{id}',
      '/v1/me/pin',
      '/v1/me/kyc',
      '/v1/me/freeze',
      '/v1/me/totp/enrolment',
      '/v1/me/passkeys',
    ]) {
      expect(document.paths[path], path).toBeDefined();
    }
  });
});
