/**
 * Customer-presented payment codes (付款码). A wallet device enrols and gets a secret once; it then shows
 * an 18-digit code (prefix, device index, 8-digit TOTP) derived offline. A cashier charges a code with an
 * amount: at or under the no-PIN limit and within the customer's daily no-PIN cap the payment posts at
 * once through the wallet's checks; above either the charge waits up to two minutes for the customer to
 * confirm with the PIN on the phone. Codes are single use per (enrolment, time step), accepted for the
 * current and the previous step only, and failed guesses lock the enrolment and throttle the merchant.
 * ADR 0011 explains the choices. Knows nothing of HTTP.
 */
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Database, SqlExecutor } from '@yika/db';
import { isUuid, newId } from '@yika/ledger';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { once, type StoredResponse } from '../../platform/idempotency.js';
import type { DataCipher } from '../../platform/crypto.js';
import type { StepUpProof } from '../identity/index.js';
import { CNY, type MerchantsService, type MerchantView } from '../merchants/index.js';
import type { PaymentCodeCapability, WalletService } from '../wallet/index.js';
import {
  PAYMENT_AMOUNT_MAX,
  paymentCodePaymentId,
  type PaymentsService,
  type PaymentView,
} from './payments.service.js';
import {
  DEVICE_INDEX_DIGITS,
  OTP_DIGITS,
  OTP_STEP_SECONDS,
  parsePaymentCode,
  PAYMENT_CODE_PREFIX,
  SECRET_BYTES,
  timeStep,
  totp,
} from './payment-codes.totp.js';

/** Codes of the current and the previous step are accepted: at most two minutes old. */
export const ACCEPTED_PAST_STEPS = 1;
/** A code up to this many steps old is answered `payment_code_expired` rather than `payment_code_invalid`. */
export const RECOGNISED_PAST_STEPS = 60;
/** An unconfirmed charge above the no-PIN limit expires after this long. */
export const CONFIRMATION_TTL_MS = 120_000;
/** Consecutive failed codes for one enrolment before it is locked (the customer re-enrols to unlock). */
export const ENROLMENT_FAILURES_MAX = 5;
/** Failed codes one merchant may send within the window before it is throttled. */
export const MERCHANT_FAILURES_MAX = 20;
export const MERCHANT_FAILURE_WINDOW_MS = 10 * 60_000;
/** Enrolled devices per customer: enrolling another replaces the oldest. */
export const DEVICES_PER_CUSTOMER_MAX = 5;
export const CONFIRMATIONS_LIST_MAX = 20;
const DEVICE_INDEX_ATTEMPTS_MAX = 8;

export class PaymentCodeError extends DomainError {}

const problem = (code: string, status: number, title: string, detail: string, extensions?: Record<string, unknown>) =>
  new PaymentCodeError({ code, status, title, detail, ...(extensions ? { extensions } : {}) });

/** A code that did not verify: counted against the enrolment and the merchant once the transaction is gone. */
class CodeFailure extends PaymentCodeError {
  constructor(
    readonly enrolmentId: string | null,
    readonly countsAsGuess: boolean,
    options: ConstructorParameters<typeof DomainError>[0],
  ) {
    super(options);
  }
}

const failures = {
  unknown: () =>
    new CodeFailure(null, true, {
      code: 'payment_code_unknown',
      status: 422,
      title: 'Unknown payment code',
      detail: 'No enrolled device has this code: ask the customer to refresh the code.',
    }),
  replaced: (enrolmentId: string) =>
    new CodeFailure(enrolmentId, false, {
      code: 'payment_code_device_replaced',
      status: 422,
      title: 'Device no longer enrolled',
      detail:
        'This code comes from a device whose enrolment was replaced: ask the customer to open the pay code again.',
    }),
  signedOut: (enrolmentId: string) =>
    new CodeFailure(enrolmentId, false, {
      code: 'payment_code_device_signed_out',
      status: 422,
      title: 'Device signed out',
      detail: 'This code comes from a device that was signed out of the wallet: it can no longer pay.',
    }),
  invalid: (enrolmentId: string) =>
    new CodeFailure(enrolmentId, true, {
      code: 'payment_code_invalid',
      status: 422,
      title: 'Invalid payment code',
      detail: 'This code was not made by the device it names: ask the customer to show the code again.',
    }),
  expired: (enrolmentId: string) =>
    new CodeFailure(enrolmentId, false, {
      code: 'payment_code_expired',
      status: 422,
      title: 'Payment code expired',
      detail: 'This code is more than two minutes old: ask the customer to show the current code.',
    }),
};

