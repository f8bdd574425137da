/**
 * Step-up factors: TOTP (RFC 6238, otplib) and WebAuthn passkeys (@simplewebauthn/server), and the one
 * `verify(customerId, proof)` that accepts any factor (PIN and SMS code are delegated to the service).
 */
import type { Database } from '@yika/db';
import { newId } from '@yika/ledger';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { generateSecret, generateURI, verify as verifyOtp } from 'otplib';
import QRCode from 'qrcode';
import type { DataCipher } from '../../platform/crypto.js';
import { identityErrors as errors } from './identity.errors.js';

/** Exactly one of these proves the customer is present for a risky action. */
export interface StepUpProof {
  pin?: string | undefined;
  /** An SMS code requested with purpose `step_up`. */
  otp?: string | undefined;
  totp?: string | undefined;
  passkey?: AuthenticationResponseJSON | undefined;
}

export const TOTP_ISSUER = 'Yika';
export const TOTP_PERIOD_SECONDS = 30;
/** One time step either side, for clocks that drift. */
const TOTP_TOLERANCE_SECONDS = 30;
const CHALLENGE_TTL_MS = 5 * 60_000;
const PASSKEYS_PER_CUSTOMER_MAX = 20;

export interface StepUpFactorsOptions {
  db: Database;
  cipher: DataCipher;
  webauthn: { rpId: string; rpName: string; origins: readonly string[] };
  now: () => Date;
  verifyPin: (customerId: string, pin: string) => Promise<void>;
  verifyCode: (customerId: string, code: string) => Promise<void>;
}

export interface TotpEnrolment {
  secret: string;
  otpauthUri: string;
  /** `data:image/png;base64,…` of the otpauth URI, for the customer to scan. */
  qrDataUrl: string;
}

export interface PasskeyView {
  id: string;
  credentialId: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

const totpContext = (customerId: string) => `identity.customer:${customerId}:totp`;

export class StepUpFactors {
  readonly #db: Database;
  readonly #cipher: DataCipher;
  readonly #options: StepUpFactorsOptions;

  constructor(options: StepUpFactorsOptions) {
    this.#db = options.db;
    this.#cipher = options.cipher;
    this.#options = options;
  }

  async verify(customerId: string, proof: StepUpProof): Promise<void> {
    const given = [proof.pin, proof.otp, proof.totp, proof.passkey].filter((value) => value !== undefined);
    if (given.length !== 1) {
      throw errors.stepUpRequired('Confirm with exactly one of: payment PIN, SMS code, authenticator code, passkey.');
    }
    if (proof.pin !== undefined) return this.#options.verifyPin(customerId, proof.pin);
    if (proof.otp !== undefined) return this.#options.verifyCode(customerId, proof.otp);
    if (proof.totp !== undefined) return this.verifyTotp(customerId, proof.totp);
    if (proof.passkey !== undefined) return this.verifyPasskey(customerId, proof.passkey);
  }

  // ---------------------------------------------------------------------------------------------
  // TOTP

