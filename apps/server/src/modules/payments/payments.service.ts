/**
 * Collecting money for merchants: merchant-presented QR codes (static and dynamic), online checkout
 * orders, payments and refunds. A payment is one linked chain posted in the same transaction as its rows,
 * its idempotency record and its outbox event: customer wallet → merchant settlement (gross), then
 * merchant settlement → Yika fee income (fee). Refunds reverse it in proportion. Knows nothing of HTTP.
 */
import type { Database, SqlExecutor } from '@yika/db';
import { isUuid, newId, TransferFlags, transferId, type Ledger, type TransferInput } from '@yika/ledger';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { once, type StoredResponse } from '../../platform/idempotency.js';
import { appendEvent } from '../../platform/outbox.js';
import type { StepUpProof } from '../identity/index.js';
import { CNY, FEE_INCOME_ACCOUNT_ID, type MerchantsService, type MerchantView } from '../merchants/index.js';
import { resolveHolds, type ReviewView, type RiskEvaluation, type RiskService } from '../risk/index.js';
import { riskRefusal, type WalletService } from '../wallet/index.js';
import { currentRequestOrigin } from '../../platform/audit-context.js';
import { buildYikaMpm, EmvcoError, formatAmount, parseMpm, YIKA_GUID } from './emvco.js';
import { feeFor, refundFeeShare } from './fees.js';

export const PaymentTransferCode = {
  merchantPayment: 201,
  merchantFee: 202,
  refund: 203,
  refundFee: 204,
} as const;

/** Orders live between a minute and 30 days; 15 minutes unless the merchant says otherwise. */
export const ORDER_TTL_SECONDS_MIN = 60;
export const ORDER_TTL_SECONDS_MAX = 30 * 86_400;
export const ORDER_TTL_SECONDS_DEFAULT = 900;
/** Most fen in one payment (as the wallet's ceiling). */
export const PAYMENT_AMOUNT_MAX = 100_000_000_000n;
export const PAGE_LIMIT_MAX = 100;

export class PaymentError extends DomainError {}

const problem = (code: string, status: number, title: string, detail: string, extensions?: Record<string, unknown>) =>
  new PaymentError({ code, status, title, detail, ...(extensions ? { extensions } : {}) });

export type OrderStatus = 'open' | 'paid' | 'closed' | 'expired';

export interface OrderView {
  id: string;
  merchantId: string;
  channel: 'qr' | 'checkout';
  amount: number;
  currency: string;
  description: string | null;
  merchantOrderNo: string | null;
  notifyUrl: string | null;
  returnUrl: string | null;
  status: OrderStatus;
  paymentId: string | null;
  qrPayload: string;
  expiresAt: string;
  createdAt: string;
}

export interface PaymentView {
  id: string;
  merchantId: string;
  merchantName: string;
  orderId: string | null;
  method: 'static_qr' | 'dynamic_qr' | 'checkout' | 'payment_code';
  amount: number;
  fee: number;
  feeRateBps: number;
  refundedAmount: number;
  currency: string;
  /**
   * The state of its ledger transfers; `in_review`: held by the risk engine until an analyst approves
   * (then succeeded) or rejects / lets it expire (then failed, nothing paid).
   */
  status: 'succeeded' | 'processing' | 'in_review' | 'failed';
  createdAt: string;
}

export interface RefundView {
  id: string;
  paymentId: string;
  amount: number;
  feeShare: number;
  reason: string | null;
  status: 'succeeded' | 'processing' | 'in_review' | 'failed';
  createdAt: string;
}

export interface QrPreview {
  kind: 'static' | 'dynamic';
  merchant: { id: string; displayName: string; city: string; mcc: string };
  amount: number | null;
  currency: string;
  orderId: string | null;
  description: string | null;
  expiresAt: string | null;
}

interface OrderRow {
  id: string;
  merchant_id: string;
  channel: 'qr' | 'checkout';
  reference: string;
  amount: string | number | bigint;
  currency: string;
  description: string | null;
  merchant_order_no: string | null;
  notify_url: string | null;
  return_url: string | null;
  status: 'open' | 'paid' | 'closed';
  payment_id: string | null;
  expires_at: Date | string;
  created_at: Date | string;
  expired: boolean;
}

interface PaymentRow {
  id: string;
  merchant_id: string;
  order_id: string | null;
  method: PaymentView['method'];
  customer_id: string;
  payer_account_id: string;
  amount: string | number | bigint;
  fee: string | number | bigint;
  fee_rate_bps: number;
  currency: string;
  gross_transfer_id: string;
  fee_transfer_id: string | null;
  created_at: Date | string;
  refunded: string | number | bigint | null;
  fee_refunded: string | number | bigint | null;
  status: 'succeeded' | 'in_review' | 'failed';
}

interface RefundRow {
  id: string;
  payment_id: string;
  amount: string | number | bigint;
  fee_share: string | number | bigint;
  reason: string | null;
  gross_transfer_id: string;
  created_at: Date | string;
  status: 'succeeded' | 'in_review' | 'failed';
}

const iso = (value: Date | string) => new Date(value).toISOString();

/** The payment of a payment-code charge: derived, so a retried or concurrent posting is exactly-once. */
export function paymentCodePaymentId(chargeId: string): string {
  return transferId(chargeId, 'payment');
}

