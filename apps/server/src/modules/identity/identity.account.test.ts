import type { InjectOptions } from 'fastify';
import { generate } from 'otplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from '../../platform/errors.js';
import { SoftwareAuthenticator } from '../../test/software-authenticator.js';
import { openIdentityHarness, residentId, type IdentityHarness, type SignedIn } from '../../test/identity-harness.js';
import type { IdentityService } from './index.js';

let h: IdentityHarness;
let identity: IdentityService;
beforeAll(async () => {
  h = await openIdentityHarness();
  identity = h.fixture.services.identity;
});
afterAll(async () => {
  await h.close();
});

const inject = (options: InjectOptions) => h.fixture.app.inject(options);
const GOOD_PIN = '285714';

async function problemOf(promise: Promise<unknown>): Promise<{ code: string } & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DomainError) return { code: error.code, status: error.status, ...error.extensions };
    throw error;
  }
  throw new Error('expected a domain error');
}

async function customerWithPin(): Promise<SignedIn> {
  const customer = await h.signIn(h.freshPhone());
  const response = await inject({
    method: 'PUT',
    url: '/v1/me/pin',
    headers: customer.headers,
    payload: { pin: GOOD_PIN },
  });
  expect(response.statusCode).toBe(204);
  return customer;
}

/** A resident ID of someone `years` old today (by the harness clock). */
function idOfAge(years: number, sequence = '123'): string {
  const now = h.now();
  const birth = `${now.getUTCFullYear() - years}0101`;
  return residentId(birth, sequence);
}

let idSequence = 100;
const nextSequence = () => String((idSequence += 1) % 1000).padStart(3, '0');

