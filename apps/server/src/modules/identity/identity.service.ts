/**
 * Identity: customers, one-time codes, sessions and devices, the payment PIN, real-name KYC and account
 * classes, freezing and closing, and step-up factors (TOTP, passkeys). Knows nothing of HTTP: the
 * routes call these methods and the error handler turns `IdentityError`s into problem documents.
 */
import { randomInt } from 'node:crypto';
import { hash as argon2Hash, verify as argon2Verify } from '@node-rs/argon2';
import { pgErrorCode, type Database, type SqlExecutor } from '@yika/db';
import { newId } from '@yika/ledger';
import type { AccountLimits } from '../../config.js';
import { type AuditActor, type AuditJson, type AuditTrail, maskIp } from '../../platform/audit.js';
import { type DataCipher, randomToken, sha256Hex } from '../../platform/crypto.js';
import { NotFoundError } from '../../platform/errors.js';
import type { EncryptedColumn } from '../../platform/key-rotation.js';
import type { SmsSender } from '../../platform/sms.js';
import { identityErrors as errors } from './identity.errors.js';
import {
  ageOn,
  isPlausibleName,
  maskName,
  normalizePhone,
  parseResidentId,
  type ResidentId,
  weakPinReason,
} from './identity.rules.js';
import { StepUpFactors, type StepUpProof } from './identity.factors.js';

export type CustomerStatus = 'active' | 'frozen' | 'closed';
export type AccountClass = 'I' | 'II' | 'III';
export type OneTimeCodePurpose = 'login' | 'pin_reset' | 'step_up';

export interface Customer {
  customerId: string;
  phone: string;
  status: CustomerStatus;
  /** Every registered customer is at least Class I (phone verified); KYC makes Class II. */
  accountClass: AccountClass;
  /** "*明", or null before KYC. */
  maskedName: string | null;
}

export interface CustomerProfile extends Customer {
  frozenBy: 'customer' | 'operations' | null;
  kycVerified: boolean;
  pinSet: boolean;
  pinLockedUntil: Date | null;
  totpEnabled: boolean;
  passkeyCount: number;
  createdAt: Date;
}

export interface Limits {
  accountClass: AccountClass;
  perTransaction: bigint;
  daily: bigint;
  /** For Class I: the total since the account was opened. */
  yearly: bigint;
  yearlyPeriod: 'since_opening' | 'calendar_year';
}

/** Who made a request, for the event log and rate limits. */
export interface RequestMeta {
  ip?: string | undefined;
  deviceId?: string | undefined;
  userAgent?: string | undefined;
}

export interface AuthenticatedSession {
  customerId: string;
  sessionId: string;
  deviceId: string;
}

export interface SignInResult extends AuthenticatedSession {
  token: string;
  isNewCustomer: boolean;
  idleExpiresAt: Date;
  absoluteExpiresAt: Date;
  customer: Customer;
}

export interface DeviceView {
  id: string;
  name: string;
  clientDeviceId: string | null;
  userAgent: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  current: boolean;
}

export interface IdentityPolicy {
  otpTtlMs: number;
  otpAttemptsMax: number;
  /** Per number: one code per `otpResendIntervalMs`, at most `otpPerNumberPerHour` an hour. */
  otpResendIntervalMs: number;
  otpPerNumberPerHour: number;
  otpPerIpPerHour: number;
  pinAttemptsMax: number;
  pinLockMs: number;
  sessionIdleMs: number;
  sessionAbsoluteMs: number;
  /** Age at least this to pass KYC. */
  kycMinimumAge: number;
}

export const DEFAULT_POLICY: IdentityPolicy = {
  otpTtlMs: 5 * 60_000,
  otpAttemptsMax: 5,
  otpResendIntervalMs: 60_000,
  otpPerNumberPerHour: 5,
  otpPerIpPerHour: 20,
  pinAttemptsMax: 5,
  pinLockMs: 30 * 60_000,
  sessionIdleMs: 30 * 86_400_000,
  sessionAbsoluteMs: 90 * 86_400_000,
  kycMinimumAge: 16,
};

export interface IdentityServiceOptions {
  db: Database;
  cipher: DataCipher;
  /** Every identity event is also an audit record (`identity.<kind>`), in the event's transaction. */
  audit: AuditTrail;
  sms: SmsSender;
  limits: Record<AccountClass, AccountLimits>;
  webauthn: { rpId: string; rpName: string; origins: readonly string[] };
  policy?: Partial<IdentityPolicy>;
  /** The clock; tests move it to expire codes and locks. */
  now?: () => Date;
  /** Called once a new customer is registered (after commit), e.g. to open their wallet account. */
  onRegistered?: (customerId: string) => Promise<void>;
}

interface CustomerRow {
  id: string;
  phone: string;
  status: CustomerStatus;
  frozen_by: 'customer' | 'operations' | null;
  account_class: AccountClass;
  masked_name: string | null;
  id_number_ciphertext: string | null;
  kyc_verified_at: Date | null;
  pin_hash: string | null;
  pin_failed_attempts: number;
  pin_locked_until: Date | null;
  totp_enabled_at: Date | null;
  created_at: Date;
}

const CUSTOMER_COLUMNS = `id, phone, status, frozen_by, account_class, masked_name, id_number_ciphertext,
  kyc_verified_at, pin_hash, pin_failed_attempts, pin_locked_until, totp_enabled_at, created_at`;

