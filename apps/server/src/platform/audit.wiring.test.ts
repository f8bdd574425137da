/**
 * The sensitive actions of identity and cards leave audit records through the real API: with the
 * request's x-request-id, the right actor, before/after, and no plain personal data; the chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openIdentityHarness, residentId, type IdentityHarness } from '../test/identity-harness.js';

const PIN = '135790';

describe('audit records of identity and cards', { timeout: 120_000 }, () => {
  let harness: IdentityHarness;
  beforeAll(async () => {
    harness = await openIdentityHarness();
  });
  afterAll(async () => {
    await harness?.close();
  });

  it('records sign-in, PIN, KYC, freezes by customer and by staff, card binding and closing, with request ids', async () => {
    const { app, services } = harness.fixture;
    const phone = harness.freshPhone();
    const ip = harness.freshIp();
    harness.advance(61_000);
    await harness.requestCode(phone, ip);
    const signedIn = await app.inject({
      method: 'POST',
      url: '/v1/auth/sessions',
      headers: { 'x-request-id': 'req-sign-in' },
      payload: { phone, code: await harness.latestCode(phone), client: 'api' },
      remoteAddress: ip,
    });
    expect(signedIn.statusCode, signedIn.body).toBe(201);
    const { token, customerId } = signedIn.json<{ token: string; customerId: string }>();
    const call = async (method: 'POST' | 'PUT' | 'DELETE', url: string, requestId: string, payload?: object) => {
      const response = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}`, 'x-request-id': requestId },
        ...(payload ? { payload } : {}),
      });
      expect(response.statusCode, `${url}: ${response.body}`).toBeLessThan(300);
      return response;
    };
    const idNumber = residentId('19900307');
    await call('PUT', '/v1/me/pin', 'req-pin', { pin: PIN });
    await call('POST', '/v1/me/kyc', 'req-kyc', { name: '张三', idNumber });
    await call('POST', '/v1/me/freeze', 'req-freeze', { proof: { pin: PIN } });
    await call('POST', '/v1/me/unfreeze', 'req-unfreeze', { proof: { pin: PIN } });
    await services.identity.freezeByOperations(customerId, { reason: 'fraud report', operatorId: 'staff-42' });
    await services.identity.unfreezeByOperations(customerId, { reason: 'cleared', operatorId: 'staff-43' });

    const cardNumber = '6222020000000000018';
    const started = await call('POST', '/v1/cards/verifications', 'req-card-start', {
      cardNumber,
      phone,
      holderName: '张三',
    });
    const { verificationId } = started.json<{ verificationId: string }>();
    const bound = await call('POST', `/v1/cards/verifications/${verificationId}/confirm`, 'req-card-bind', {
      code: await harness.latestCode(phone),
    });
    const cardId = bound.json<{ id: string }>().id;
    await call('DELETE', `/v1/cards/${cardId}`, 'req-card-unbind');
    await call('POST', '/v1/wallet/close-account', 'req-close', { proof: { pin: PIN } });

    const records = (await services.audit.list({ subject: { type: 'customer', id: customerId } })).reverse();
    expect(records.map((record) => [record.action, record.requestId])).toEqual([
      ['identity.registered', 'req-sign-in'],
      ['identity.signed_in', 'req-sign-in'],
      ['identity.pin_set', 'req-pin'],
      ['identity.kyc_verified', 'req-kyc'],
      ['identity.frozen', 'req-freeze'],
      ['identity.unfrozen', 'req-unfreeze'],
      ['identity.frozen', null],
      ['identity.unfrozen', null],
      ['identity.closed', 'req-close'],
    ]);
    const byAction = (action: string, nth = 0) => records.filter((record) => record.action === action)[nth]!;
    expect(byAction('identity.kyc_verified')).toMatchObject({
      actor: { type: 'customer', id: customerId },
      before: { kycVerified: false, accountClass: 'I' },
      after: { kycVerified: true, accountClass: 'II', maskedName: '*三' },
    });
    expect(byAction('identity.frozen', 1)).toMatchObject({
      actor: { type: 'staff', id: 'staff-42' },
      before: { status: 'active', frozenBy: null },
      after: { status: 'frozen', frozenBy: 'operations' },
      detail: { by: 'operations', reason: 'fraud report', operatorId: 'staff-42' },
    });
    expect(byAction('identity.signed_in').detail).toMatchObject({ network: ip.replace(/\.\d+$/, '.0/24') });

    const cardRecords = (await services.audit.list({ subject: { type: 'card', id: cardId } })).reverse();
    expect(cardRecords).toMatchObject([
      { action: 'cards.bound', requestId: 'req-card-bind', actor: { type: 'customer', id: customerId } },
      { action: 'cards.unbound', requestId: 'req-card-unbind', before: { status: 'active', last4: '0018' } },
    ]);

    // Nothing in the trail reveals the phone number, the name, the ID number or the card number.
    const { rows } = await harness.db.query<{ text: string }>(
      `select concat_ws('|', actor_id, subject_id, request_id, before_json, after_json, detail_json) as text
         from audit_records`,
    );
    const everything = rows.map((row) => row.text).join('\n');
    for (const secret of [phone.slice(3), '张三', idNumber, cardNumber, PIN]) expect(everything).not.toContain(secret);

    expect(await services.audit.verify()).toMatchObject({ ok: true });
  });

  it('records device sign-outs, PIN lockouts, TOTP changes and signing out', async () => {
    const { app, services } = harness.fixture;
    const phone = harness.freshPhone();
    const first = await harness.signIn(phone, { deviceId: 'audit-phone-a' });
    const second = await harness.signIn(phone, { deviceId: 'audit-phone-b' });
    await services.identity.setPin(first.customerId, PIN);
    const revoked = await app.inject({
      method: 'DELETE',
      url: `/v1/me/devices/${second.deviceId}`,
      headers: first.headers,
    });
    expect(revoked.statusCode, revoked.body).toBe(204);
    for (let attempt = 0; attempt < services.identity.policy.pinAttemptsMax; attempt += 1) {
      await expect(services.identity.verifyPaymentPin(first.customerId, '000000')).rejects.toThrow();
    }
    await services.identity.recordEvent(first.customerId, 'totp_enrolled', {});
    const signedOut = await app.inject({ method: 'DELETE', url: '/v1/auth/session', headers: first.headers });
    expect(signedOut.statusCode, signedOut.body).toBe(204);
    const actions = (await services.audit.list({ subject: { type: 'customer', id: first.customerId } }))
      .map((record) => record.action)
      .reverse();
    expect(actions).toEqual([
      'identity.registered',
      'identity.signed_in',
      'identity.signed_in',
      'identity.pin_set',
      'identity.device_signed_out',
      'identity.pin_locked',
      'identity.totp_enrolled',
      'identity.signed_out',
    ]);
    expect(await services.audit.verify()).toMatchObject({ ok: true });
  });
});