describe('payment PIN', () => {
  it('refuses weak PINs with pin_weak and its reason, and sets nothing', async () => {
    const customer = await h.signIn(h.freshPhone());
    const cases: [string, string][] = [
      ['000000', 'repeated'],
      ['123456', 'sequence'],
      ['876543', 'sequence'],
      ['123123', 'pattern'],
      ['12345', 'format'],
      ['12345a', 'format'],
      [
        customer.headers.authorization.slice(0, 0) + (await identity.getCustomer(customer.customerId)).phone.slice(-6),
        'phone',
      ],
    ];
    for (const [pin, reason] of cases) {
      const response = await inject({ method: 'PUT', url: '/v1/me/pin', headers: customer.headers, payload: { pin } });
      expect(response.statusCode, pin).toBe(422);
      expect(response.json(), pin).toMatchObject({ code: 'pin_weak', reason });
    }
    expect((await identity.getProfile(customer.customerId)).pinSet).toBe(false);
    expect(await problemOf(identity.verifyPaymentPin(customer.customerId, GOOD_PIN))).toMatchObject({
      code: 'pin_not_set',
    });
  });

  it('stores the PIN with argon2id, refuses setting it twice, and changes it with the old one', async () => {
    const customer = await customerWithPin();
    const { rows } = await h.db.query<{ pin_hash: string }>('select pin_hash from identity_customers where id = $1', [
      customer.customerId,
    ]);
    expect(rows[0]!.pin_hash).toMatch(/^\$argon2id\$/);
    const twice = await inject({
      method: 'PUT',
      url: '/v1/me/pin',
      headers: customer.headers,
      payload: { pin: '961803' },
    });
    expect(twice.json().code).toBe('pin_already_set');

    const wrongOld = await inject({
      method: 'POST',
      url: '/v1/me/pin/change',
      headers: customer.headers,
      payload: { oldPin: '961803', newPin: '730452' },
    });
    expect(wrongOld.json()).toMatchObject({ code: 'pin_invalid', attemptsLeft: 4 });
    const weakNew = await inject({
      method: 'POST',
      url: '/v1/me/pin/change',
      headers: customer.headers,
      payload: { oldPin: GOOD_PIN, newPin: '222222' },
    });
    expect(weakNew.json().code).toBe('pin_weak');
    await identity.verifyPaymentPin(customer.customerId, GOOD_PIN);

    const changed = await inject({
      method: 'POST',
      url: '/v1/me/pin/change',
      headers: customer.headers,
      payload: { oldPin: GOOD_PIN, newPin: '730452' },
    });
    expect(changed.statusCode).toBe(204);
    await identity.verifyPaymentPin(customer.customerId, '730452');
    expect((await problemOf(identity.verifyPaymentPin(customer.customerId, GOOD_PIN))).code).toBe('pin_invalid');
  });

  it('locks payments for 30 minutes after 5 wrong PINs in a row', async () => {
    const customer = await customerWithPin();
    const answers = [];
    for (let attempt = 0; attempt < 5; attempt += 1) {
      answers.push(await problemOf(identity.verifyPaymentPin(customer.customerId, '961803')));
    }
    expect(answers.map((answer) => `${answer.code}:${JSON.stringify(answer.attemptsLeft ?? '-')}`)).toEqual([
      'pin_invalid:4',
      'pin_invalid:3',
      'pin_invalid:2',
      'pin_invalid:1',
      'pin_locked:"-"',
    ]);
    const lockedUntil = Date.parse(String(answers[4]!.lockedUntil));
    expect(lockedUntil - h.now().getTime()).toBe(30 * 60_000);
    expect(answers[4]!.status).toBe(423);
    // Even the right PIN is refused while locked, and does not extend or reset anything.
    expect((await problemOf(identity.verifyPaymentPin(customer.customerId, GOOD_PIN))).code).toBe('pin_locked');
    expect((await identity.getProfile(customer.customerId)).pinLockedUntil?.getTime()).toBe(lockedUntil);
    h.advance(30 * 60_000 + 1);
    await identity.verifyPaymentPin(customer.customerId, GOOD_PIN);
    // A success resets the count: four more wrong ones do not lock.
    for (let attempt = 0; attempt < 4; attempt += 1) {
      expect((await problemOf(identity.verifyPaymentPin(customer.customerId, '961803'))).code).toBe('pin_invalid');
    }
    await identity.verifyPaymentPin(customer.customerId, GOOD_PIN);
    expect((await identity.events(customer.customerId)).map((event) => event.kind)).toContain('pin_locked');
  });

  it('resets a forgotten PIN with an SMS code and the resident ID number, which also lifts a lock', async () => {
    const customer = await customerWithPin();
    const idNumber = idOfAge(30, nextSequence());
    expect(
      (
        await inject({
          method: 'POST',
          url: '/v1/me/kyc',
          headers: customer.headers,
          payload: { name: '王小明', idNumber },
        })
      ).statusCode,
    ).toBe(200);
    for (let attempt = 0; attempt < 5; attempt += 1)
      await problemOf(identity.verifyPaymentPin(customer.customerId, '961803'));
    expect((await problemOf(identity.verifyPaymentPin(customer.customerId, GOOD_PIN))).code).toBe('pin_locked');

    h.advance(61_000);
    const sent = await inject({
      method: 'POST',
      url: '/v1/me/otp',
      headers: customer.headers,
      payload: { purpose: 'pin_reset' },
    });
    expect(sent.statusCode).toBe(202);
    const { phone } = await identity.getCustomer(customer.customerId);
    const code = await h.latestCode(phone);

    const wrongCode = await inject({
      method: 'POST',
      url: '/v1/me/pin/reset',
      headers: customer.headers,
      payload: { code: code === '000000' ? '000001' : '000000', idNumber, newPin: '730452' },
    });
    expect(wrongCode.json()).toMatchObject({ code: 'otp_invalid', attemptsLeft: 4 });
    // A wrong ID number uses the code up, so every ID guess costs a text message.
    const wrongId = await inject({
      method: 'POST',
      url: '/v1/me/pin/reset',
      headers: customer.headers,
      payload: { code, idNumber: idOfAge(31, nextSequence()), newPin: '730452' },
    });
    expect(wrongId.json().code).toBe('id_number_mismatch');
    const sameCodeAgain = await inject({
      method: 'POST',
      url: '/v1/me/pin/reset',
      headers: customer.headers,
      payload: { code, idNumber, newPin: '730452' },
    });
    expect(sameCodeAgain.json().code).toBe('otp_invalid');
    // Neither refusal reset the PIN or lifted the lock.
    expect((await problemOf(identity.verifyPaymentPin(customer.customerId, GOOD_PIN))).code).toBe('pin_locked');

    h.advance(61_000);
    await inject({ method: 'POST', url: '/v1/me/otp', headers: customer.headers, payload: { purpose: 'pin_reset' } });
    const freshCode = await h.latestCode(phone);
    const reset = await inject({
      method: 'POST',
      url: '/v1/me/pin/reset',
      headers: customer.headers,
      payload: { code: freshCode, idNumber: idNumber.toLowerCase(), newPin: '730452' },
    });
    expect(reset.statusCode).toBe(204);
    await identity.verifyPaymentPin(customer.customerId, '730452');
    expect((await identity.events(customer.customerId)).map((event) => event.kind)).toContain('pin_reset');
  });
});