const used = () =>
  problem(
    'payment_code_used',
    409,
    'Payment code already used',
    'Each code pays once: ask the customer for a new one.',
  );

/**
 * `in_review`: the payment was made but the risk engine holds its money for an analyst (then `succeeded`
 * or `failed`, nothing paid).
 */
export type ChargeStatus = 'succeeded' | 'awaiting_confirmation' | 'declined' | 'expired' | 'in_review' | 'failed';
type PaymentStatus = PaymentView['status'];

export interface ChargeView {
  id: string;
  status: ChargeStatus;
  amount: number;
  paymentId: string | null;
  /** Until when the customer may confirm (awaiting charges); null otherwise. */
  expiresAt: string | null;
  createdAt: string;
}

export interface ConfirmationView extends ChargeView {
  merchantName: string;
  currency: string;
  note: string | null;
}

export interface Enrolment {
  deviceIndex: string;
  /** The device's secret, hex; shown once. */
  secret: string;
  prefix: string;
  algorithm: 'SHA-1';
  digits: number;
  periodSeconds: number;
  createdAt: string;
}

export interface DeviceStatus {
  enrolled: boolean;
  deviceIndex: string | null;
  status: 'active' | 'locked' | null;
}

interface DeviceRow {
  id: string;
  customer_id: string;
  device_id: string;
  device_index: string;
  secret_ciphertext: string;
  status: 'active' | 'locked' | 'replaced';
  failed_attempts: number;
}

interface ChargeRow {
  id: string;
  merchant_id: string;
  customer_id: string;
  amount: string | number | bigint;
  currency: string;
  note: string | null;
  status: 'succeeded' | 'awaiting_confirmation' | 'declined';
  payment_id: string | null;
  expires_at: Date | string;
  created_at: Date | string;
}

/** Identity's answer to "is this device still signed in?" (a signed-out device's codes stop working). */
export interface DeviceSessions {
  isDeviceActive(customerId: string, deviceId: string): Promise<boolean>;
  /** Throws `pin_invalid` / `pin_locked` as the wallet does. */
  verifyPaymentPin(customerId: string, pin: string): Promise<void>;
}

export interface PaymentCodesServiceOptions {
  db: Database;
  devices: DeviceSessions;
  cipher: DataCipher;
  wallet: WalletService;
  payments: PaymentsService;
  merchants: MerchantsService;
  /** Issued once by the wallet: lets a verified code stand in for the PIN. */
  capability: PaymentCodeCapability;
  /** Charges of at most this many fen post without the PIN… */
  noPinLimit: bigint;
  /** …while the customer's no-PIN charges of the business day stay within this. */
  dailyNoPinCap: bigint;
  timeZone?: string;
  now?: () => Date;
}

export class PaymentCodesService {
  readonly #db: Database;
  readonly #devices: DeviceSessions;
  readonly #cipher: DataCipher;
  readonly #wallet: WalletService;
  readonly #payments: PaymentsService;
  readonly #merchants: MerchantsService;
  readonly #capability: PaymentCodeCapability;
  readonly #noPinLimit: bigint;
  readonly #dailyNoPinCap: bigint;
  readonly #timeZone: string;
  readonly #now: () => Date;

  constructor(options: PaymentCodesServiceOptions) {
    this.#db = options.db;
    this.#devices = options.devices;
    this.#cipher = options.cipher;
    this.#wallet = options.wallet;
    this.#payments = options.payments;
    this.#merchants = options.merchants;
    this.#capability = options.capability;
    this.#noPinLimit = options.noPinLimit;
    this.#dailyNoPinCap = options.dailyNoPinCap;
    this.#timeZone = options.timeZone ?? 'Asia/Shanghai';
    this.#now = options.now ?? (() => new Date());
  }