/** A UUID as 22 base64url characters: fits EMVCo's 25-character reference label (62.05). */
export function orderReference(orderId: string): string {
  return Buffer.from(orderId.replaceAll('-', ''), 'hex').toString('base64url');
}

// A refund in review counts (its money is held); a failed one does not.
const PAYMENT_SELECT = `select p.*,
  (select sum(amount) from merchant_refunds r where r.payment_id = p.id and r.status <> 'failed')::text as refunded,
  (select sum(fee_share) from merchant_refunds r where r.payment_id = p.id and r.status <> 'failed')::text as fee_refunded
  from merchant_payments p`;

export interface PaymentsServiceOptions {
  db: Database;
  ledger: Ledger;
  merchants: MerchantsService;
  wallet: WalletService;
  /** Judges refunds (payments are judged through the wallet) and holds money for review. */
  risk: RiskService;
}

export class PaymentsService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #merchants: MerchantsService;
  readonly #wallet: WalletService;
  readonly #risk: RiskService;

  constructor(options: PaymentsServiceOptions) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#merchants = options.merchants;
    this.#wallet = options.wallet;
    this.#risk = options.risk;
    this.#registerReviewHandlers();
  }

  // ---- codes and orders (merchant side) ----

  /** The merchant's static code: the customer enters the amount. */
  async staticCode(merchantId: string): Promise<string> {
    const merchant = await this.#merchants.activeMerchant(merchantId);
    return this.#payload(merchant);
  }

  #payload(merchant: MerchantView, order?: { id: string; amount: bigint }): string {
    return buildYikaMpm({
      merchantId: merchant.id,
      mcc: merchant.mcc,
      merchantName: truncate(merchant.displayName, 25),
      merchantCity: truncate(merchant.city, 15),
      currencyNumeric: CNY.numeric,
      ...(order ? { amountMinor: order.amount, orderReference: orderReference(order.id) } : {}),
    });
  }

  /** An order for a fixed amount, paid once before it expires: by dynamic QR or by online checkout. */
  async createOrder(
    merchantId: string,
    input: {
      channel: 'qr' | 'checkout';
      amount: bigint;
      description?: string | undefined;
      merchantOrderNo?: string | undefined;
      expiresInSeconds?: number | undefined;
      notifyUrl?: string | undefined;
      returnUrl?: string | undefined;
    },
  ): Promise<OrderView> {
    checkAmount(input.amount);
    await this.#merchants.activeMerchant(merchantId);
    const ttl = input.expiresInSeconds ?? ORDER_TTL_SECONDS_DEFAULT;
    if (ttl < ORDER_TTL_SECONDS_MIN || ttl > ORDER_TTL_SECONDS_MAX) {
      throw problem(
        'expiry_out_of_range',
        422,
        'Expiry out of range',
        `An order expires between ${ORDER_TTL_SECONDS_MIN} and ${ORDER_TTL_SECONDS_MAX} seconds from now.`,
      );
    }
    const id = newId();
    try {
      await this.#db.query(
        `insert into payment_orders (id, merchant_id, channel, reference, amount, currency, description, merchant_order_no,
           notify_url, return_url, status, expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'open', now() + ($11 || ' seconds')::interval)`,
        [
          id,
          merchantId,
          input.channel,
          orderReference(id),
          input.amount.toString(),
          CNY.code,
          input.description ?? null,
          input.merchantOrderNo ?? null,
          input.notifyUrl ?? null,
          input.returnUrl ?? null,
          String(ttl),
        ],
      );
    } catch (error) {
      if (isUniqueViolation(error)) {
        throw problem(
          'merchant_order_no_in_use',
          409,
          'Order number in use',
          'This merchant order number was already used.',
        );
      }
      throw error;
    }
    return this.order(merchantId, id);
  }

  async order(merchantId: string, orderId: string): Promise<OrderView> {
    const row = await this.#loadOrder(this.#db, orderId);
    if (!row || row.merchant_id !== merchantId) throw new NotFoundError('No such order.');
    return this.#orderView(row);
  }

  async #orderView(row: OrderRow): Promise<OrderView> {
    const merchant = await this.#merchants.get(row.merchant_id);
    return {
      id: row.id,
      merchantId: row.merchant_id,
      channel: row.channel,
      amount: Number(row.amount),
      currency: row.currency,
      description: row.description,
      merchantOrderNo: row.merchant_order_no,
      notifyUrl: row.notify_url,
      returnUrl: row.return_url,
      status: row.status === 'open' && row.expired ? 'expired' : row.status,
      paymentId: row.payment_id,
      qrPayload: this.#payload(merchant, { id: row.id, amount: BigInt(row.amount) }),
      expiresAt: iso(row.expires_at),
      createdAt: iso(row.created_at),
    };
  }

  /** Closes an open order so it can no longer be paid. Closing a closed order is a no-op. */
  async closeOrder(merchantId: string, orderId: string): Promise<OrderView> {
    await this.#db.transaction(async (tx) => {
      const row = await this.#loadOrder(tx, orderId, true);
      if (!row || row.merchant_id !== merchantId) throw new NotFoundError('No such order.');
      if (row.status === 'paid')
        throw problem('order_paid', 409, 'Order paid', 'This order is paid: refund it instead.');
      await tx.query(
        `update payment_orders set status = 'closed', completed_at = coalesce(completed_at, now()) where id = $1`,
        [orderId],
      );
    });
    return this.order(merchantId, orderId);
  }

  async #loadOrder(executor: SqlExecutor, orderId: string, lock = false): Promise<OrderRow | undefined> {
    if (!isUuid(orderId)) return undefined;
    const { rows } = await executor.query<OrderRow>(
      `select *, expires_at <= now() as expired from payment_orders where id = $1${lock ? ' for update' : ''}`,
      [orderId],
    );
    return rows[0];
  }

  // ---- the customer side ----

  /** What a scanned code asks for: any EMVCo payload is parsed; only Yika's can be paid here. */
  async previewQr(payload: string): Promise<QrPreview> {
    const resolved = await this.#resolveQr(payload);
    const { merchant, order } = resolved;
    // Said before the customer types a PIN: a paid, closed or expired order cannot be paid.
    if (order) assertOrderPayable(order);
    return {
      kind: order ? 'dynamic' : 'static',
      merchant: { id: merchant.id, displayName: merchant.displayName, city: merchant.city, mcc: merchant.mcc },
      amount: order ? Number(order.amount) : null,
      currency: CNY.code,
      orderId: order?.id ?? null,
      description: order?.description ?? null,
      expiresAt: order ? iso(order.expires_at) : null,
    };
  }

  async #resolveQr(payload: string): Promise<{ merchant: MerchantView; order: OrderRow | null }> {
    let parsed;
    try {
      parsed = parseMpm(payload.trim());
    } catch (error) {
      if (error instanceof EmvcoError) {
        throw problem('qr_invalid', 422, 'Not a valid EMVCo code', error.message, {
          dataObject: error.path,
          offset: error.offset,
        });
      }
      throw error;
    }
    const account = parsed.merchantAccounts.find((candidate) => candidate.globallyUniqueId === YIKA_GUID);
    if (!account) {
      throw problem(
        'qr_not_yika',
        422,
        'Not a Yika code',
        `This is a valid EMVCo code of ${parsed.merchantName}, but not one Yika can pay: it carries no ${YIKA_GUID} merchant account.`,
      );
    }
    const merchantId = account.fields['01'] ?? '';
    const unknown = () => problem('qr_unknown_merchant', 422, 'Unknown merchant', 'No Yika merchant has this code.');
    if (!isUuid(merchantId)) throw unknown();
    const merchant = await this.#merchants.get(merchantId).catch((error: unknown) => {
      if (error instanceof NotFoundError) throw unknown();
      throw error;
    });
    if (merchant.status !== 'approved') throw problemMerchantNotActive(merchant.status);
    if (parsed.currency !== CNY.numeric) {
      throw problem('qr_invalid', 422, 'Not a valid EMVCo code', `Currency ${parsed.currency} is not CNY (156).`);
    }
    if (parsed.pointOfInitiation !== 'dynamic') return { merchant, order: null };
    const reference = parsed.additionalData['05'];
    const { rows } = await this.#db.query<OrderRow>(
      `select *, expires_at <= now() as expired from payment_orders where reference = $1`,
      [reference ?? ''],
    );
    const order = rows[0];
    if (!order || order.merchant_id !== merchant.id) {
      throw problem('qr_unknown_order', 422, 'Unknown order', 'This dynamic code names no order of this merchant.');
    }
    if (parsed.amount !== formatAmount(BigInt(order.amount))) {
      throw problem('qr_invalid', 422, 'Not a valid EMVCo code', "The code's amount differs from its order's.");
    }
    return { merchant, order };
  }

  /** Pays a scanned code: a static code's amount is the customer's, a dynamic code's is its order's. */
  async payQr(
    customerId: string,
    input: { payload: string; amount?: bigint | undefined; pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ) {
    const { merchant, order } = await this.#resolveQr(input.payload);
    const request = { kind: 'qr', payload: input.payload.trim(), amount: input.amount };
    if (order) return this.#payOrder(customerId, order, input, request, idempotencyKey);
    if (input.amount === undefined) {
      throw problem('amount_required', 422, 'Amount required', 'This code has no amount: enter one.');
    }
    checkAmount(input.amount);
    return this.#wallet.payMerchant(
      customerId,
      { amount: input.amount, authorization: { kind: 'pin', pin: input.pin, stepUp: input.stepUp } },
      {
        scope: 'payments.pay',
        idempotencyKey,
        request,
        run: (tx, payerAccountId) =>
          this.#record(tx, {
            id: newId(),
            merchant,
            order: null,
            method: 'static_qr',
            customerId,
            payerAccountId,
            amount: input.amount!,
          }),
      },
    );
  }

  /** The hosted checkout page's view of an order (no merchant secrets, no customer data). */
  async checkout(orderId: string): Promise<OrderView & { merchantName: string }> {
    const row = await this.#loadOrder(this.#db, orderId);
    if (!row) throw new NotFoundError('No such order.');
    const merchant = await this.#merchants.get(row.merchant_id);
    return { ...(await this.#orderView(row)), merchantName: merchant.displayName };
  }

  async payCheckout(
    customerId: string,
    orderId: string,
    input: { amount?: bigint | undefined; pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ) {
    const order = await this.#loadOrder(this.#db, orderId);
    if (!order) throw new NotFoundError('No such order.');
    return this.#payOrder(
      customerId,
      order,
      input,
      { kind: 'checkout', orderId, amount: input.amount },
      idempotencyKey,
    );
  }

  async #payOrder(
    customerId: string,
    order: OrderRow,
    input: { amount?: bigint | undefined; pin: string; stepUp?: StepUpProof | undefined },
    request: object,
    idempotencyKey: string,
  ) {
    const amount = BigInt(order.amount);
    if (input.amount !== undefined && input.amount !== amount) {
      throw problem('amount_mismatch', 422, 'Amount differs from the order', `This order is for ${amount} fen.`, {
        orderAmount: Number(amount),
      });
    }
    const merchant = await this.#merchants.get(order.merchant_id);
    if (merchant.status !== 'approved') throw problemMerchantNotActive(merchant.status);
    // Said before the PIN is asked and checked again under the order's lock. A paid order is left to
    // that check: a retry of the payment that paid it must replay its answer, not be refused.
    if (order.status !== 'paid') assertOrderPayable(order);
    return this.#wallet.payMerchant(
      customerId,
      { amount, authorization: { kind: 'pin', pin: input.pin, stepUp: input.stepUp } },
      {
        scope: 'payments.pay',
        idempotencyKey,
        request,
        run: async (tx, payerAccountId) => {
          const locked = await this.#loadOrder(tx, order.id, true);
          if (!locked) throw new NotFoundError('No such order.');
          assertOrderPayable(locked);
          return this.#record(tx, {
            // Derived from the order: one order can only ever be one payment.
            id: transferId(order.id, 'payment'),
            merchant,
            order: locked,
            method: order.channel === 'qr' ? 'dynamic_qr' : 'checkout',
            customerId,
            payerAccountId,
            amount,
          });
        },
      },
    );
  }

  /**
   * Records the payment of a payment-code charge inside the caller's transaction (the wallet's, after its
   * checks and the payment code's or PIN's authorisation). The payment id derives from the charge id, so
   * a charge is at most one payment.
   */
  async recordPaymentCodePayment(
    tx: SqlExecutor,
    input: { chargeId: string; merchant: MerchantView; customerId: string; payerAccountId: string; amount: bigint },
  ): Promise<PaymentView> {
    checkAmount(input.amount);
    // The merchant is read by the caller before its transaction (PGlite runs one transaction at a time).
    const { merchant } = input;
    if (merchant.status !== 'approved') throw problemMerchantNotActive(merchant.status);
    const stored = await this.#record(tx, {
      id: paymentCodePaymentId(input.chargeId),
      merchant,
      order: null,
      method: 'payment_code',
      customerId: input.customerId,
      payerAccountId: input.payerAccountId,
      amount: input.amount,
    });
    return stored.body;
  }

  /** Writes the payment, its linked chain, the order's new status and the event, inside the caller's tx. */
  async #record(
    tx: SqlExecutor,
    input: {
      id: string;
      merchant: MerchantView;
      order: OrderRow | null;
      method: PaymentView['method'];
      customerId: string;
      payerAccountId: string;
      amount: bigint;
    },
  ): Promise<StoredResponse<PaymentView>> {
    const { merchant } = input;
    // Every merchant payment (QR, checkout, payment code) is judged here, the one place they all pass.
    const judged = await this.#wallet.judgeMerchantPayment(tx, {
      merchantId: merchant.id,
      kind: input.method === 'payment_code' ? 'code' : 'qr',
    });
    const held = judged.evaluation.decision === 'review';
    const settlement = this.#merchants.settlementAccountId(merchant.id);
    const fee = feeFor(input.amount, merchant.feeRateBps);
    const grossId = transferId(input.id, 'payment.gross');
    const feeId = fee > 0n ? transferId(input.id, 'payment.fee') : null;
    const gross: TransferInput = {
      id: grossId,
      debitAccountId: input.payerAccountId,
      creditAccountId: settlement,
      amount: input.amount,
      ledger: CNY.ledger,
      code: PaymentTransferCode.merchantPayment,
      flags: feeId ? TransferFlags.linked : 0,
      metadata: { paymentId: input.id },
    };
    const feeTransfer = feeId ? this.#feeTransfer(feeId, settlement, fee, input.id) : null;
    // Held for review: only the payer's money is reserved (pending, with the review's timeout); the fee
    // part follows when an analyst approves (the merchant's account holds nothing posted to pay it yet).
    const transfers: TransferInput[] = held
      ? [{ ...gross, flags: TransferFlags.pending, timeoutSeconds: judged.holdSeconds }]
      : [gross, ...(feeTransfer ? [feeTransfer] : [])];
    await tx.query(
      `insert into merchant_payments (id, merchant_id, order_id, method, customer_id, payer_account_id, amount, fee,
         fee_rate_bps, currency, gross_transfer_id, fee_transfer_id, status)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
      [
        input.id,
        merchant.id,
        input.order?.id ?? null,
        input.method,
        input.customerId,
        input.payerAccountId,
        input.amount.toString(),
        fee.toString(),
        merchant.feeRateBps,
        CNY.code,
        grossId,
        feeId,
        held ? 'in_review' : 'succeeded',
      ],
    );
    await this.#post(tx, transfers, () =>
      problem('insufficient_funds', 422, 'Insufficient funds', 'The wallet balance does not cover this amount.'),
    );
    if (held) {
      await this.#risk.openReview(tx, {
        evaluation: judged.evaluation,
        event: judged.event,
        subjectType: 'payments.payment',
        subjectId: input.id,
        holdTransferIds: [grossId],
      });
    }
    if (input.order) {
      await tx.query(`update payment_orders set status = 'paid', payment_id = $2, completed_at = now() where id = $1`, [
        input.order.id,
        input.id,
      ]);
    }
    const view: PaymentView = {
      id: input.id,
      merchantId: merchant.id,
      merchantName: merchant.displayName,
      orderId: input.order?.id ?? null,
      method: input.method,
      amount: Number(input.amount),
      fee: Number(fee),
      feeRateBps: merchant.feeRateBps,
      refundedAmount: 0,
      currency: CNY.code,
      status: held ? 'in_review' : 'succeeded',
      createdAt: new Date().toISOString(),
    };
    // A held payment tells the merchant when an analyst approves it (the review handler emits the event).
    if (!held) await this.#paymentSucceeded(tx, view, input.order);
    return { status: held ? 202 : 201, body: view };
  }

  async #paymentSucceeded(
    tx: SqlExecutor,
    view: PaymentView,
    order: Pick<OrderRow, 'merchant_order_no' | 'notify_url'> | null,
  ): Promise<void> {
    await appendEvent(tx, {
      type: 'payment.succeeded',
      subject: `merchant:${view.merchantId}`,
      payload: {
        payment: view,
        merchantOrderNo: order?.merchant_order_no ?? null,
        notifyUrl: order?.notify_url ?? null,
      },
    });
  }

  #feeTransfer(id: string, settlement: string, fee: bigint, paymentId: string): TransferInput {
    return {
      id,
      debitAccountId: settlement,
      creditAccountId: FEE_INCOME_ACCOUNT_ID,
      amount: fee,
      ledger: CNY.ledger,
      code: PaymentTransferCode.merchantFee,
      metadata: { paymentId },
    };
  }

  /** Submits a chain; `exceeds_credits` on its first refused transfer becomes `refused()`. */
  async #post(tx: SqlExecutor, transfers: TransferInput[], refused: () => DomainError): Promise<void> {
    const results = await this.#ledger.createTransfers(tx, transfers);
    const failed = results.find((result) => result.result !== 'ok' && result.result !== 'exists');
    if (!failed) return;
    if (results.some((result) => result.result === 'exceeds_credits')) throw refused();
    throw new Error(`ledger refused payment transfer ${failed.id}: ${failed.result}`);
  }

  // ---- payments and refunds (merchant side) ----

  async payment(merchantId: string, paymentId: string): Promise<PaymentView> {
    const row = isUuid(paymentId)
      ? (await this.#db.query<PaymentRow>(`${PAYMENT_SELECT} where p.id = $1`, [paymentId])).rows[0]
      : undefined;
    if (!row || row.merchant_id !== merchantId) throw new NotFoundError('No such payment.');
    return (await this.#paymentViews([row]))[0]!;
  }

  async payments(merchantId: string, limit = 50): Promise<PaymentView[]> {
    const { rows } = await this.#db.query<PaymentRow>(
      `${PAYMENT_SELECT} where p.merchant_id = $1 order by p.created_at desc, p.id desc limit $2`,
      [merchantId, Math.min(Math.max(limit, 1), PAGE_LIMIT_MAX)],
    );
    return this.#paymentViews(rows);
  }

  /** A customer's own view of a payment they made. */
  async customerPayment(customerId: string, paymentId: string): Promise<PaymentView> {
    const row = isUuid(paymentId)
      ? (await this.#db.query<PaymentRow>(`${PAYMENT_SELECT} where p.id = $1`, [paymentId])).rows[0]
      : undefined;
    if (!row || row.customer_id !== customerId) throw new NotFoundError('No such payment.');
    return (await this.#paymentViews([row]))[0]!;
  }

  async #paymentViews(rows: PaymentRow[]): Promise<PaymentView[]> {
    // A payment's status is its transfers' state: posted (the chain is all or nothing) means succeeded.
    const posted = new Set(
      (await this.#ledger.lookupTransfers(rows.map((row) => row.gross_transfer_id))).map((transfer) => transfer.id),
    );
    const names = new Map<string, string>();
    for (const row of rows) {
      if (!names.has(row.merchant_id))
        names.set(row.merchant_id, (await this.#merchants.get(row.merchant_id)).displayName);
    }
    return rows.map((row) => ({
      id: row.id,
      merchantId: row.merchant_id,
      merchantName: names.get(row.merchant_id)!,
      orderId: row.order_id,
      method: row.method,
      amount: Number(row.amount),
      fee: Number(row.fee),
      feeRateBps: row.fee_rate_bps,
      refundedAmount: Number(row.refunded ?? 0),
      currency: row.currency,
      status: row.status !== 'succeeded' ? row.status : posted.has(row.gross_transfer_id) ? 'succeeded' : 'processing',
      createdAt: iso(row.created_at),
    }));
  }

  /**
   * Refunds all or part of a payment; several refunds may follow, never above what was paid (the payment
   * row is locked while the total is checked). The chain gives the merchant back the fee's share first,
   * then moves the gross refund from the merchant's settlement account to the customer.
   */
  async refund(
    merchantId: string,
    paymentId: string,
    input: { amount: bigint; reason?: string | undefined },
    idempotencyKey: string,
  ): Promise<StoredResponse<RefundView> & { replayed: boolean }> {
    checkAmount(input.amount);
    const request = { paymentId, amount: input.amount, reason: input.reason ?? null };
    let evaluation: RiskEvaluation | null = null;
    let stored: StoredResponse<RefundView> & { replayed: boolean };
    try {
      stored = await this.#refundOnce(merchantId, paymentId, input, idempotencyKey, request, (judged) => {
        evaluation = judged;
      });
    } catch (error) {
      const judged = evaluation as RiskEvaluation | null;
      if (judged) await this.#risk.record(judged.evaluationId, 'failed').catch(() => undefined);
      throw error;
    }
    const judged = evaluation as RiskEvaluation | null;
    if (judged?.decision === 'allow') await this.#risk.record(judged.evaluationId, 'completed').catch(() => undefined);
    return stored;
  }

  #refundOnce(
    merchantId: string,
    paymentId: string,
    input: { amount: bigint; reason?: string | undefined },
    idempotencyKey: string,
    request: object,
    judged: (evaluation: RiskEvaluation) => void,
  ): Promise<StoredResponse<RefundView> & { replayed: boolean }> {
    return this.#db.transaction((tx) =>
      once(tx, `payments.refund:${merchantId}`, idempotencyKey, request, async () => {
        const { rows } = isUuid(paymentId)
          ? await tx.query<PaymentRow>(`select * from merchant_payments where id = $1 for update`, [paymentId])
          : { rows: [] };
        const payment = rows[0];
        if (!payment || payment.merchant_id !== merchantId) throw new NotFoundError('No such payment.');
        if (payment.status !== 'succeeded') {
          throw problem(
            'payment_not_refundable',
            409,
            'Payment not refundable',
            payment.status === 'in_review'
              ? 'This payment is held for review: it can be refunded once it has succeeded.'
              : 'This payment failed: nothing was paid, so nothing can be refunded.',
          );
        }
        // A refund in review holds its money and counts; a failed one does not.
        const { rows: sums } = await tx.query<{ refunded: string | null; fee_refunded: string | null }>(
          `select sum(amount)::text as refunded, sum(fee_share)::text as fee_refunded from merchant_refunds
           where payment_id = $1 and status <> 'failed'`,
          [paymentId],
        );
        const gross = BigInt(payment.amount);
        const fee = BigInt(payment.fee);
        const refundedBefore = BigInt(sums[0]?.refunded ?? 0);
        const feeRefundedBefore = BigInt(sums[0]?.fee_refunded ?? 0);
        if (refundedBefore + input.amount > gross) {
          throw problem(
            'refund_exceeds_payment',
            422,
            'Refund exceeds the payment',
            `At most ${gross - refundedBefore} fen of this payment can still be refunded.`,
            { refundable: Number(gross - refundedBefore) },
          );
        }
        const feeShare = refundFeeShare({ gross, fee, refundedBefore, feeRefundedBefore, amount: input.amount });
        // Judged after every check of its own, under the payment's lock: what it allows is what moves.
        const { evaluation, event } = await this.#judgeRefund(merchantId, payment, input.amount);
        judged(evaluation);
        const held = evaluation.decision === 'review';
        const id = newId();
        const settlement = this.#merchants.settlementAccountId(merchantId);
        const grossId = transferId(id, 'refund.gross');
        const feeId = feeShare > 0n ? transferId(id, 'refund.fee') : null;
        const feeTransfer = feeId ? refundFeeTransfer(feeId, settlement, feeShare, id, paymentId) : null;
        const grossTransfer: TransferInput = {
          id: grossId,
          debitAccountId: settlement,
          creditAccountId: payment.payer_account_id,
          amount: input.amount,
          ledger: CNY.ledger,
          code: PaymentTransferCode.refund,
          metadata: { refundId: id, paymentId },
        };
        // Held for review: the merchant's money for the whole refund is reserved (pending, with the
        // review's timeout); the fee share is given back when an analyst approves.
        const transfers: TransferInput[] = held
          ? [{ ...grossTransfer, flags: TransferFlags.pending, timeoutSeconds: this.#risk.reviewHoldSeconds }]
          : [...(feeTransfer ? [feeTransfer] : []), grossTransfer];
        await tx.query(
          `insert into merchant_refunds (id, payment_id, merchant_id, amount, fee_share, reason, gross_transfer_id,
             fee_transfer_id, status)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [
            id,
            paymentId,
            merchantId,
            input.amount.toString(),
            feeShare.toString(),
            input.reason ?? null,
            grossId,
            feeId,
            held ? 'in_review' : 'succeeded',
          ],
        );
        await this.#post(tx, transfers, () =>
          problem(
            'merchant_balance_insufficient',
            422,
            'Not enough awaiting settlement',
            'The merchant holds less awaiting settlement than this refund needs.',
          ),
        );
        if (held) {
          await this.#risk.openReview(tx, {
            evaluation,
            event,
            subjectType: 'payments.refund',
            subjectId: id,
            holdTransferIds: [grossId],
          });
        }
        const view: RefundView = {
          id,
          paymentId,
          amount: Number(input.amount),
          feeShare: Number(feeShare),
          reason: input.reason ?? null,
          status: held ? 'in_review' : 'succeeded',
          createdAt: new Date().toISOString(),
        };
        if (!held) await this.#refundSucceeded(tx, merchantId, view);
        return { status: held ? 202 : 201, body: view };
      }),
    );
  }

  async #refundSucceeded(tx: SqlExecutor, merchantId: string, view: RefundView): Promise<void> {
    await appendEvent(tx, { type: 'refund.succeeded', subject: `merchant:${merchantId}`, payload: { refund: view } });
  }

  /**
   * A refund is the merchant's movement: the merchant is the actor (the `customerId` of the event), the
   * payer the counterparty. A merchant cannot give a second factor, so a challenge sends it to review.
   */
  async #judgeRefund(merchantId: string, payment: PaymentRow, amount: bigint) {
    const origin = currentRequestOrigin();
    const event = {
      kind: 'refund' as const,
      customerId: merchantId,
      amount,
      currency: CNY.code,
      merchantId,
      counterpartyId: payment.customer_id,
      ...(origin.deviceId ? { deviceId: origin.deviceId } : {}),
      ...(origin.ip ? { ip: origin.ip } : {}),
    };
    const assessed = this.#risk.evaluate(event);
    if (assessed.decision === 'deny') {
      await this.#risk.record(assessed.evaluationId, 'failed').catch(() => undefined);
      throw riskRefusal(assessed, origin.locale);
    }
    const evaluation: RiskEvaluation =
      assessed.decision === 'challenge' ? { ...assessed, decision: 'review' } : assessed;
    return { evaluation, event };
  }

  #registerReviewHandlers(): void {
    this.#risk.onReview('payments.payment', {
      approve: async (tx, review) => {
        const row = await this.#lockedPayment(tx, review);
        const settlement = this.#merchants.settlementAccountId(row.merchant_id);
        const fee = BigInt(row.fee);
        // Posted first, then the fee out of the now-posted gross: one linked chain.
        const after = row.fee_transfer_id ? [this.#feeTransfer(row.fee_transfer_id, settlement, fee, row.id)] : [];
        if ((await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'post', { after })) === 'expired') {
          return 'expired';
        }
        await tx.query(`update merchant_payments set status = 'succeeded', posted_transfer_id = $2 where id = $1`, [
          row.id,
          transferId(row.gross_transfer_id, 'risk.post'),
        ]);
        // Everything read through tx: PGlite serves one transaction at a time.
        const { rows: names } = await tx.query<{ display_name: string }>(
          `select display_name from merchants where id = $1`,
          [row.merchant_id],
        );
        const { rows: orders } = row.order_id
          ? await tx.query<OrderRow>(`select *, false as expired from payment_orders where id = $1`, [row.order_id])
          : { rows: [] };
        const view: PaymentView = {
          id: row.id,
          merchantId: row.merchant_id,
          merchantName: names[0]?.display_name ?? '',
          orderId: row.order_id,
          method: row.method,
          amount: Number(row.amount),
          fee: Number(row.fee),
          feeRateBps: row.fee_rate_bps,
          refundedAmount: 0,
          currency: row.currency,
          status: 'succeeded',
          createdAt: iso(row.created_at),
        };
        await this.#paymentSucceeded(tx, view, orders[0] ?? null);
        return 'completed';
      },
      close: async (tx, review) => {
        const row = await this.#lockedPayment(tx, review);
        await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'void');
        await tx.query(`update merchant_payments set status = 'failed' where id = $1`, [row.id]);
        // The order was paid by this payment only: it is closed (its payment id is taken), not reopened.
        if (row.order_id) {
          await tx.query(
            `update payment_orders set status = 'closed', completed_at = coalesce(completed_at, now()) where id = $1`,
            [row.order_id],
          );
        }
      },
    });
    this.#risk.onReview('payments.refund', {
      approve: async (tx, review) => {
        const row = await this.#lockedRefund(tx, review);
        const settlement = this.#merchants.settlementAccountId(row.merchant_id);
        const before = row.fee_transfer_id
          ? [refundFeeTransfer(row.fee_transfer_id, settlement, BigInt(row.fee_share), row.id, row.payment_id)]
          : [];
        if ((await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'post', { before })) === 'expired') {
          return 'expired';
        }
        await tx.query(`update merchant_refunds set status = 'succeeded', posted_transfer_id = $2 where id = $1`, [
          row.id,
          transferId(row.gross_transfer_id, 'risk.post'),
        ]);
        await this.#refundSucceeded(tx, row.merchant_id, {
          id: row.id,
          paymentId: row.payment_id,
          amount: Number(row.amount),
          feeShare: Number(row.fee_share),
          reason: row.reason,
          status: 'succeeded',
          createdAt: iso(row.created_at),
        });
        return 'completed';
      },
      close: async (tx, review) => {
        const row = await this.#lockedRefund(tx, review);
        await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'void');
        await tx.query(`update merchant_refunds set status = 'failed' where id = $1`, [row.id]);
      },
    });
  }

  async #lockedPayment(tx: SqlExecutor, review: ReviewView): Promise<PaymentRow> {
    const { rows } = await tx.query<PaymentRow>(`select * from merchant_payments where id = $1 for update`, [
      review.subjectId,
    ]);
    if (!rows[0] || rows[0].status !== 'in_review') throw new Error(`payment ${review.subjectId} is not in review`);
    return rows[0];
  }

  async #lockedRefund(
    tx: SqlExecutor,
    review: ReviewView,
  ): Promise<RefundRow & { merchant_id: string; fee_transfer_id: string | null }> {
    const { rows } = await tx.query<RefundRow & { merchant_id: string; fee_transfer_id: string | null }>(
      `select * from merchant_refunds where id = $1 for update`,
      [review.subjectId],
    );
    if (!rows[0] || rows[0].status !== 'in_review') throw new Error(`refund ${review.subjectId} is not in review`);
    return rows[0];
  }

  async refunds(merchantId: string, paymentId: string): Promise<RefundView[]> {
    await this.payment(merchantId, paymentId);
    const { rows } = await this.#db.query<RefundRow>(
      `select * from merchant_refunds where payment_id = $1 order by created_at, id limit 1000`,
      [paymentId],
    );
    const posted = new Set(
      (await this.#ledger.lookupTransfers(rows.map((row) => row.gross_transfer_id))).map((transfer) => transfer.id),
    );
    return rows.map((row) => ({
      id: row.id,
      paymentId: row.payment_id,
      amount: Number(row.amount),
      feeShare: Number(row.fee_share),
      reason: row.reason,
      status: row.status !== 'succeeded' ? row.status : posted.has(row.gross_transfer_id) ? 'succeeded' : 'processing',
      createdAt: iso(row.created_at),
    }));
  }

  /** For the wallet's limits: what a customer paid merchants today and this year (or since opening). */
  /** Merchant payments and refunds as wallet movements (history and monthly bill); `$1` is the customer. */
  readonly movementsSql = `
  select p.id, 'merchant_payment' as type, p.amount::text as amount, p.status,
         m.display_name as counterparty, o.description as note, p.created_at,
         coalesce(p.posted_transfer_id, p.gross_transfer_id) as posting_transfer_id
  from merchant_payments p join merchants m on m.id = p.merchant_id left join payment_orders o on o.id = p.order_id
  where p.customer_id = $1
  union all
  -- The customer sees a refund once it posted (one held for review is the merchant's money still).
  select r.id, 'merchant_refund', r.amount::text, r.status, m.display_name, r.reason, r.created_at,
         coalesce(r.posted_transfer_id, r.gross_transfer_id)
  from merchant_refunds r join merchant_payments p on p.id = r.payment_id join merchants m on m.id = r.merchant_id
  where p.customer_id = $1 and r.status = 'succeeded'`;

  readonly outgoing = async (tx: SqlExecutor, customerId: string, timeZone: string, sinceOpening: boolean) => {
    const { rows } = await tx.query<{ today: string | null; year: string | null }>(
      `select sum(amount) filter (where (created_at at time zone $2)::date = (now() at time zone $2)::date)::text as today,
              sum(amount) filter (where $3 or date_trunc('year', created_at at time zone $2) = date_trunc('year', now() at time zone $2))::text as year
       from merchant_payments where customer_id = $1 and status <> 'failed'`,
      [customerId, timeZone, sinceOpening],
    );
    return { today: BigInt(rows[0]?.today ?? 0), year: BigInt(rows[0]?.year ?? 0) };
  };
}