describe('real-name KYC', () => {
  it('verifies name and ID, stores them encrypted, and makes the account Class II with its limits', async () => {
    const customer = await customerWithPin();
    expect(await identity.limitsFor(customer.customerId)).toEqual({
      accountClass: 'I',
      perTransaction: 100_000n,
      daily: 100_000n,
      yearly: 100_000n,
      yearlyPeriod: 'since_opening',
    });
    const idNumber = idOfAge(40, nextSequence());
    const response = await inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: customer.headers,
      payload: { name: '李明', idNumber },
    });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ accountClass: 'II', maskedName: '*明' });

    const limits = await inject({ method: 'GET', url: '/v1/me/limits', headers: customer.headers });
    expect(limits.json()).toEqual({
      accountClass: 'II',
      perTransaction: 1_000_000,
      daily: 1_000_000,
      yearly: 10_000_000,
      yearlyPeriod: 'calendar_year',
    });
    const { rows } = await h.db.query<Record<string, unknown>>('select * from identity_customers where id = $1', [
      customer.customerId,
    ]);
    const stored = JSON.stringify(rows[0], (_key, value: unknown) =>
      typeof value === 'bigint' ? String(value) : value,
    );
    expect(stored).not.toContain(idNumber);
    expect(stored).not.toContain('李明');
    expect(String(rows[0]!.id_number_ciphertext)).toMatch(/^v1\.dev1\./);

    await identity.upgradeAccountClass(customer.customerId, 'III');
    expect((await identity.limitsFor(customer.customerId)).yearly).toBe(20_000_000n);

    const again = await inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: customer.headers,
      payload: { name: '李明', idNumber },
    });
    expect(again.json().code).toBe('kyc_already_verified');
  });

  it('refuses bad IDs, names and minors with their codes, and changes nothing', async () => {
    const customer = await customerWithPin();
    const valid = idOfAge(30, nextSequence());
    const lastDigitWrong = valid.slice(0, 17) + (valid[17] === '0' ? '1' : '0');
    const cases: [Record<string, string>, string, string | undefined][] = [
      [{ name: '王小明', idNumber: lastDigitWrong }, 'id_number_invalid', 'check_character'],
      [{ name: '王小明', idNumber: residentId('19900231') }, 'id_number_invalid', 'birth_date'],
      [{ name: '王小明', idNumber: residentId('21000101') }, 'id_number_invalid', 'birth_date'],
      [{ name: '王小明', idNumber: '1101051990' }, 'id_number_invalid', 'format'],
      [{ name: '王小明', idNumber: idOfAge(15) }, 'kyc_underage', undefined],
      [{ name: '1234', idNumber: valid }, 'name_invalid', undefined],
      [{ name: '王', idNumber: valid }, 'name_invalid', undefined],
    ];
    for (const [payload, code, reason] of cases) {
      const response = await inject({ method: 'POST', url: '/v1/me/kyc', headers: customer.headers, payload });
      expect(response.statusCode, JSON.stringify(payload)).toBe(422);
      expect(response.json(), JSON.stringify(payload)).toMatchObject({ code, ...(reason ? { reason } : {}) });
    }
    expect(await identity.getCustomer(customer.customerId)).toMatchObject({ accountClass: 'I', maskedName: null });

    // Sixteen today is old enough.
    const sixteen = await inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: customer.headers,
      payload: { name: '王小明', idNumber: idOfAge(16, nextSequence()) },
    });
    expect(sixteen.statusCode).toBe(200);
  });

  it('refuses an ID number already verified on another account', async () => {
    const first = await customerWithPin();
    const second = await customerWithPin();
    const idNumber = idOfAge(50, nextSequence());
    expect(
      (await inject({ method: 'POST', url: '/v1/me/kyc', headers: first.headers, payload: { name: '张三', idNumber } }))
        .statusCode,
    ).toBe(200);
    const taken = await inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: second.headers,
      payload: { name: '张三', idNumber },
    });
    expect(taken.statusCode).toBe(409);
    expect(taken.json().code).toBe('id_number_in_use');
    expect((await identity.getCustomer(second.customerId)).accountClass).toBe('I');
  });

  it('refuses a PIN made from the birthday once the ID is known', async () => {
    const customer = await h.signIn(h.freshPhone());
    const idNumber = residentId('19870314', nextSequence());
    await inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: customer.headers,
      payload: { name: '欧阳小明', idNumber },
    });
    for (const pin of ['870314', '031487', '140387']) {
      const response = await inject({ method: 'PUT', url: '/v1/me/pin', headers: customer.headers, payload: { pin } });
      expect(response.json(), pin).toMatchObject({ code: 'pin_weak', reason: 'birthday' });
    }
    const lastSix = await inject({
      method: 'PUT',
      url: '/v1/me/pin',
      headers: customer.headers,
      payload: { pin: idNumber.slice(-6).replace('X', '0') },
    });
    if (!idNumber.endsWith('X')) expect(lastSix.json()).toMatchObject({ code: 'pin_weak', reason: 'id_number' });
  });
});