const DEVICE_NAME_MAX = 100;
const CODE_INDEX = 'identity.one_time_code';
/** Sessions are touched (last use, idle expiry) at most this often, not on every request. */
const SESSION_TOUCH_INTERVAL_MS = 60_000;

const idContext = (customerId: string) => `identity.customer:${customerId}:id_number`;
const nameContext = (customerId: string) => `identity.customer:${customerId}:name`;
/** As identity.factors.ts encrypts TOTP secrets (the key-rotation test proves they agree). */
const totpContext = (customerId: string) => `identity.customer:${customerId}:totp`;

/** What `yika keys:reencrypt` re-encrypts in this module. */
export const identityEncryptedColumns: readonly EncryptedColumn[] = [
  { table: 'identity_customers', column: 'real_name_ciphertext', context: (row) => nameContext(row.id!) },
  { table: 'identity_customers', column: 'id_number_ciphertext', context: (row) => idContext(row.id!) },
  { table: 'identity_customers', column: 'totp_secret_ciphertext', context: (row) => totpContext(row.id!) },
  { table: 'identity_customers', column: 'totp_pending_secret_ciphertext', context: (row) => totpContext(row.id!) },
];

export class IdentityService {
  readonly #db: Database;
  readonly #cipher: DataCipher;
  readonly #audit: AuditTrail;
  readonly #sms: SmsSender;
  readonly #limits: Record<AccountClass, AccountLimits>;
  readonly #policy: IdentityPolicy;
  readonly #now: () => Date;
  readonly #onRegistered: ((customerId: string) => Promise<void>) | undefined;
  readonly factors: StepUpFactors;

  constructor(options: IdentityServiceOptions) {
    this.#db = options.db;
    this.#cipher = options.cipher;
    this.#audit = options.audit;
    this.#sms = options.sms;
    this.#limits = options.limits;
    this.#policy = { ...DEFAULT_POLICY, ...options.policy };
    this.#now = options.now ?? (() => new Date());
    this.#onRegistered = options.onRegistered;
    this.factors = new StepUpFactors({
      db: options.db,
      cipher: options.cipher,
      webauthn: options.webauthn,
      now: this.#now,
      verifyPin: (customerId, pin) => this.verifyPaymentPin(customerId, pin),
      verifyCode: (customerId, code) => this.#consumeCodeForCustomer(customerId, 'step_up', code),
    });
  }

  get policy(): Readonly<IdentityPolicy> {
    return this.#policy;
  }

  // ---------------------------------------------------------------------------------------------
  // One-time codes