  // ---- devices (wallet) ----

  /** Enrols this session's device: a new secret and index, shown once; the device's earlier enrolment ends. */
  async enrol(customer: { customerId: string; deviceId: string }, pin: string): Promise<Enrolment> {
    // An enrolled device spends without the PIN up to the limit: enrolling it takes the PIN.
    await this.#devices.verifyPaymentPin(customer.customerId, pin);
    const secret = randomBytes(SECRET_BYTES);
    const id = newId();
    const now = this.#now();
    return this.#db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended($1, 0))`, [`payment-codes:${customer.customerId}`]);
      await tx.query(
        `update payment_code_devices set status = 'replaced', ended_at = $3
         where customer_id = $1 and device_id = $2 and status <> 'replaced'`,
        [customer.customerId, customer.deviceId, now],
      );
      // Keep at most DEVICES_PER_CUSTOMER_MAX enrolments: the oldest beyond make room for this one.
      await tx.query(
        `update payment_code_devices set status = 'replaced', ended_at = $3 where id in (
           select id from payment_code_devices where customer_id = $1 and status <> 'replaced'
           order by created_at desc offset $2)`,
        [customer.customerId, DEVICES_PER_CUSTOMER_MAX - 1, now],
      );
      const ciphertext = this.#cipher.encrypt(secret.toString('hex'), `payment-code:${id}`);
      const deviceIndex = await this.#insertWithFreshIndex(tx, id, customer, ciphertext, now);
      return {
        deviceIndex,
        secret: secret.toString('hex'),
        prefix: PAYMENT_CODE_PREFIX,
        algorithm: 'SHA-1' as const,
        digits: OTP_DIGITS,
        periodSeconds: OTP_STEP_SECONDS,
        createdAt: now.toISOString(),
      };
    });
  }

  async #insertWithFreshIndex(
    tx: SqlExecutor,
    id: string,
    customer: { customerId: string; deviceId: string },
    ciphertext: string,
    now: Date,
  ): Promise<string> {
    for (let attempt = 0; attempt < DEVICE_INDEX_ATTEMPTS_MAX; attempt += 1) {
      const deviceIndex = String(randomInt(0, 10 ** DEVICE_INDEX_DIGITS)).padStart(DEVICE_INDEX_DIGITS, '0');
      const { rows } = await tx.query<{ id: string }>(
        `insert into payment_code_devices (id, customer_id, device_id, device_index, secret_ciphertext, status, created_at)
         values ($1, $2, $3, $4, $5, 'active', $6) on conflict (device_index) do nothing returning id`,
        [id, customer.customerId, customer.deviceId, deviceIndex, ciphertext, now],
      );
      if (rows.length === 1) return deviceIndex;
    }
    // 10^8 indexes: eight collisions in a row means the space is nearly full, an operating limit to raise.
    throw new Error('no free payment-code device index after several attempts');
  }

  /** Whether this session's device is enrolled (the app re-enrols when its stored index is not the one here). */
  async device(customer: { customerId: string; deviceId: string }): Promise<DeviceStatus> {
    const { rows } = await this.#db.query<{ device_index: string; status: 'active' | 'locked' }>(
      `select device_index, status from payment_code_devices
       where customer_id = $1 and device_id = $2 and status <> 'replaced' order by created_at desc limit 1`,
      [customer.customerId, customer.deviceId],
    );
    const row = rows[0];
    return row
      ? { enrolled: row.status === 'active', deviceIndex: row.device_index, status: row.status }
      : { enrolled: false, deviceIndex: null, status: null };
  }

  // ---- charges (cashier) ----

  /**
   * Charges a scanned or typed code. Exactly once per Idempotency-Key: a retry replays the first answer
   * (the code is spent by then, so it must not be verified again).
   */
  async charge(
    merchantId: string,
    input: { code: string; amount: bigint; storeId?: string | undefined; note?: string | undefined },
    idempotencyKey: string,
  ): Promise<StoredResponse<ChargeView> & { replayed: boolean }> {
    checkAmount(input.amount);
    const parsed = parsePaymentCode(input.code);
    if (!parsed) {
      throw problem(
        'payment_code_malformed',
        422,
        'Not a payment code',
        `A payment code is ${18} digits starting with ${PAYMENT_CODE_PREFIX}.`,
      );
    }
    const merchant = await this.#merchants.activeMerchant(merchantId);
    // A charge names one of this merchant's open stores, or none.
    if (input.storeId !== undefined) await this.#merchants.openStore(merchantId, input.storeId);
    await this.#throttle(merchantId);
    const request = {
      code: `${PAYMENT_CODE_PREFIX}${parsed.deviceIndex}${parsed.otp}`,
      amount: input.amount,
      storeId: input.storeId ?? null,
      note: input.note ?? null,
    };
    try {
      const device = await this.#deviceByIndex(parsed.deviceIndex);
      const charge = { ...input, merchantId, device, otp: parsed.otp, id: newId() };
      const scope = `payments.code-charge:${merchantId}`;
      // Above the limit no money moves now: the charge waits for the customer's PIN.
      const awaiting = () =>
        this.#db.transaction((tx) =>
          once(tx, `${scope}:${device.customer_id}`, idempotencyKey, request, async () => {
            await this.#spend(tx, charge);
            return this.#insertCharge(tx, charge, null);
          }),
        );
      if (input.amount > this.#noPinLimit) return await awaiting();
      try {
        return await this.#payWithoutPin(scope, charge, merchant, request, idempotencyKey);
      } catch (error) {
        // The risk engine wants the customer's own confirmation (PIN and a second factor): ask on the phone.
        // The refused attempt rolled back, the code's use included, so the same code makes the charge.
        if (error instanceof DomainError && error.code === 'step_up_required') return await awaiting();
        throw error;
      }
    } catch (error) {
      if (error instanceof CodeFailure) await this.#recordFailure(merchantId, error);
      throw error;
    }
  }

  async #payWithoutPin(
    scope: string,
    charge: {
      id: string;
      merchantId: string;
      device: DeviceRow;
      otp: string;
      amount: bigint;
      storeId?: string | undefined;
      note?: string | undefined;
    },
    merchant: MerchantView,
    request: object,
    idempotencyKey: string,
  ): Promise<StoredResponse<ChargeView> & { replayed: boolean }> {
    const { device } = charge;
    return this.#wallet.payMerchant(
      device.customer_id,
      { amount: charge.amount, authorization: { kind: 'payment_code', capability: this.#capability } },
      {
        scope,
        idempotencyKey,
        request,
        // Runs under the customer's lock: the no-PIN cap sees every earlier charge.
        run: async (tx, payerAccountId) => {
          await this.#spend(tx, charge);
          const spent = await this.#noPinSpentToday(tx, device.customer_id);
          if (spent + charge.amount > this.#dailyNoPinCap) return this.#insertCharge(tx, charge, null);
          const payment = await this.#payments.recordPaymentCodePayment(tx, {
            chargeId: charge.id,
            merchant,
            customerId: device.customer_id,
            payerAccountId,
            amount: charge.amount,
          });
          return this.#insertCharge(tx, charge, payment.status);
        },
      },
    );
  }

  async chargeView(merchantId: string, chargeId: string): Promise<ChargeView> {
    const row = await this.#loadCharge(this.#db, chargeId);
    if (!row || row.merchant_id !== merchantId) throw new NotFoundError('No such charge.');
    return this.#view(row, await this.#paymentStatus(row));
  }

  /** A charge's payment's state is its transfers' (held for risk review, posted, or voided). */
  async #paymentStatus(row: ChargeRow): Promise<PaymentStatus | null> {
    if (row.payment_id === null) return null;
    return (await this.#payments.payment(row.merchant_id, row.payment_id)).status;
  }

  async #deviceByIndex(deviceIndex: string): Promise<DeviceRow> {
    const { rows } = await this.#db.query<DeviceRow>(`select * from payment_code_devices where device_index = $1`, [
      deviceIndex,
    ]);
    const device = rows[0];
    if (!device) throw failures.unknown();
    if (device.status === 'replaced') throw failures.replaced(device.id);
    if (device.status === 'locked') throw lockedProblem();
    // Signing a device out (a lost phone) ends what it can pay, offline codes included.
    if (!(await this.#devices.isDeviceActive(device.customer_id, device.device_id)))
      throw failures.signedOut(device.id);
    return device;
  }

  /**
   * Verifies the OTP against the enrolment's secret and spends it: the (enrolment, step) row is the
   * single-use rule. `on conflict do nothing` waits for a concurrent spender to commit, then sees its row.
   */
  async #spend(tx: SqlExecutor, charge: { id: string; device: DeviceRow; otp: string }): Promise<void> {
    const { device } = charge;
    // Re-read under lock: a concurrent failure may have locked it, a re-enrolment replaced it.
    const { rows } = await tx.query<DeviceRow>(`select * from payment_code_devices where id = $1 for update`, [
      device.id,
    ]);
    const current = rows[0];
    if (!current || current.status === 'replaced') throw failures.replaced(device.id);
    if (current.status === 'locked') throw lockedProblem();
    const secret = Buffer.from(this.#cipher.decrypt(current.secret_ciphertext, `payment-code:${device.id}`), 'hex');
    const step = matchingStep(secret, charge.otp, this.#now().getTime());
    if (step === null) throw failures.invalid(device.id);
    const nowStep = timeStep(this.#now().getTime());
    if (nowStep - step > BigInt(ACCEPTED_PAST_STEPS)) throw failures.expired(device.id);
    const inserted = await tx.query(
      `insert into payment_code_uses (enrolment_id, step, charge_id, created_at) values ($1, $2, $3, $4)
       on conflict (enrolment_id, step) do nothing returning step`,
      [device.id, step.toString(), charge.id, this.#now()],
    );
    if (inserted.rows.length !== 1) throw used();
    if (current.failed_attempts > 0) {
      await tx.query(`update payment_code_devices set failed_attempts = 0 where id = $1`, [device.id]);
    }
  }

  async #insertCharge(
    tx: SqlExecutor,
    charge: {
      id: string;
      merchantId: string;
      device: DeviceRow;
      amount: bigint;
      storeId?: string | undefined;
      note?: string | undefined;
    },
    /** The state of the charge's payment, or null: no payment yet, the customer confirms. */
    payment: PaymentStatus | null,
  ): Promise<StoredResponse<ChargeView>> {
    const now = this.#now();
    const paid = payment !== null;
    const { rows } = await tx.query<ChargeRow>(
      `insert into payment_code_charges (id, merchant_id, customer_id, enrolment_id, store_id, note, amount, currency,
         status, authorized_by, payment_id, expires_at, created_at, completed_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) returning *`,
      [
        charge.id,
        charge.merchantId,
        charge.device.customer_id,
        charge.device.id,
        charge.storeId ?? null,
        charge.note ?? null,
        charge.amount.toString(),
        CNY.code,
        paid ? 'succeeded' : 'awaiting_confirmation',
        paid ? 'payment_code' : null,
        paid ? paymentCodePaymentId(charge.id) : null,
        new Date(now.getTime() + CONFIRMATION_TTL_MS),
        now,
        paid ? now : null,
      ],
    );
    return { status: 201, body: this.#view(rows[0]!, payment) };
  }

  async #noPinSpentToday(tx: SqlExecutor, customerId: string): Promise<bigint> {
    const { rows } = await tx.query<{ spent: string | null }>(
      `select sum(amount)::text as spent from payment_code_charges
       where customer_id = $1 and status = 'succeeded' and authorized_by = 'payment_code'
         and (created_at at time zone $2)::date = ($3::timestamptz at time zone $2)::date`,
      [customerId, this.#timeZone, this.#now()],
    );
    return BigInt(rows[0]?.spent ?? 0);
  }

  /** Too many failed codes from one merchant lately: refuse before even looking at the code. */
  async #throttle(merchantId: string): Promise<void> {
    const { rows } = await this.#db.query<{ count: number }>(
      `select count(*)::int as count from payment_code_failures where merchant_id = $1 and created_at > $2`,
      [merchantId, new Date(this.#now().getTime() - MERCHANT_FAILURE_WINDOW_MS)],
    );
    if ((rows[0]?.count ?? 0) >= MERCHANT_FAILURES_MAX) {
      throw problem(
        'payment_code_rate_limited',
        429,
        'Too many failed payment codes',
        `More than ${MERCHANT_FAILURES_MAX} failed codes in ${MERCHANT_FAILURE_WINDOW_MS / 60_000} minutes: wait before trying again.`,
      );
    }
  }

  /** Outside the refused transaction, so the count survives its rollback. */
  async #recordFailure(merchantId: string, failure: CodeFailure): Promise<void> {
    const now = this.#now();
    await this.#db.transaction(async (tx) => {
      await tx.query(
        `insert into payment_code_failures (merchant_id, enrolment_id, reason, created_at) values ($1, $2, $3, $4)`,
        [merchantId, failure.enrolmentId, failure.code, now],
      );
      // Old rows say nothing about the window any more: trimmed as we go so the table stays small.
      await tx.query(`delete from payment_code_failures where merchant_id = $1 and created_at < $2`, [
        merchantId,
        new Date(now.getTime() - 2 * MERCHANT_FAILURE_WINDOW_MS),
      ]);
      if (failure.enrolmentId !== null && failure.countsAsGuess) {
        await tx.query(
          `update payment_code_devices set failed_attempts = failed_attempts + 1,
             status = case when failed_attempts + 1 >= $2 and status = 'active' then 'locked' else status end,
             ended_at = case when failed_attempts + 1 >= $2 and status = 'active' then $3 else ended_at end
           where id = $1`,
          [failure.enrolmentId, ENROLMENT_FAILURES_MAX, now],
        );
      }
    });
  }

  // ---- confirmations (wallet) ----

  /** Charges above the no-PIN limit or cap waiting for this customer, newest first. */
  async confirmations(customerId: string): Promise<ConfirmationView[]> {
    const { rows } = await this.#db.query<ChargeRow>(
      `select * from payment_code_charges where customer_id = $1 and status = 'awaiting_confirmation' and expires_at > $2
       order by created_at desc limit $3`,
      [customerId, this.#now(), CONFIRMATIONS_LIST_MAX],
    );
    return Promise.all(rows.map((row) => this.#confirmationView(row)));
  }

  async confirmation(customerId: string, chargeId: string): Promise<ConfirmationView> {
    const row = await this.#loadCharge(this.#db, chargeId);
    if (!row || row.customer_id !== customerId) throw new NotFoundError('No such charge.');
    return this.#confirmationView(row);
  }

  /** The customer confirms with the PIN (and a second factor for large amounts): the payment posts now. */
  async confirm(
    customerId: string,
    chargeId: string,
    input: { pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ): Promise<StoredResponse<ConfirmationView> & { replayed: boolean }> {
    const row = await this.#loadCharge(this.#db, chargeId);
    if (!row || row.customer_id !== customerId) throw new NotFoundError('No such charge.');
    // Said before the PIN is asked, checked again under the lock. A succeeded charge is left to that check:
    // a retry of the confirmation that paid it must replay its answer.
    if (row.status !== 'succeeded') this.#assertAwaiting(row);
    const amount = BigInt(row.amount);
    // Read before the wallet's transaction: nothing inside it may wait on a query outside it.
    const merchant = await this.#merchants.get(row.merchant_id);
    return this.#wallet.payMerchant(
      customerId,
      { amount, authorization: { kind: 'pin', pin: input.pin, stepUp: input.stepUp } },
      {
        scope: 'payments.code-confirm',
        idempotencyKey,
        request: { chargeId },
        run: async (tx, payerAccountId) => {
          const locked = await this.#loadCharge(tx, chargeId, true);
          if (!locked) throw new NotFoundError('No such charge.');
          this.#assertAwaiting(locked);
          const payment = await this.#payments.recordPaymentCodePayment(tx, {
            chargeId,
            merchant,
            customerId,
            payerAccountId,
            amount,
          });
          const { rows } = await tx.query<ChargeRow>(
            `update payment_code_charges set status = 'succeeded', authorized_by = 'pin', payment_id = $2, completed_at = $3
             where id = $1 returning *`,
            [chargeId, paymentCodePaymentId(chargeId), this.#now()],
          );
          return { status: 200, body: this.#confirmationViewOf(rows[0]!, merchant.displayName, payment.status) };
        },
      },
    );
  }

  /** The customer declines: nothing is paid. Declining a declined charge answers the same. */
  async decline(customerId: string, chargeId: string): Promise<ConfirmationView> {
    const row = await this.#db.transaction(async (tx) => {
      const locked = await this.#loadCharge(tx, chargeId, true);
      if (!locked || locked.customer_id !== customerId) throw new NotFoundError('No such charge.');
      if (locked.status === 'declined') return locked;
      this.#assertAwaiting(locked);
      const { rows } = await tx.query<ChargeRow>(
        `update payment_code_charges set status = 'declined', completed_at = $2 where id = $1 returning *`,
        [chargeId, this.#now()],
      );
      return rows[0]!;
    });
    return this.#confirmationView(row);
  }

  #assertAwaiting(row: ChargeRow): void {
    const status = this.#status(row);
    if (status === 'awaiting_confirmation') return;
    if (status === 'expired') {
      throw problem('charge_expired', 409, 'Charge expired', 'This charge was not confirmed within two minutes.');
    }
    throw problem('charge_not_awaiting', 409, 'Charge not awaiting confirmation', `This charge is ${status}.`, {
      status,
    });
  }

  // ---- views ----

  async #loadCharge(executor: SqlExecutor, chargeId: string, lock = false): Promise<ChargeRow | undefined> {
    if (!isUuid(chargeId)) return undefined;
    const { rows } = await executor.query<ChargeRow>(
      `select * from payment_code_charges where id = $1${lock ? ' for update' : ''}`,
      [chargeId],
    );
    return rows[0];
  }

  #status(row: ChargeRow, payment: PaymentStatus | null = null): ChargeStatus {
    if (row.status === 'awaiting_confirmation' && new Date(row.expires_at).getTime() <= this.#now().getTime()) {
      return 'expired';
    }
    if (row.status === 'succeeded' && payment !== null && payment !== 'succeeded') {
      return payment === 'failed' ? 'failed' : 'in_review';
    }
    return row.status;
  }

  #view(row: ChargeRow, payment: PaymentStatus | null): ChargeView {
    const status = this.#status(row, payment);
    return {
      id: row.id,
      status,
      amount: Number(row.amount),
      paymentId: row.payment_id,
      expiresAt: status === 'awaiting_confirmation' ? new Date(row.expires_at).toISOString() : null,
      createdAt: new Date(row.created_at).toISOString(),
    };
  }

  async #confirmationView(row: ChargeRow): Promise<ConfirmationView> {
    const merchant = await this.#merchants.get(row.merchant_id);
    return this.#confirmationViewOf(row, merchant.displayName, await this.#paymentStatus(row));
  }

  #confirmationViewOf(row: ChargeRow, merchantName: string, payment: PaymentStatus | null): ConfirmationView {
    return { ...this.#view(row, payment), merchantName, currency: row.currency, note: row.note };
  }
}

/** The step (current or up to RECOGNISED_PAST_STEPS back) whose OTP equals `otp`, compared in constant time. */
function matchingStep(secret: Buffer, otp: string, nowMs: number): bigint | null {
  const given = Buffer.from(otp);
  for (let back = 0; back <= RECOGNISED_PAST_STEPS; back += 1) {
    const at = nowMs - back * OTP_STEP_SECONDS * 1000;
    if (timingSafeEqual(Buffer.from(totp(secret, at)), given)) return timeStep(at);
  }
  return null;
}

function lockedProblem() {
  return problem(
    'payment_code_locked',
    423,
    'Payment code locked',
    `After ${ENROLMENT_FAILURES_MAX} wrong codes this device's payment code is locked: the customer opens the pay code again to re-enrol.`,
  );
}

function checkAmount(amount: bigint): void {
  if (amount <= 0n || amount > PAYMENT_AMOUNT_MAX) {
    throw problem(
      'amount_out_of_range',
      422,
      'Amount out of range',
      `The amount must be between 1 and ${PAYMENT_AMOUNT_MAX} fen.`,
    );
  }
}