describe('the service the wallet uses', () => {
  it('finds a customer by phone with a masked name, and says null for unknown numbers', async () => {
    const customer = await customerWithPin();
    const { phone } = await identity.getCustomer(customer.customerId);
    expect(await identity.findCustomerByPhone(phone)).toEqual({ customerId: customer.customerId, maskedName: null });
    await identity.submitKyc(customer.customerId, { name: '王小明', idNumber: idOfAge(33, nextSequence()) });
    expect(await identity.findCustomerByPhone(phone.slice(3))).toEqual({
      customerId: customer.customerId,
      maskedName: '**明',
    });
    expect(await identity.findCustomerByPhone(h.freshPhone())).toBeNull();
    expect((await problemOf(identity.findCustomerByPhone('12'))).code).toBe('phone_invalid');
    expect(await identity.getCustomer(customer.customerId)).toEqual({
      customerId: customer.customerId,
      phone,
      status: 'active',
      accountClass: 'II',
      maskedName: '**明',
    });
    await identity.assertCanMoveMoney(customer.customerId, { requireRealName: true });
    const plain = await customerWithPin();
    await identity.assertCanMoveMoney(plain.customerId);
    expect((await problemOf(identity.assertCanMoveMoney(plain.customerId, { requireRealName: true }))).code).toBe(
      'kyc_required',
    );
  });
});