  /** Starts (or restarts) enrolment: a new secret, kept pending until a first code confirms it. */
  async startTotpEnrolment(customerId: string, accountLabel: string): Promise<TotpEnrolment> {
    const state = await this.#totpState(customerId);
    if (state.enabled) throw errors.totpAlreadyEnabled('An authenticator app is already enrolled; remove it first.');
    const secret = generateSecret();
    await this.#db.query('update identity_customers set totp_pending_secret_ciphertext = $2 where id = $1', [
      customerId,
      this.#cipher.encrypt(secret, totpContext(customerId)),
    ]);
    const otpauthUri = generateURI({
      issuer: TOTP_ISSUER,
      label: accountLabel,
      secret,
      period: TOTP_PERIOD_SECONDS,
    });
    return { secret, otpauthUri, qrDataUrl: await QRCode.toDataURL(otpauthUri, { errorCorrectionLevel: 'M' }) };
  }

  async confirmTotpEnrolment(customerId: string, code: string): Promise<void> {
    const state = await this.#totpState(customerId);
    if (state.enabled) throw errors.totpAlreadyEnabled('An authenticator app is already enrolled.');
    if (!state.pendingCiphertext) throw errors.totpEnrolmentMissing('Start the enrolment first.');
    const secret = this.#cipher.decrypt(state.pendingCiphertext, totpContext(customerId));
    const timeStep = await this.#checkTotp(secret, code, null);
    await this.#db.query(
      `update identity_customers set totp_secret_ciphertext = totp_pending_secret_ciphertext,
          totp_pending_secret_ciphertext = null, totp_enabled_at = $2, totp_last_time_step = $3 where id = $1`,
      [customerId, this.#options.now(), timeStep],
    );
  }

  async disableTotp(customerId: string): Promise<void> {
    await this.#db.query(
      `update identity_customers set totp_secret_ciphertext = null, totp_pending_secret_ciphertext = null,
          totp_enabled_at = null, totp_last_time_step = null where id = $1`,
      [customerId],
    );
  }

  /** Checks a code from the customer's authenticator; a code is accepted once (replay protection). */
  async verifyTotp(customerId: string, code: string): Promise<void> {
    const state = await this.#totpState(customerId);
    if (!state.enabled || !state.secretCiphertext) throw errors.totpNotEnabled('No authenticator app is enrolled.');
    const secret = this.#cipher.decrypt(state.secretCiphertext, totpContext(customerId));
    const timeStep = await this.#checkTotp(secret, code, state.lastTimeStep);
    // Only one request can move the last time step forward past this code.
    const updated = await this.#db.query(
      `update identity_customers set totp_last_time_step = $2
        where id = $1 and (totp_last_time_step is null or totp_last_time_step < $2)`,
      [customerId, timeStep],
    );
    if (updated.affectedRows !== 1) throw errors.totpInvalid('This authenticator code was already used.');
  }

  async #checkTotp(secret: string, code: string, afterTimeStep: number | null): Promise<number> {
    if (!/^\d{6}$/.test(code)) throw errors.totpInvalid('An authenticator code has 6 digits.');
    const result = await verifyOtp({
      secret,
      token: code,
      period: TOTP_PERIOD_SECONDS,
      epoch: Math.floor(this.#options.now().getTime() / 1000),
      epochTolerance: TOTP_TOLERANCE_SECONDS,
      ...(afterTimeStep === null ? {} : { afterTimeStep }),
    });
    if (!result.valid || !('timeStep' in result))
      throw errors.totpInvalid('The authenticator code is wrong or expired.');
    return result.timeStep;
  }

  async #totpState(customerId: string) {
    const { rows } = await this.#db.query<{
      totp_secret_ciphertext: string | null;
      totp_pending_secret_ciphertext: string | null;
      totp_enabled_at: Date | null;
      totp_last_time_step: bigint | number | null;
    }>(
      `select totp_secret_ciphertext, totp_pending_secret_ciphertext, totp_enabled_at, totp_last_time_step
         from identity_customers where id = $1`,
      [customerId],
    );
    const row = rows[0];
    return {
      enabled: row?.totp_enabled_at != null,
      secretCiphertext: row?.totp_secret_ciphertext ?? null,
      pendingCiphertext: row?.totp_pending_secret_ciphertext ?? null,
      lastTimeStep: row?.totp_last_time_step == null ? null : Number(row.totp_last_time_step),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Passkeys (WebAuthn)

  async passkeyRegistrationOptions(
    customerId: string,
    userName: string,
  ): Promise<PublicKeyCredentialCreationOptionsJSON> {
    const existing = await this.#passkeyRows(customerId);
    if (existing.length >= PASSKEYS_PER_CUSTOMER_MAX) {
      throw errors.passkeyInvalid(`At most ${PASSKEYS_PER_CUSTOMER_MAX} passkeys per account.`);
    }
    const options = await generateRegistrationOptions({
      rpName: this.#options.webauthn.rpName,
      rpID: this.#options.webauthn.rpId,
      userName,
      userID: Buffer.from(customerId, 'utf8'),
      attestationType: 'none',
      excludeCredentials: existing.map((row) => ({
        id: row.credential_id,
        transports: parseTransports(row.transports),
      })),
      authenticatorSelection: { residentKey: 'preferred', userVerification: 'required' },
      timeout: CHALLENGE_TTL_MS,
    });
    await this.#storeChallenge(customerId, 'registration', options.challenge);
    return options;
  }

  async registerPasskey(customerId: string, response: RegistrationResponseJSON): Promise<PasskeyView> {
    const challenge = await this.#takeChallenge(customerId, 'registration');
    let verification;
    try {
      verification = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: [...this.#options.webauthn.origins],
        expectedRPID: this.#options.webauthn.rpId,
        requireUserVerification: true,
      });
    } catch (error) {
      throw errors.passkeyInvalid(`The passkey was not accepted: ${describe(error)}`);
    }
    if (!verification.verified) throw errors.passkeyInvalid('The passkey was not accepted.');
    const { credential } = verification.registrationInfo;
    const id = newId();
    const now = this.#options.now();
    const inserted = await this.#db.query(
      `insert into identity_passkeys (id, customer_id, credential_id, public_key, counter, transports, created_at)
       values ($1, $2, $3, $4, $5, $6, $7) on conflict (credential_id) do nothing`,
      [
        id,
        customerId,
        credential.id,
        Buffer.from(credential.publicKey).toString('base64url'),
        credential.counter,
        JSON.stringify(credential.transports ?? []),
        now,
      ],
    );
    if (inserted.affectedRows !== 1) throw errors.passkeyInvalid('This passkey is already registered.');
    return { id, credentialId: credential.id, createdAt: now, lastUsedAt: null };
  }

  async passkeyAuthenticationOptions(customerId: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const rows = await this.#passkeyRows(customerId);
    if (rows.length === 0) throw errors.passkeyNotRegistered('No passkey is registered for this account.');
    const options = await generateAuthenticationOptions({
      rpID: this.#options.webauthn.rpId,
      allowCredentials: rows.map((row) => ({ id: row.credential_id, transports: parseTransports(row.transports) })),
      userVerification: 'required',
      timeout: CHALLENGE_TTL_MS,
    });
    await this.#storeChallenge(customerId, 'authentication', options.challenge);
    return options;
  }

  async verifyPasskey(customerId: string, response: AuthenticationResponseJSON): Promise<void> {
    const rows = await this.#passkeyRows(customerId);
    const row = rows.find((candidate) => candidate.credential_id === response.id);
    if (!row) throw errors.passkeyNotRegistered('This passkey is not registered for this account.');
    const challenge = await this.#takeChallenge(customerId, 'authentication');
    let verification;
    try {
      verification = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: [...this.#options.webauthn.origins],
        expectedRPID: this.#options.webauthn.rpId,
        credential: {
          id: row.credential_id,
          publicKey: Buffer.from(row.public_key, 'base64url'),
          counter: Number(row.counter),
          transports: parseTransports(row.transports),
        },
        requireUserVerification: true,
      });
    } catch (error) {
      throw errors.passkeyInvalid(`The passkey response was not accepted: ${describe(error)}`);
    }
    if (!verification.verified) throw errors.passkeyInvalid('The passkey response was not accepted.');
    await this.#db.query('update identity_passkeys set counter = $2, last_used_at = $3 where id = $1', [
      row.id,
      verification.authenticationInfo.newCounter,
      this.#options.now(),
    ]);
  }

  async listPasskeys(customerId: string): Promise<PasskeyView[]> {
    return (await this.#passkeyRows(customerId)).map((row) => ({
      id: row.id,
      credentialId: row.credential_id,
      createdAt: row.created_at,
      lastUsedAt: row.last_used_at,
    }));
  }

  async passkeyCount(customerId: string): Promise<number> {
    return (await this.#passkeyRows(customerId)).length;
  }

  async deletePasskey(customerId: string, passkeyId: string): Promise<boolean> {
    const deleted = await this.#db.query('delete from identity_passkeys where id = $1 and customer_id = $2', [
      passkeyId,
      customerId,
    ]);
    return deleted.affectedRows === 1;
  }

  async #passkeyRows(customerId: string) {
    const { rows } = await this.#db.query<{
      id: string;
      credential_id: string;
      public_key: string;
      counter: bigint | number;
      transports: string;
      created_at: Date;
      last_used_at: Date | null;
    }>(
      `select id, credential_id, public_key, counter, transports, created_at, last_used_at
         from identity_passkeys where customer_id = $1 order by created_at limit $2`,
      [customerId, PASSKEYS_PER_CUSTOMER_MAX],
    );
    return rows;
  }

  async #storeChallenge(customerId: string, purpose: 'registration' | 'authentication', challenge: string) {
    const now = this.#options.now();
    await this.#db.query(
      `insert into identity_webauthn_challenges (id, customer_id, purpose, challenge, expires_at, created_at)
       values ($1, $2, $3, $4, $5, $6)`,
      [newId(), customerId, purpose, challenge, new Date(now.getTime() + CHALLENGE_TTL_MS), now],
    );
  }

  /** The latest unexpired challenge for the purpose, consumed: each challenge is answered once. */
  async #takeChallenge(customerId: string, purpose: 'registration' | 'authentication'): Promise<string> {
    const now = this.#options.now();
    const { rows } = await this.#db.query<{ challenge: string }>(
      `update identity_webauthn_challenges set consumed_at = $3
        where id = (select id from identity_webauthn_challenges
                     where customer_id = $1 and purpose = $2 and consumed_at is null and expires_at > $3
                     order by created_at desc, id desc limit 1)
          and consumed_at is null
        returning challenge`,
      [customerId, purpose, now],
    );
    const challenge = rows[0]?.challenge;
    if (!challenge) throw errors.passkeyInvalid('No passkey request is pending; ask for new options.');
    return challenge;
  }
}

function parseTransports(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((item): item is string => typeof item === 'string') : [];
  } catch {
    return [];
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : 'invalid response';
}
