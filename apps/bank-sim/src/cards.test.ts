import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { passesLuhn } from './cards.js';
import { startSim, type Sim } from './test/harness.js';

const CARD = '6222 0200 0000 0000 07'; // Luhn-valid, 18 digits
const PHONE = '+8613900000001';

/** The 6-digit code of the newest bank message to `phone`. */
async function latestCode(sim: Sim, phone: string): Promise<string> {
  const inbox = await sim.call('GET', `/sms/inbox?to=${encodeURIComponent(phone)}&limit=1`);
  const match = /\b(\d{6})\b/.exec(inbox.body.messages[0].text);
  return match![1]!;
}

describe('card verification', () => {
  let clockMs = Date.now();
  let sim: Sim;
  let requestNumber = 0;
  const verify = (body: Record<string, unknown> = {}) =>
    sim.call('POST', '/v1/cards/verifications', {
      requestId: `vr-${++requestNumber}`,
      cardNumber: CARD,
      holderName: 'Zhang San',
      phone: PHONE,
      ...body,
    });

  beforeAll(async () => {
    sim = await startSim({ now: () => clockMs });
  });
  afterAll(() => sim.close());
  beforeEach(async () => {
    clockMs = Date.now();
    await sim.call('POST', '/admin/reset');
  });

  it('checks card numbers with Luhn', () => {
    expect(passesLuhn('4000000000000002')).toBe(true);
    expect(passesLuhn('622202000000000007')).toBe(true);
    expect(passesLuhn('622202000000000006')).toBe(false);
  });

  it('sends a code by SMS and exchanges it for a card token', async () => {
    const started = await verify();
    expect(started.status).toBe(201);
    expect(new Date(started.body.expiresAt).getTime() - clockMs).toBe(5 * 60_000);
    const code = await latestCode(sim, PHONE);
    const confirmed = await sim.call('POST', `/v1/cards/verifications/${started.body.verificationId}/confirm`, {
      code,
    });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toEqual({ cardToken: expect.stringMatching(/^ctok_/), last4: '0007', cardType: 'debit' });
    // A retried confirmation with the right code gets the same token.
    const again = await sim.call('POST', `/v1/cards/verifications/${started.body.verificationId}/confirm`, { code });
    expect(again.body.cardToken).toBe(confirmed.body.cardToken);
  });

  it('answers a retried verification request with the same verification and no second SMS; 409 on another body', async () => {
    const body = { requestId: 'same-request' };
    const first = await verify(body);
    const second = await verify(body);
    expect(second).toEqual(first);
    const inbox = await sim.call('GET', `/sms/inbox?to=${encodeURIComponent(PHONE)}`);
    expect(inbox.body.messages).toHaveLength(1);
    expect(await verify({ requestId: 'same-request', holderName: 'Li Si' })).toEqual({
      status: 409,
      body: { code: 'request_id_reused' },
    });
  });

  it('refuses a number that fails Luhn or is too short: card_invalid', async () => {
    expect(await verify({ cardNumber: '622202000000000006' })).toEqual({ status: 422, body: { code: 'card_invalid' } });
    expect(await verify({ cardNumber: '42' })).toEqual({ status: 422, body: { code: 'card_invalid' } });
  });

  it('always declines the test card', async () => {
    expect(await verify({ cardNumber: '4000 0000 0000 0002' })).toEqual({
      status: 422,
      body: { code: 'card_declined' },
    });
  });

  it('binds the card to the phone of its first verification: phone_mismatch afterwards', async () => {
    expect((await verify()).status).toBe(201);
    expect(await verify({ phone: '+8613900000002' })).toEqual({ status: 422, body: { code: 'phone_mismatch' } });
  });

  it('refuses a wrong code, then stops after 5 attempts even with the right one', async () => {
    const { verificationId } = (await verify()).body;
    const code = await latestCode(sim, PHONE);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      expect(
        (await sim.call('POST', `/v1/cards/verifications/${verificationId}/confirm`, { code: wrong })).body,
      ).toEqual({
        code: 'code_invalid',
      });
    }
    expect(await sim.call('POST', `/v1/cards/verifications/${verificationId}/confirm`, { code })).toEqual({
      status: 422,
      body: { code: 'too_many_attempts' },
    });
  });

  it('refuses a code after 5 minutes: code_expired', async () => {
    const { verificationId } = (await verify()).body;
    const code = await latestCode(sim, PHONE);
    clockMs += 5 * 60_000 + 1;
    expect(await sim.call('POST', `/v1/cards/verifications/${verificationId}/confirm`, { code })).toEqual({
      status: 422,
      body: { code: 'code_expired' },
    });
  });

  it('answers 404 for an unknown verification, 400 for bad input and 401 without the key', async () => {
    expect(await sim.call('POST', '/v1/cards/verifications/nope/confirm', { code: '123456' })).toEqual({
      status: 404,
      body: { code: 'not_found' },
    });
    const bad = await sim.call('POST', '/v1/cards/verifications', { cardNumber: 'abc', phone: '138' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'body.cardNumber',
      'body.holderName',
      'body.phone',
      'body.requestId',
    ]);
    expect((await sim.call('POST', '/v1/cards/verifications', {}, { auth: false })).status).toBe(401);
    // Six characters but seven bytes: still just a wrong code.
    const { verificationId } = (await verify()).body;
    expect(
      (await sim.call('POST', `/v1/cards/verifications/${verificationId}/confirm`, { code: '12345é' })).body,
    ).toEqual({
      code: 'code_invalid',
    });
  });
});