describe('freeze, unfreeze and close', () => {
  it('freezes only with a step-up proof; a frozen account cannot move money', async () => {
    const customer = await customerWithPin();
    const none = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: {} },
    });
    expect(none.json().code).toBe('step_up_required');
    const two = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: { pin: GOOD_PIN, totp: '123456' } },
    });
    expect(two.json().code).toBe('step_up_required');
    const wrong = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: { pin: '961803' } },
    });
    expect(wrong.json().code).toBe('pin_invalid');
    expect((await identity.getCustomer(customer.customerId)).status).toBe('active');

    const frozen = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: { pin: GOOD_PIN } },
    });
    expect(frozen.json()).toEqual({ status: 'frozen' });
    expect(await problemOf(identity.assertCanMoveMoney(customer.customerId))).toMatchObject({
      code: 'account_frozen',
      frozenBy: 'customer',
    });

    // Unfreeze with a fresh SMS code (purpose step_up), e.g. from a new phone with the same number.
    h.advance(61_000);
    await inject({ method: 'POST', url: '/v1/me/otp', headers: customer.headers, payload: { purpose: 'step_up' } });
    const code = await h.latestCode((await identity.getCustomer(customer.customerId)).phone);
    const unfrozen = await inject({
      method: 'POST',
      url: '/v1/me/unfreeze',
      headers: customer.headers,
      payload: { proof: { otp: code } },
    });
    expect(unfrozen.json()).toEqual({ status: 'active' });
    await identity.assertCanMoveMoney(customer.customerId);
    expect((await identity.events(customer.customerId)).map((event) => event.kind)).toEqual(
      expect.arrayContaining(['frozen', 'unfrozen']),
    );
  });

  it("keeps the bank's freeze: the customer cannot lift it", async () => {
    const customer = await customerWithPin();
    await identity.freezeByOperations(customer.customerId, { reason: 'fraud report', operatorId: 'ops-1' });
    const attempt = await inject({
      method: 'POST',
      url: '/v1/me/unfreeze',
      headers: customer.headers,
      payload: { proof: { pin: GOOD_PIN } },
    });
    expect(attempt.json().code).toBe('frozen_by_operations');
    expect(await problemOf(identity.assertCanMoveMoney(customer.customerId))).toMatchObject({ frozenBy: 'operations' });
    await identity.unfreezeByOperations(customer.customerId, { reason: 'cleared', operatorId: 'ops-2' });
    await identity.assertCanMoveMoney(customer.customerId);
  });

  it('closes only at a zero balance, ends every session and refuses sign-in afterwards', async () => {
    const customer = await customerWithPin();
    const { phone } = await identity.getCustomer(customer.customerId);
    expect(await problemOf(identity.closeAccount(customer.customerId, async () => 1n))).toMatchObject({
      code: 'balance_not_zero',
      balance: 1,
    });
    expect((await identity.getCustomer(customer.customerId)).status).toBe('active');
    await identity.closeAccount(customer.customerId, async () => 0n);
    expect((await identity.getCustomer(customer.customerId)).status).toBe('closed');
    expect((await inject({ method: 'GET', url: '/v1/me', headers: customer.headers })).statusCode).toBe(401);
    expect((await problemOf(identity.assertCanMoveMoney(customer.customerId))).code).toBe('account_closed');
    expect(await identity.findCustomerByPhone(phone)).toBeNull();
    await expect(h.signIn(phone)).rejects.toThrow(/account_closed/);
  });
});