function refundFeeTransfer(
  id: string,
  settlement: string,
  feeShare: bigint,
  refundId: string,
  paymentId: string,
): TransferInput {
  return {
    id,
    debitAccountId: FEE_INCOME_ACCOUNT_ID,
    creditAccountId: settlement,
    amount: feeShare,
    ledger: CNY.ledger,
    code: PaymentTransferCode.refundFee,
    flags: TransferFlags.linked,
    metadata: { refundId, paymentId },
  };
}

function assertOrderPayable(order: OrderRow): void {
  if (order.status === 'paid') throw problem('order_paid', 409, 'Order already paid', 'This code was already used.');
  if (order.status === 'closed') throw problem('order_closed', 409, 'Order closed', 'The merchant closed this order.');
  if (order.expired)
    throw problem('order_expired', 409, 'Order expired', 'This order has expired: ask for a new code.');
}

function problemMerchantNotActive(status: string) {
  return problem('merchant_not_active', 422, 'Merchant not active', `This merchant is ${status} and cannot be paid.`);
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

/** At most `length` UTF-16 units (EMVCo's lengths count them), never splitting a character. */
function truncate(text: string, length: number): string {
  let kept = '';
  for (const character of text) {
    if (kept.length + character.length > length) break;
    kept += character;
  }
  return kept;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