  /**
   * Sends a 6-digit code to `phone` for `purpose`. Answers the same whether or not the number is
   * registered; refuses with `otp_rate_limited` past the per-number or per-IP limits.
   */
  async requestCode(phoneInput: string, purpose: OneTimeCodePurpose, meta: RequestMeta = {}): Promise<void> {
    const phone = this.#phone(phoneInput);
    const ip = meta.ip ?? 'unknown';
    const now = this.#now();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const id = newId();
    await this.#db.transaction(async (tx) => {
      // One code request per number at a time, so two concurrent requests cannot both pass the limits.
      await tx.query('select pg_advisory_xact_lock(hashtext($1))', [`identity.otp:${phone}`]);
      await this.#checkCodeRateLimits(tx, phone, ip, now);
      await tx.query(
        `update identity_one_time_codes set consumed_at = $3
          where phone = $1 and purpose = $2 and consumed_at is null`,
        [phone, purpose, now],
      );
      await tx.query(
        `insert into identity_one_time_codes (id, phone, purpose, code_hash, request_ip, expires_at, created_at)
         values ($1, $2, $3, $4, $5, $6, $7)`,
        [
          id,
          phone,
          purpose,
          this.#codeHash(phone, purpose, code),
          ip,
          new Date(now.getTime() + this.#policy.otpTtlMs),
          now,
        ],
      );
    });
    const minutes = Math.round(this.#policy.otpTtlMs / 60_000);
    try {
      await this.#sms.send({
        to: phone,
        text: `【Yika】Your code is ${code}, valid for ${minutes} minutes. Never share it. 验证码 ${code}，${minutes} 分钟内有效，请勿泄露。`,
      });
    } catch {
      // The customer never got it: make it unusable (it still counts towards the limits).
      await this.#db.query('update identity_one_time_codes set consumed_at = $2 where id = $1', [id, now]);
      throw errors.smsUnavailable('The code could not be sent; try again in a minute.');
    }
  }

  async #checkCodeRateLimits(tx: SqlExecutor, phone: string, ip: string, now: Date): Promise<void> {
    const hourAgo = new Date(now.getTime() - 3_600_000);
    const { rows } = await tx.query<{ per_number: number | bigint; latest: Date | null }>(
      `select count(*) as per_number, max(created_at) as latest
         from identity_one_time_codes where phone = $1 and created_at > $2`,
      [phone, hourAgo],
    );
    const perNumber = Number(rows[0]?.per_number ?? 0);
    const latest = rows[0]?.latest ?? null;
    if (latest && now.getTime() - latest.getTime() < this.#policy.otpResendIntervalMs) {
      const retryAfterSeconds = Math.ceil((latest.getTime() + this.#policy.otpResendIntervalMs - now.getTime()) / 1000);
      throw errors.otpRateLimited(`Wait ${retryAfterSeconds} s before asking for another code.`, { retryAfterSeconds });
    }
    if (perNumber >= this.#policy.otpPerNumberPerHour) {
      throw errors.otpRateLimited('Too many codes for this number in the last hour.', { retryAfterSeconds: 3600 });
    }
    const byIp = await tx.query<{ n: number | bigint }>(
      'select count(*) as n from identity_one_time_codes where request_ip = $1 and created_at > $2',
      [ip, hourAgo],
    );
    if (Number(byIp.rows[0]?.n ?? 0) >= this.#policy.otpPerIpPerHour) {
      throw errors.otpRateLimited('Too many codes requested from this network in the last hour.', {
        retryAfterSeconds: 3600,
      });
    }
  }

  #codeHash(phone: string, purpose: OneTimeCodePurpose, code: string): string {
    return this.#cipher.blindIndex(CODE_INDEX, `${phone}\u0000${purpose}\u0000${code}`);
  }

  /**
   * Checks and consumes the latest code sent to `phone` for `purpose`. Every check counts as an attempt
   * (counted before comparing, so concurrent guesses cannot exceed the limit).
   */
  async consumeCode(phone: string, purpose: OneTimeCodePurpose, code: string): Promise<void> {
    const now = this.#now();
    const { rows } = await this.#db.query<{
      id: string;
      code_hash: string;
      expires_at: Date;
      consumed_at: Date | null;
    }>(
      `select id, code_hash, expires_at, consumed_at from identity_one_time_codes
        where phone = $1 and purpose = $2 order by created_at desc, id desc limit 1`,
      [phone, purpose],
    );
    const latest = rows[0];
    if (!latest || latest.consumed_at)
      throw errors.otpInvalid('The code is wrong or was already used; request a new one.');
    if (latest.expires_at.getTime() <= now.getTime())
      throw errors.otpExpired('The code has expired; request a new one.');
    const counted = await this.#db.query<{ attempts: number }>(
      `update identity_one_time_codes set attempts = attempts + 1
        where id = $1 and attempts < $2 and consumed_at is null returning attempts`,
      [latest.id, this.#policy.otpAttemptsMax],
    );
    const attempts = counted.rows[0]?.attempts;
    if (attempts === undefined) {
      throw errors.otpAttemptsExceeded('Too many wrong codes; request a new one.');
    }
    const matches =
      /^\d{6}$/.test(code) &&
      this.#cipher.matchesBlindIndex(CODE_INDEX, `${phone}\u0000${purpose}\u0000${code}`, latest.code_hash);
    if (!matches) {
      const attemptsLeft = this.#policy.otpAttemptsMax - attempts;
      if (attemptsLeft === 0) throw errors.otpAttemptsExceeded('Too many wrong codes; request a new one.');
      throw errors.otpInvalid(`The code is wrong; ${attemptsLeft} attempts left.`, { attemptsLeft });
    }
    const consumed = await this.#db.query(
      'update identity_one_time_codes set consumed_at = $2 where id = $1 and consumed_at is null',
      [latest.id, now],
    );
    if (consumed.affectedRows !== 1) throw errors.otpInvalid('The code was already used; request a new one.');
  }

  /** Sends a code to a signed-in customer's own number (PIN reset, step-up). */
  async requestCodeForCustomer(customerId: string, purpose: 'pin_reset' | 'step_up', meta: RequestMeta = {}) {
    const customer = await this.#customerRow(customerId);
    await this.requestCode(customer.phone, purpose, meta);
  }

  async #consumeCodeForCustomer(customerId: string, purpose: OneTimeCodePurpose, code: string): Promise<void> {
    const customer = await this.#customerRow(customerId);
    await this.consumeCode(customer.phone, purpose, code);
  }

  // ---------------------------------------------------------------------------------------------
  // Sign-in, sessions, devices

  /**
   * Registration and sign-in in one step: a valid code for `phone` signs in, creating the customer when
   * the number is new. Returns a fresh session token (shown once; only its hash is stored).
   */
  async signIn(
    input: { phone: string; code: string; deviceName?: string | undefined; clientDeviceId?: string | undefined },
    meta: RequestMeta = {},
  ): Promise<SignInResult> {
    const phone = this.#phone(input.phone);
    await this.consumeCode(phone, 'login', input.code);
    const now = this.#now();
    const token = randomToken(32);
    const idleExpiresAt = new Date(now.getTime() + this.#policy.sessionIdleMs);
    const absoluteExpiresAt = new Date(now.getTime() + this.#policy.sessionAbsoluteMs);
    const result = await this.#db.transaction(async (tx): Promise<SignInResult> => {
      const created = await tx.query<{ id: string }>(
        `insert into identity_customers (id, phone, created_at, updated_at) values ($1, $2, $3, $3)
         on conflict (phone) do nothing returning id`,
        [newId(), phone, now],
      );
      const isNewCustomer = created.rows.length === 1;
      const customer = await this.#customerRowBy(tx, 'phone', phone);
      if (customer.status === 'closed') throw errors.accountClosed('This account has been closed.');
      const deviceId = await this.#deviceFor(tx, customer.id, input, meta, now);
      const sessionId = newId();
      await tx.query(
        `insert into identity_sessions
           (id, customer_id, device_id, token_hash, created_at, rotated_at, last_used_at, idle_expires_at, absolute_expires_at)
         values ($1, $2, $3, $4, $5, $5, $5, $6, $7)`,
        [sessionId, customer.id, deviceId, sha256Hex(token), now, idleExpiresAt, absoluteExpiresAt],
      );
      if (isNewCustomer) await this.#event(tx, customer.id, 'registered', { ...meta, deviceId });
      await this.#event(tx, customer.id, 'signed_in', { ...meta, deviceId }, { sessionId });
      return {
        customerId: customer.id,
        sessionId,
        deviceId,
        token,
        isNewCustomer,
        idleExpiresAt,
        absoluteExpiresAt,
        customer: toCustomer(customer),
      };
    });
    // Every customer has a wallet from the start; the wallet also opens it lazily, should this fail.
    if (result.isNewCustomer) await this.#onRegistered?.(result.customerId);
    return result;
  }

  async #deviceFor(
    tx: SqlExecutor,
    customerId: string,
    input: { deviceName?: string | undefined; clientDeviceId?: string | undefined },
    meta: RequestMeta,
    now: Date,
  ): Promise<string> {
    const name = (input.deviceName?.trim() || guessDeviceName(meta.userAgent)).slice(0, DEVICE_NAME_MAX);
    if (input.clientDeviceId) {
      const { rows } = await tx.query<{ id: string }>(
        `update identity_devices set last_seen_at = $3, name = $4, user_agent = $5
          where customer_id = $1 and client_device_id = $2 and revoked_at is null returning id`,
        [customerId, input.clientDeviceId, now, name, meta.userAgent ?? null],
      );
      if (rows[0]) return rows[0].id;
    }
    const id = newId();
    await tx.query(
      `insert into identity_devices (id, customer_id, client_device_id, name, user_agent, created_at, last_seen_at)
       values ($1, $2, $3, $4, $5, $6, $6)`,
      [id, customerId, input.clientDeviceId ?? null, name, meta.userAgent ?? null, now],
    );
    return id;
  }

  /** The session a token belongs to, or null when it is unknown, revoked or expired. */
  async authenticate(token: string): Promise<AuthenticatedSession | null> {
    if (token.length < 16 || token.length > 128) return null;
    const now = this.#now();
    const { rows } = await this.#db.query<{
      id: string;
      customer_id: string;
      device_id: string;
      last_used_at: Date;
    }>(
      `select s.id, s.customer_id, s.device_id, s.last_used_at
         from identity_sessions s join identity_devices d on d.id = s.device_id
        where s.token_hash = $1 and s.revoked_at is null and d.revoked_at is null
          and s.idle_expires_at > $2 and s.absolute_expires_at > $2`,
      [sha256Hex(token), now],
    );
    const session = rows[0];
    if (!session) return null;
    if (now.getTime() - session.last_used_at.getTime() > SESSION_TOUCH_INTERVAL_MS) {
      await this.#db.query(
        `update identity_sessions set last_used_at = $2,
            idle_expires_at = least(absolute_expires_at, $3::timestamptz) where id = $1`,
        [session.id, now, new Date(now.getTime() + this.#policy.sessionIdleMs)],
      );
      await this.#db.query('update identity_devices set last_seen_at = $2 where id = $1', [session.device_id, now]);
    }
    return { customerId: session.customer_id, sessionId: session.id, deviceId: session.device_id };
  }

  /** Replaces a session's token; the old one stops working at once. Expiry is not extended past its limit. */
  async rotateSession(sessionId: string): Promise<{ token: string; idleExpiresAt: Date; absoluteExpiresAt: Date }> {
    const now = this.#now();
    const token = randomToken(32);
    const { rows } = await this.#db.query<{ idle_expires_at: Date; absolute_expires_at: Date }>(
      `update identity_sessions set token_hash = $2, rotated_at = $3, last_used_at = $3,
          idle_expires_at = least(absolute_expires_at, $4::timestamptz)
        where id = $1 and revoked_at is null returning idle_expires_at, absolute_expires_at`,
      [sessionId, sha256Hex(token), now, new Date(now.getTime() + this.#policy.sessionIdleMs)],
    );
    const row = rows[0];
    if (!row) throw errors.unauthenticated('The session has ended; sign in again.');
    return { token, idleExpiresAt: row.idle_expires_at, absoluteExpiresAt: row.absolute_expires_at };
  }

  async signOut(session: AuthenticatedSession, meta: RequestMeta = {}): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await tx.query('update identity_sessions set revoked_at = $2 where id = $1 and revoked_at is null', [
        session.sessionId,
        this.#now(),
      ]);
      await this.#event(tx, session.customerId, 'signed_out', { ...meta, deviceId: session.deviceId });
    });
  }

  async listDevices(customerId: string, currentDeviceId?: string): Promise<DeviceView[]> {
    const { rows } = await this.#db.query<{
      id: string;
      name: string;
      client_device_id: string | null;
      user_agent: string | null;
      created_at: Date;
      last_seen_at: Date;
    }>(
      `select id, name, client_device_id, user_agent, created_at, last_seen_at from identity_devices
        where customer_id = $1 and revoked_at is null order by last_seen_at desc, id limit 100`,
      [customerId],
    );
    return rows.map((row) => ({
      id: row.id,
      name: row.name,
      clientDeviceId: row.client_device_id,
      userAgent: row.user_agent,
      createdAt: row.created_at,
      lastSeenAt: row.last_seen_at,
      current: row.id === currentDeviceId,
    }));
  }

  /** Whether the device is still signed in (not revoked). */
  async isDeviceActive(customerId: string, deviceId: string): Promise<boolean> {
    const { rows } = await this.#db.query(
      'select 1 from identity_devices where id = $1 and customer_id = $2 and revoked_at is null',
      [deviceId, customerId],
    );
    return rows.length === 1;
  }

  /** Signs a device out: the device and every session on it stop working. */
  async revokeDevice(customerId: string, deviceId: string, meta: RequestMeta = {}): Promise<void> {
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      const revoked = await tx.query(
        `update identity_devices set revoked_at = $3 where id = $1 and customer_id = $2 and revoked_at is null`,
        [deviceId, customerId, now],
      );
      if (revoked.affectedRows !== 1) throw new NotFoundError('No such device.');
      await tx.query('update identity_sessions set revoked_at = $2 where device_id = $1 and revoked_at is null', [
        deviceId,
        now,
      ]);
      await this.#event(tx, customerId, 'device_signed_out', meta, { revokedDeviceId: deviceId });
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Customers

  async getCustomer(customerId: string): Promise<Customer> {
    return toCustomer(await this.#customerRow(customerId));
  }

  async getProfile(customerId: string): Promise<CustomerProfile> {
    const row = await this.#customerRow(customerId);
    const passkeys = await this.factors.passkeyCount(customerId);
    return {
      ...toCustomer(row),
      frozenBy: row.frozen_by,
      kycVerified: row.kyc_verified_at !== null,
      pinSet: row.pin_hash !== null,
      pinLockedUntil:
        row.pin_locked_until && row.pin_locked_until.getTime() > this.#now().getTime() ? row.pin_locked_until : null,
      totpEnabled: row.totp_enabled_at !== null,
      passkeyCount: passkeys,
      createdAt: row.created_at,
    };
  }

  /** The customer a mobile number belongs to, for confirming a payee; null when none (or closed). */
  async findCustomerByPhone(phoneInput: string): Promise<{ customerId: string; maskedName: string | null } | null> {
    const phone = this.#phone(phoneInput);
    const { rows } = await this.#db.query<{ id: string; masked_name: string | null }>(
      `select id, masked_name from identity_customers where phone = $1 and status <> 'closed'`,
      [phone],
    );
    const row = rows[0];
    return row ? { customerId: row.id, maskedName: row.masked_name } : null;
  }

  /**
   * Throws unless the customer may move money now: `account_closed`, `account_frozen`, and with
   * `requireRealName` also `kyc_required` for a customer without KYC.
   */
  async assertCanMoveMoney(customerId: string, options: { requireRealName?: boolean } = {}): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.status === 'closed') throw errors.accountClosed('This account has been closed.');
    if (row.status === 'frozen') {
      throw errors.accountFrozen('This account is frozen; unfreeze it before moving money.', {
        frozenBy: row.frozen_by,
      });
    }
    if (options.requireRealName && row.kyc_verified_at === null) {
      throw errors.kycRequired('Verify your real name (name and resident ID) first.');
    }
  }

  async limitsFor(customerId: string): Promise<Limits> {
    const { account_class: accountClass } = await this.#customerRow(customerId);
    const limits = this.#limits[accountClass];
    return { accountClass, ...limits, yearlyPeriod: accountClass === 'I' ? 'since_opening' : 'calendar_year' };
  }

  /** Raises (never lowers) the account class, e.g. to III after a bound card in the holder's name. */
  async upgradeAccountClass(customerId: string, accountClass: 'II' | 'III', meta: RequestMeta = {}): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.kyc_verified_at === null) throw errors.kycRequired('Class II and III need real-name verification.');
    if (row.account_class === 'III' || row.account_class === accountClass) return;
    await this.#db.transaction(async (tx) => {
      await tx.query('update identity_customers set account_class = $2, updated_at = $3 where id = $1', [
        customerId,
        accountClass,
        this.#now(),
      ]);
      await this.#event(
        tx,
        customerId,
        'account_class_changed',
        meta,
        { from: row.account_class, to: accountClass },
        { before: { accountClass: row.account_class }, after: { accountClass } },
      );
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Payment PIN

  /** Sets the first PIN (registration step 3). */
  async setPin(customerId: string, pin: string, meta: RequestMeta = {}): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.pin_hash !== null) throw errors.pinAlreadySet('A payment PIN is already set; change it instead.');
    await this.#checkPinStrength(row, pin);
    const pinHash = await argon2Hash(pin);
    await this.#db.transaction(async (tx) => {
      const updated = await tx.query(
        `update identity_customers set pin_hash = $2, pin_updated_at = $3, updated_at = $3
          where id = $1 and pin_hash is null`,
        [customerId, pinHash, this.#now()],
      );
      if (updated.affectedRows !== 1) throw errors.pinAlreadySet('A payment PIN is already set; change it instead.');
      await this.#event(tx, customerId, 'pin_set', meta, {}, { before: { pinSet: false }, after: { pinSet: true } });
    });
  }

  async changePin(customerId: string, oldPin: string, newPin: string, meta: RequestMeta = {}): Promise<void> {
    const row = await this.#customerRow(customerId);
    await this.#checkPinStrength(row, newPin);
    await this.verifyPaymentPin(customerId, oldPin);
    await this.#storePin(customerId, newPin, 'pin_changed', meta);
  }

  /**
   * Resets a forgotten PIN with an SMS code (purpose `pin_reset`) and, once KYC is done, the resident ID
   * number. Clears a PIN lock.
   */
  async resetPin(
    customerId: string,
    input: { code: string; idNumber?: string | undefined; newPin: string },
    meta: RequestMeta = {},
  ): Promise<void> {
    const row = await this.#customerRow(customerId);
    await this.#checkPinStrength(row, input.newPin);
    // The code is consumed before the ID is compared, so each ID guess costs a code (5 an hour at most).
    await this.consumeCode(row.phone, 'pin_reset', input.code);
    if (row.id_number_ciphertext !== null) {
      const idNumber = this.#cipher.decrypt(row.id_number_ciphertext, idContext(customerId));
      if ((input.idNumber ?? '').trim().toUpperCase() !== idNumber) {
        await this.recordEvent(customerId, 'pin_reset_refused', meta, { reason: 'id_number_mismatch' });
        throw errors.idNumberMismatch(
          'The resident ID number does not match the one verified for this account; request a new code to try again.',
        );
      }
    }
    await this.#storePin(customerId, input.newPin, 'pin_reset', meta);
  }

  async #storePin(customerId: string, pin: string, event: string, meta: RequestMeta): Promise<void> {
    const pinHash = await argon2Hash(pin);
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `update identity_customers set pin_hash = $2, pin_updated_at = $3, updated_at = $3,
            pin_failed_attempts = 0, pin_locked_until = null where id = $1`,
        [customerId, pinHash, this.#now()],
      );
      await this.#event(tx, customerId, event, meta);
    });
  }

  async #checkPinStrength(row: CustomerRow, pin: string): Promise<void> {
    if (!/^\d{6}$/.test(pin)) throw errors.pinWeak('The payment PIN must be exactly 6 digits.', { reason: 'format' });
    let birthDate: ResidentId['birthDate'] | undefined;
    let idNumber: string | undefined;
    if (row.id_number_ciphertext !== null) {
      idNumber = this.#cipher.decrypt(row.id_number_ciphertext, idContext(row.id));
      const parsed = parseResidentId(idNumber, this.#now());
      if (typeof parsed !== 'string') birthDate = parsed.birthDate;
    }
    const reason = weakPinReason(pin, { birthDate, idNumber, phone: row.phone });
    if (reason) throw errors.pinWeak(weakPinDetail[reason], { reason });
  }

  /**
   * Checks the payment PIN. Each check is counted before comparing; the 5th wrong PIN in a row locks
   * payments for 30 minutes. Throws `pin_not_set`, `pin_locked` (lockedUntil) or `pin_invalid` (attemptsLeft).
   */
  async verifyPaymentPin(customerId: string, pin: string): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.pin_hash === null) throw errors.pinNotSet('Set a payment PIN first.');
    const now = this.#now();
    this.#throwIfLocked(row.pin_locked_until, now);
    const counted = await this.#db.query<{ pin_failed_attempts: number; pin_hash: string }>(
      `update identity_customers set pin_failed_attempts = pin_failed_attempts + 1,
          pin_locked_until = case when pin_locked_until <= $2 then null else pin_locked_until end
        where id = $1 and (pin_locked_until is null or pin_locked_until <= $2)
        returning pin_failed_attempts, pin_hash`,
      [customerId, now],
    );
    const attempt = counted.rows[0];
    if (!attempt) return this.#throwIfLocked((await this.#customerRow(customerId)).pin_locked_until, now);
    if (/^\d{6}$/.test(pin) && (await argon2Verify(attempt.pin_hash, pin))) {
      await this.#db.query('update identity_customers set pin_failed_attempts = 0 where id = $1', [customerId]);
      return;
    }
    const attemptsLeft = this.#policy.pinAttemptsMax - attempt.pin_failed_attempts;
    if (attemptsLeft > 0)
      throw errors.pinInvalid(`Wrong payment PIN; ${attemptsLeft} attempts left.`, { attemptsLeft });
    const lockedUntil = new Date(now.getTime() + this.#policy.pinLockMs);
    await this.#db.transaction(async (tx) => {
      await tx.query('update identity_customers set pin_failed_attempts = 0, pin_locked_until = $2 where id = $1', [
        customerId,
        lockedUntil,
      ]);
      await this.#event(
        tx,
        customerId,
        'pin_locked',
        {},
        { lockedUntil: lockedUntil.toISOString() },
        { after: { pinLockedUntil: lockedUntil.toISOString() } },
      );
    });
    throw errors.pinLocked('Too many wrong PINs; payments are locked.', { lockedUntil: lockedUntil.toISOString() });
  }

  #throwIfLocked(lockedUntil: Date | null, now: Date): void {
    if (lockedUntil && lockedUntil.getTime() > now.getTime()) {
      throw errors.pinLocked('Too many wrong PINs; payments are locked.', { lockedUntil: lockedUntil.toISOString() });
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Real-name KYC

  /** Verifies name and resident ID (format, GB 11643 check character, birth date, age) and makes Class II. */
  async submitKyc(customerId: string, input: { name: string; idNumber: string }, meta: RequestMeta = {}) {
    const row = await this.#customerRow(customerId);
    if (row.kyc_verified_at !== null) throw errors.kycAlreadyVerified('Your identity is already verified.');
    const name = input.name.trim().normalize('NFC');
    if (!isPlausibleName(name)) throw errors.nameInvalid('Enter your name as written on your resident ID.');
    const now = this.#now();
    const parsed = parseResidentId(input.idNumber, now);
    if (typeof parsed === 'string') throw errors.idNumberInvalid(idProblemDetail[parsed], { reason: parsed });
    if (ageOn(parsed.birthDate, now) < this.#policy.kycMinimumAge) {
      throw errors.kycUnderage(`You must be at least ${this.#policy.kycMinimumAge} to open a wallet.`, {
        minimumAge: this.#policy.kycMinimumAge,
      });
    }
    const index = this.#cipher.blindIndex('identity.id_number', parsed.number);
    const maskedName = maskName(name);
    await this.#db
      .transaction(async (tx) => {
        const taken = await tx.query('select 1 from identity_customers where id_number_index = $1 and id <> $2', [
          index,
          customerId,
        ]);
        if (taken.rows.length > 0)
          throw errors.idNumberInUse('This resident ID number is registered to another account.');
        const updated = await tx.query(
          `update identity_customers set real_name_ciphertext = $2, masked_name = $3, id_number_ciphertext = $4,
            id_number_index = $5, kyc_verified_at = $6, updated_at = $6,
            account_class = case when account_class = 'I' then 'II' else account_class end
          where id = $1 and kyc_verified_at is null`,
          [
            customerId,
            this.#cipher.encrypt(name, nameContext(customerId)),
            maskedName,
            this.#cipher.encrypt(parsed.number, idContext(customerId)),
            index,
            now,
          ],
        );
        if (updated.affectedRows !== 1) throw errors.kycAlreadyVerified('Your identity is already verified.');
        await this.#event(
          tx,
          customerId,
          'kyc_verified',
          meta,
          { accountClass: 'II' },
          {
            before: { kycVerified: false, accountClass: row.account_class },
            after: {
              kycVerified: true,
              accountClass: row.account_class === 'I' ? 'II' : row.account_class,
              maskedName,
            },
          },
        );
      })
      .catch((error: unknown) => {
        // Two accounts verifying the same ID at once: the unique blind index lets one win.
        if (pgErrorCode(error) === '23505') {
          throw errors.idNumberInUse('This resident ID number is registered to another account.');
        }
        throw error;
      });
    return { accountClass: 'II' as AccountClass, maskedName };
  }

  // ---------------------------------------------------------------------------------------------
  // Freeze, unfreeze, close

  /** The customer freezes their own account (e.g. a lost phone), after a step-up proof. */
  async freezeByCustomer(customerId: string, proof: StepUpProof, meta: RequestMeta = {}): Promise<void> {
    await this.requireStepUp(customerId, proof);
    await this.#setFrozen(customerId, 'customer', meta, {});
  }

  /** The customer unfreezes an account they froze themselves; the bank's freezes are the bank's to lift. */
  async unfreezeByCustomer(customerId: string, proof: StepUpProof, meta: RequestMeta = {}): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.status === 'frozen' && row.frozen_by === 'operations') {
      throw errors.frozenByOperations('The bank froze this account; contact customer service.');
    }
    await this.requireStepUp(customerId, proof);
    await this.#setUnfrozen(customerId, 'customer', meta, {});
  }

  async freezeByOperations(customerId: string, input: { reason: string; operatorId: string }): Promise<void> {
    await this.#setFrozen(customerId, 'operations', {}, input);
  }

  async unfreezeByOperations(customerId: string, input: { reason: string; operatorId: string }): Promise<void> {
    await this.#setUnfrozen(customerId, 'operations', {}, input);
  }

  async #setFrozen(
    customerId: string,
    by: 'customer' | 'operations',
    meta: RequestMeta,
    detail: { reason?: string; operatorId?: string },
  ) {
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      const row = await this.#customerRowBy(tx, 'id', customerId, true);
      if (row.status === 'closed') throw errors.accountClosed('This account has been closed.');
      // A bank freeze overrides a customer's; a customer's freeze never downgrades the bank's.
      if (row.status === 'frozen' && (row.frozen_by === 'operations' || by === 'customer')) return;
      await tx.query(
        `update identity_customers set status = 'frozen', frozen_by = $2, frozen_at = $3, updated_at = $3 where id = $1`,
        [customerId, by, now],
      );
      await this.#event(
        tx,
        customerId,
        'frozen',
        meta,
        { by, ...detail },
        {
          before: { status: row.status, frozenBy: row.frozen_by },
          after: { status: 'frozen', frozenBy: by },
          ...(detail.operatorId ? { actor: { type: 'staff' as const, id: detail.operatorId } } : {}),
        },
      );
    });
  }

  async #setUnfrozen(
    customerId: string,
    by: 'customer' | 'operations',
    meta: RequestMeta,
    detail: { reason?: string; operatorId?: string },
  ) {
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      const row = await this.#customerRowBy(tx, 'id', customerId, true);
      if (row.status !== 'frozen') return;
      if (by === 'customer' && row.frozen_by === 'operations') {
        throw errors.frozenByOperations('The bank froze this account; contact customer service.');
      }
      await tx.query(
        `update identity_customers set status = 'active', frozen_by = null, frozen_at = null, updated_at = $2 where id = $1`,
        [customerId, now],
      );
      await this.#event(
        tx,
        customerId,
        'unfrozen',
        meta,
        { by, ...detail },
        {
          before: { status: row.status, frozenBy: row.frozen_by },
          after: { status: 'active', frozenBy: null },
          ...(detail.operatorId ? { actor: { type: 'staff' as const, id: detail.operatorId } } : {}),
        },
      );
    });
  }

  /**
   * Closes an account for good. Only at a zero balance: the caller (the wallet, which owns balances)
   * passes `balanceOf`; a non-zero balance is `balance_not_zero`. Every session ends.
   */
  async closeAccount(
    customerId: string,
    balanceOf: (customerId: string) => Promise<bigint>,
    meta: RequestMeta = {},
  ): Promise<void> {
    const row = await this.#customerRow(customerId);
    if (row.status === 'closed') return;
    if (row.status === 'frozen') throw errors.accountFrozen('Unfreeze the account before closing it.');
    const balance = await balanceOf(customerId);
    if (balance !== 0n) {
      throw errors.balanceNotZero('Withdraw or spend the whole balance before closing the account.', {
        balance: Number(balance),
      });
    }
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `update identity_customers set status = 'closed', closed_at = $2, updated_at = $2 where id = $1 and status = 'active'`,
        [customerId, now],
      );
      await tx.query('update identity_sessions set revoked_at = $2 where customer_id = $1 and revoked_at is null', [
        customerId,
        now,
      ]);
      await this.#event(
        tx,
        customerId,
        'closed',
        meta,
        {},
        { before: { status: 'active' }, after: { status: 'closed' } },
      );
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Step-up

  /** Accepts one proof (PIN, SMS code, TOTP code or passkey assertion) or throws that factor's error. */
  async requireStepUp(customerId: string, proof: StepUpProof): Promise<void> {
    await this.factors.verify(customerId, proof);
  }

  // ---------------------------------------------------------------------------------------------
  // Events and helpers

  /** The identity event log, newest first (until the platform audit trail exists). */
  async events(customerId: string, limit = 50): Promise<{ kind: string; createdAt: Date; detail: unknown }[]> {
    const { rows } = await this.#db.query<{ kind: string; created_at: Date; detail: string }>(
      `select kind, created_at, detail from identity_events where customer_id = $1
        order by created_at desc, id desc limit $2`,
      [customerId, Math.min(Math.max(limit, 1), 500)],
    );
    return rows.map((row) => ({
      kind: row.kind,
      createdAt: row.created_at,
      detail: JSON.parse(row.detail) as unknown,
    }));
  }

  /** Writes the event and its audit record; call it last in the transaction (the audit chain's lock). */
  async #event(
    tx: SqlExecutor,
    customerId: string,
    kind: string,
    meta: RequestMeta,
    detail: Record<string, AuditJson | undefined> = {},
    change: { before?: AuditJson; after?: AuditJson; actor?: AuditActor } = {},
  ) {
    await tx.query(
      `insert into identity_events (id, customer_id, kind, device_id, ip, detail, created_at)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [newId(), customerId, kind, meta.deviceId ?? null, meta.ip ?? null, JSON.stringify(detail), this.#now()],
    );
    await this.#audit.record(tx, {
      action: `identity.${kind}`,
      actor: change.actor ?? { type: 'customer', id: customerId },
      subject: { type: 'customer', id: customerId },
      before: change.before,
      after: change.after,
      detail: { ...detail, deviceId: meta.deviceId ?? null, network: maskIp(meta.ip) },
    });
  }

  async recordEvent(
    customerId: string,
    kind: string,
    meta: RequestMeta,
    detail: Record<string, AuditJson | undefined> = {},
  ): Promise<void> {
    await this.#db.transaction((tx) => this.#event(tx, customerId, kind, meta, detail));
  }

  #phone(input: string): string {
    const phone = normalizePhone(input);
    if (!phone) {
      throw errors.phoneInvalid('Enter a mobile number in international format, e.g. +8613800138000.');
    }
    return phone;
  }

  async #customerRow(customerId: string): Promise<CustomerRow> {
    return this.#customerRowBy(this.#db, 'id', customerId);
  }

  async #customerRowBy(
    executor: SqlExecutor,
    column: 'id' | 'phone',
    value: string,
    forUpdate = false,
  ): Promise<CustomerRow> {
    const { rows } = await executor.query<CustomerRow>(
      `select ${CUSTOMER_COLUMNS} from identity_customers where ${column} = $1${forUpdate ? ' for update' : ''}`,
      [value],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('No such customer.');
    return { ...row, pin_failed_attempts: Number(row.pin_failed_attempts) };
  }
}

function toCustomer(row: CustomerRow): Customer {
  return {
    customerId: row.id,
    phone: row.phone,
    status: row.status,
    accountClass: row.account_class,
    maskedName: row.masked_name,
  };
}

function guessDeviceName(userAgent: string | undefined): string {
  if (!userAgent) return 'Unknown device';
  if (/iPhone/.test(userAgent)) return 'iPhone';
  if (/iPad/.test(userAgent)) return 'iPad';
  if (/Android/.test(userAgent)) return 'Android phone';
  if (/Macintosh/.test(userAgent)) return 'Mac';
  if (/Windows/.test(userAgent)) return 'Windows PC';
  return 'Browser';
}

const weakPinDetail: Record<NonNullable<ReturnType<typeof weakPinReason>>, string> = {
  repeated: 'A PIN of one repeated digit is too easy to guess.',
  sequence: 'A PIN of consecutive digits is too easy to guess.',
  pattern: 'A PIN made of a repeated pattern is too easy to guess.',
  birthday: 'A PIN made from your date of birth is too easy to guess.',
  id_number: 'A PIN made from your resident ID number is too easy to guess.',
  phone: 'A PIN made from your mobile number is too easy to guess.',
};

const idProblemDetail: Record<'format' | 'check_character' | 'birth_date', string> = {
  format: 'A resident ID number has 17 digits and a final digit or X.',
  check_character: 'The resident ID number is mistyped: its check character does not match (GB 11643).',
  birth_date: 'The resident ID number does not contain a valid date of birth.',
};