describe('TOTP step-up', () => {
  it('enrols by otpauth URI and QR, confirms with a first code, and then accepts each code once', async () => {
    const customer = await customerWithPin();
    const start = await inject({ method: 'POST', url: '/v1/me/totp/enrolment', headers: customer.headers });
    expect(start.statusCode).toBe(201);
    const { secret, otpauthUri, qrDataUrl } = start.json();
    expect(otpauthUri).toMatch(/^otpauth:\/\/totp\/Yika:%2B86\d+\?/);
    expect(otpauthUri).toContain(`secret=${secret}`);
    expect(qrDataUrl).toMatch(/^data:image\/png;base64,/);
    const { rows } = await h.db.query<{ totp_pending_secret_ciphertext: string }>(
      'select totp_pending_secret_ciphertext from identity_customers where id = $1',
      [customer.customerId],
    );
    expect(rows[0]!.totp_pending_secret_ciphertext).not.toContain(secret);

    const wrong = await inject({
      method: 'POST',
      url: '/v1/me/totp/enrolment/confirm',
      headers: customer.headers,
      payload: { code: '000000' },
    });
    expect(wrong.json().code).toBe('totp_invalid');
    expect((await identity.getProfile(customer.customerId)).totpEnabled).toBe(false);
    expect((await problemOf(identity.requireStepUp(customer.customerId, { totp: '000000' }))).code).toBe(
      'totp_not_enabled',
    );

    const epoch = () => Math.floor(h.now().getTime() / 1000);
    const first = await generate({ secret, epoch: epoch() });
    const confirm = await inject({
      method: 'POST',
      url: '/v1/me/totp/enrolment/confirm',
      headers: customer.headers,
      payload: { code: first },
    });
    expect(confirm.statusCode).toBe(204);
    expect((await identity.getProfile(customer.customerId)).totpEnabled).toBe(true);

    // The confirming code cannot be replayed; the next period's code works once.
    expect((await problemOf(identity.requireStepUp(customer.customerId, { totp: first }))).code).toBe('totp_invalid');
    h.advance(30_000);
    const next = await generate({ secret, epoch: epoch() });
    await identity.requireStepUp(customer.customerId, { totp: next });
    expect((await problemOf(identity.requireStepUp(customer.customerId, { totp: next }))).code).toBe('totp_invalid');
    h.advance(30_000);
    const stale = await generate({ secret, epoch: epoch() - 120 });
    expect((await problemOf(identity.requireStepUp(customer.customerId, { totp: stale }))).code).toBe('totp_invalid');

    const again = await inject({ method: 'POST', url: '/v1/me/totp/enrolment', headers: customer.headers });
    expect(again.json().code).toBe('totp_already_enabled');
    const removed = await inject({
      method: 'POST',
      url: '/v1/me/totp/disable',
      headers: customer.headers,
      payload: { proof: { pin: GOOD_PIN } },
    });
    expect(removed.statusCode).toBe(204);
    expect((await identity.getProfile(customer.customerId)).totpEnabled).toBe(false);
  });
});

describe('passkeys (WebAuthn)', () => {
  it('gives registration options bound to the relying party, with a one-time challenge', async () => {
    const customer = await customerWithPin();
    const options = await inject({
      method: 'POST',
      url: '/v1/me/passkeys/registration-options',
      headers: customer.headers,
    });
    expect(options.statusCode).toBe(200);
    const body = options.json();
    expect(body).toMatchObject({
      rp: { id: 'localhost', name: 'Yika' },
      attestation: 'none',
      authenticatorSelection: { userVerification: 'required' },
    });
    expect(body.challenge).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(body.user.name).toMatch(/^\+86/);
  });

  it('refuses a forged registration response with passkey_invalid, and stores nothing', async () => {
    const customer = await customerWithPin();
    await inject({ method: 'POST', url: '/v1/me/passkeys/registration-options', headers: customer.headers });
    const clientData = Buffer.from(
      JSON.stringify({ type: 'webauthn.create', challenge: 'not-the-challenge', origin: 'https://evil.example' }),
    ).toString('base64url');
    const forged = await inject({
      method: 'POST',
      url: '/v1/me/passkeys',
      headers: customer.headers,
      payload: {
        response: {
          id: 'AAAA',
          rawId: 'AAAA',
          type: 'public-key',
          response: { clientDataJSON: clientData, attestationObject: 'oA' },
          clientExtensionResults: {},
        },
      },
    });
    expect(forged.statusCode).toBe(422);
    expect(forged.json().code).toBe('passkey_invalid');
    // The challenge was used up: a second try has nothing to answer.
    const replay = await inject({
      method: 'POST',
      url: '/v1/me/passkeys',
      headers: customer.headers,
      payload: {
        response: {
          id: 'AAAA',
          rawId: 'AAAA',
          type: 'public-key',
          response: { clientDataJSON: clientData, attestationObject: 'oA' },
          clientExtensionResults: {},
        },
      },
    });
    expect(replay.json().code).toBe('passkey_invalid');
    const list = await inject({ method: 'GET', url: '/v1/me/passkeys', headers: customer.headers });
    expect(list.json()).toEqual({ passkeys: [] });
    const malformed = await inject({
      method: 'POST',
      url: '/v1/me/passkeys',
      headers: customer.headers,
      payload: { response: { id: 'x' } },
    });
    expect(malformed.json().code).toBe('validation_failed');
  });

  it('has nothing to authenticate with until a passkey is registered', async () => {
    const customer = await customerWithPin();
    const options = await inject({
      method: 'POST',
      url: '/v1/me/passkeys/authentication-options',
      headers: customer.headers,
    });
    expect(options.json().code).toBe('passkey_not_registered');
    const assertion = {
      id: 'AAAA',
      rawId: 'AAAA',
      type: 'public-key' as const,
      response: { clientDataJSON: 'e30', authenticatorData: 'AA', signature: 'AA' },
      clientExtensionResults: {},
    };
    expect((await problemOf(identity.requireStepUp(customer.customerId, { passkey: assertion }))).code).toBe(
      'passkey_not_registered',
    );
    const freeze = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: { passkey: assertion } },
    });
    expect(freeze.json().code).toBe('passkey_not_registered');
    expect((await identity.getCustomer(customer.customerId)).status).toBe('active');
  });

  it('registers a passkey from an authenticator and accepts its assertion as a step-up, each challenge once', async () => {
    const customer = await customerWithPin();
    const authenticator = new SoftwareAuthenticator('localhost', 'http://localhost:3000');
    const creation = await inject({
      method: 'POST',
      url: '/v1/me/passkeys/registration-options',
      headers: customer.headers,
    });
    const registered = await inject({
      method: 'POST',
      url: '/v1/me/passkeys',
      headers: customer.headers,
      payload: { response: authenticator.register(creation.json()) },
    });
    expect(registered.statusCode).toBe(201);
    expect(registered.json().credentialId).toBe(authenticator.credentialId.toString('base64url'));
    expect((await identity.getProfile(customer.customerId)).passkeyCount).toBe(1);

    const request = await inject({
      method: 'POST',
      url: '/v1/me/passkeys/authentication-options',
      headers: customer.headers,
    });
    expect(request.json().allowCredentials).toEqual([
      expect.objectContaining({ id: authenticator.credentialId.toString('base64url') }),
    ]);
    const assertion = authenticator.authenticate(request.json());
    const frozen = await inject({
      method: 'POST',
      url: '/v1/me/freeze',
      headers: customer.headers,
      payload: { proof: { passkey: assertion } },
    });
    expect(frozen.json()).toEqual({ status: 'frozen' });

    // The same assertion again: its challenge is used up.
    const replay = await inject({
      method: 'POST',
      url: '/v1/me/unfreeze',
      headers: customer.headers,
      payload: { proof: { passkey: assertion } },
    });
    expect(replay.json().code).toBe('passkey_invalid');
    // An assertion for another origin is refused.
    const phishing = new SoftwareAuthenticator('localhost', 'https://evil.example');
    const options = (
      await inject({ method: 'POST', url: '/v1/me/passkeys/authentication-options', headers: customer.headers })
    ).json();
    const foreign = { ...phishing.authenticate(options), id: assertion.id, rawId: assertion.rawId };
    expect((await problemOf(identity.requireStepUp(customer.customerId, { passkey: foreign }))).code).toBe(
      'passkey_invalid',
    );
    expect((await identity.getCustomer(customer.customerId)).status).toBe('frozen');

    const fresh = (
      await inject({ method: 'POST', url: '/v1/me/passkeys/authentication-options', headers: customer.headers })
    ).json();
    const unfrozen = await inject({
      method: 'POST',
      url: '/v1/me/unfreeze',
      headers: customer.headers,
      payload: { proof: { passkey: authenticator.authenticate(fresh) } },
    });
    expect(unfrozen.json()).toEqual({ status: 'active' });

    const list = await inject({ method: 'GET', url: '/v1/me/passkeys', headers: customer.headers });
    const [passkey] = list.json().passkeys;
    expect(passkey.lastUsedAt).not.toBeNull();
    const removed = await inject({ method: 'DELETE', url: `/v1/me/passkeys/${passkey.id}`, headers: customer.headers });
    expect(removed.statusCode).toBe(204);
    expect(
      (await inject({ method: 'DELETE', url: `/v1/me/passkeys/${passkey.id}`, headers: customer.headers })).statusCode,
    ).toBe(404);
  });
});
