/**
 * The wallet: stored value on the ledger, transfers between customers, top-ups from and withdrawals to
 * bound bank cards. Every money movement is a ledger transfer whose id derives from the business record,
 * posted in the same database transaction as that record (the ledger's direct mode), so a retry or a
 * crash can never move money twice or leave a record without its money.
 */
import type { Database, SqlExecutor } from '@yika/db';
import { newId, TransferFlags, transferId, type Ledger, type TransferInput, type TransferResult } from '@yika/ledger';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import type { StepUpProof } from '../identity/index.js';
import { once, type StoredResponse } from '../../platform/idempotency.js';
import type { BankGateway, BankPaymentOutcome } from '../../platform/bank.js';
import { currentRequestOrigin } from '../../platform/audit-context.js';
import {
  resolveHolds,
  type ReviewView,
  type RiskEvaluation,
  type RiskEvent,
  type RiskEventKind,
  type RiskService,
} from '../risk/index.js';
import {
  listMovements,
  monthlyBill,
  type MonthlyBill,
  type Movement,
  type MovementQuery,
  type MovementSourceSql,
} from './history.js';
import {
  BANK_CLEARING_ACCOUNT_ID,
  CNY,
  systemAccounts,
  TransferCode,
  walletAccount,
  walletAccountId,
} from './chart.js';

/** What the wallet needs of identity (implemented by the identity module's service). */
export interface IdentityPort {
  getCustomer(
    customerId: string,
  ): Promise<{ maskedName: string | null; phone?: string; accountClass?: 'I' | 'II' | 'III' }>;
  findCustomerByPhone(phone: string): Promise<{ customerId: string; maskedName: string | null } | null>;
  assertCanMoveMoney(customerId: string): Promise<void>;
  verifyPaymentPin(customerId: string, pin: string): Promise<void>;
  requireStepUp(customerId: string, proof: StepUpProof): Promise<void>;
  limitsFor(customerId: string): Promise<Limits>;
}

export interface Limits {
  perTransaction: bigint;
  daily: bigint;
  yearly: bigint;
  /** Class I accounts count the yearly limit since opening, the others per calendar year. */
  yearlyPeriod: 'since_opening' | 'calendar_year';
}

/** What the wallet needs of bound cards (implemented by the cards module). */
export interface CardsPort {
  cardForPayment(
    customerId: string,
    cardId: string,
  ): Promise<{ cardToken: string; last4: string; bankName: string; fingerprint?: string }>;
}

export interface WalletServiceOptions {
  db: Database;
  ledger: Ledger;
  identity: IdentityPort;
  cards: CardsPort;
  bank: BankGateway;
  /** Judges every movement before it moves (ADR 10); holds money for review. */
  risk: RiskService;
  /** Where the bank posts outcomes, e.g. `http://127.0.0.1:3000/v1/bank/callbacks` (known once listening). */
  bankCallbackUrl: () => string;
  /** An open order is asked about once its callback is this late. */
  pollAfterMs?: number;
  /** How long the bank has before the status query decides an order. */
  bankDeadlineMs?: number;
  /** Payments of at least this many fen need a second factor besides the PIN. */
  stepUpThreshold?: bigint;
  /** Business day boundaries for daily limits. */
  timeZone?: string;
}

export class WalletError extends DomainError {}

/** Proof, issued once by the wallet, that the caller verified a customer's payment code (see payMerchant). */
export interface PaymentCodeCapability {
  readonly issuedTo: 'payment-codes';
}

/** How a merchant payment is authorised: the customer's PIN, or a payment code verified by its service. */
export type MerchantPaymentAuthorization =
  | { kind: 'pin'; pin: string; stepUp?: StepUpProof | undefined }
  | { kind: 'payment_code'; capability: PaymentCodeCapability };

/** How much a customer paid out through another module: today and this year (or since opening), in fen. */
export type OutgoingSource = (
  tx: SqlExecutor,
  customerId: string,
  timeZone: string,
  sinceOpening: boolean,
) => Promise<{ today: bigint; year: bigint }>;

const insufficientFunds = () =>
  new WalletError({
    code: 'insufficient_funds',
    status: 422,
    title: 'Insufficient funds',
    detail: 'The wallet balance does not cover this amount.',
  });

export interface Balance {
  currency: string;
  /** What the customer can spend now, in fen. */
  available: bigint;
  /** Held for withdrawals in progress, in fen. */
  held: bigint;
}

export interface P2pTransferView {
  id: string;
  payeeMaskedName: string | null;
  amount: number;
  currency: string;
  note: string | null;
  /** `in_review`: the money is held until a risk analyst decides. */
  status: 'succeeded' | 'in_review';
  createdAt: string;
}

export interface BankOrderView {
  id: string;
  kind: 'top_up' | 'withdrawal';
  cardId: string;
  amount: number;
  currency: string;
  status: 'created' | 'processing' | 'succeeded' | 'failed' | 'in_review';
  failureReason: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface PaymentRequestView {
  id: string;
  requesterMaskedName: string | null;
  /** Fen; null when the payer chooses. */
  amount: number | null;
  currency: string;
  note: string | null;
  status: 'open' | 'paid' | 'expired';
  expiresAt: string;
}

interface PaymentRequestRow {
  id: string;
  requester_customer_id: string;
  amount: string | number | bigint | null;
  currency: string;
  note: string | null;
  status: 'open' | 'paid';
  expires_at: Date | string;
  expired: boolean;
}

function paymentRequestView(row: PaymentRequestRow, requesterMaskedName: string | null): PaymentRequestView {
  return {
    id: row.id,
    requesterMaskedName,
    amount: row.amount === null ? null : Number(row.amount),
    currency: row.currency,
    note: row.note,
    status: row.status === 'open' && row.expired ? 'expired' : row.status,
    expiresAt: iso(row.expires_at)!,
  };
}

interface BankOrderRow {
  id: string;
  customer_id: string;
  kind: 'top_up' | 'withdrawal';
  card_id: string;
  amount: string | number | bigint;
  currency: string;
  status: BankOrderView['status'];
  failure_reason: string | null;
  created_at: Date | string;
  completed_at: Date | string | null;
  risk_evaluation_id: string | null;
}

/** Most fen in one movement: far above any limit, far below the ledger's and JSON's ceilings. */
export const AMOUNT_MAX = 100_000_000_000n;

export class WalletService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #identity: IdentityPort;
  readonly #cards: CardsPort;
  readonly #bank: BankGateway;
  readonly #risk: RiskService;
  readonly #callbackUrl: () => string;
  readonly #pollAfterMs: number;
  readonly #stepUpThreshold: bigint;
  readonly #deadlineMs: number;
  readonly #timeZone: string;
  readonly #outgoingSources: OutgoingSource[] = [];
  readonly #movementSources: MovementSourceSql[] = [];
  #paymentCodeCapability: PaymentCodeCapability | null = null;
  /** The merchant payment each open payMerchant transaction is making (see judgeMerchantPayment). */
  readonly #merchantPayments = new WeakMap<SqlExecutor, MerchantPaymentInProgress>();

  constructor(options: WalletServiceOptions) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#identity = options.identity;
    this.#cards = options.cards;
    this.#bank = options.bank;
    this.#risk = options.risk;
    this.#callbackUrl = options.bankCallbackUrl;
    this.#deadlineMs = options.bankDeadlineMs ?? 120_000;
    this.#pollAfterMs = options.pollAfterMs ?? 5_000;
    this.#stepUpThreshold = options.stepUpThreshold ?? 500_000n;
    this.#timeZone = options.timeZone ?? 'Asia/Shanghai';
    this.#registerReviewHandlers();
  }

  /** Creates the system accounts and the customer's wallet account if absent (idempotent). */
  async openWallet(customerId: string): Promise<void> {
    const results = await this.#ledger.createAccounts([...systemAccounts, walletAccount(customerId)]);
    const refused = results.find((result) => result.result !== 'ok' && result.result !== 'exists');
    if (refused) throw new Error(`wallet account refused by the ledger: ${refused.result}`);
  }

  async balance(customerId: string): Promise<Balance> {
    const [account] = await this.#ledger.lookupAccounts([walletAccountId(customerId)]);
    if (!account) return { currency: CNY.code, available: 0n, held: 0n };
    return {
      currency: CNY.code,
      available: account.creditsPosted - account.debitsPosted - account.debitsPending,
      held: account.debitsPending,
    };
  }

  movements(customerId: string, query: MovementQuery): Promise<{ movements: Movement[]; nextCursor: string | null }> {
    const maskCustomer = async (other: string) => {
      const customer = await this.#identity.getCustomer(other).catch(() => null);
      return customer?.maskedName ?? null;
    };
    return listMovements(this.#db, this.#ledger, customerId, query, maskCustomer, this.#movementSources);
  }

  bill(customerId: string, month: string): Promise<MonthlyBill> {
    return monthlyBill(this.#db, this.#ledger, customerId, month, this.#timeZone, this.#movementSources);
  }

  /** Who a phone number belongs to, masked, so the payer can confirm before paying. */
  async previewPayee(payerId: string, phone: string): Promise<{ maskedName: string | null }> {
    const payee = await this.#identity.findCustomerByPhone(phone);
    if (!payee) throw new NotFoundError('No Yika customer has this mobile number.');
    if (payee.customerId === payerId) throw selfTransfer();
    return { maskedName: payee.maskedName };
  }

  /** Pays another customer at once. Needs the payment PIN; exactly once per idempotency key. */
  async transfer(
    payerId: string,
    input: { phone: string; amount: bigint; note?: string | undefined; pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ): Promise<StoredResponse<P2pTransferView> & { replayed: boolean }> {
    const payee = await this.#identity.findCustomerByPhone(input.phone);
    if (!payee) throw new NotFoundError('No Yika customer has this mobile number.');
    const request = { kind: 'p2p', phone: input.phone, amount: input.amount, note: input.note ?? null };
    return this.#pay(payerId, payee, { ...input, request, requestId: null }, idempotencyKey);
  }

  /** Asks to be paid: a link / QR any customer can open and pay, with or without a fixed amount. */
  async createPaymentRequest(
    customerId: string,
    input: { amount?: bigint | undefined; note?: string | undefined },
  ): Promise<PaymentRequestView> {
    if (input.amount !== undefined) checkAmount(input.amount);
    await this.#identity.assertCanMoveMoney(customerId);
    const id = newId();
    await this.#db.query(
      `insert into wallet_payment_requests (id, requester_customer_id, amount, currency, note, status, expires_at)
       values ($1, $2, $3, $4, $5, 'open', now() + interval '7 days')`,
      [id, customerId, input.amount?.toString() ?? null, CNY.code, input.note ?? null],
    );
    return this.paymentRequest(id);
  }

  async paymentRequest(id: string): Promise<PaymentRequestView> {
    const { rows } = await this.#db.query<PaymentRequestRow>(
      `select *, expires_at < now() as expired from wallet_payment_requests where id = $1`,
      [id],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('No such payment request.');
    const requester = await this.#identity.getCustomer(row.requester_customer_id);
    return paymentRequestView(row, requester.maskedName);
  }

  /** Pays a payment request: its amount if it has one (then it is paid once), else the amount given. */
  async payPaymentRequest(
    payerId: string,
    requestId: string,
    input: { amount?: bigint | undefined; pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ): Promise<StoredResponse<P2pTransferView> & { replayed: boolean }> {
    const view = await this.paymentRequest(requestId);
    const fixed = view.amount === null ? undefined : BigInt(view.amount);
    if (fixed !== undefined && input.amount !== undefined && input.amount !== fixed) {
      throw new WalletError({
        code: 'amount_mismatch',
        status: 422,
        title: 'Amount differs from the request',
        detail: `This request is for ${fixed} fen.`,
      });
    }
    const amount = fixed ?? input.amount;
    if (amount === undefined) {
      throw new WalletError({
        code: 'amount_required',
        status: 422,
        title: 'Amount required',
        detail: 'This request has no amount: enter one.',
      });
    }
    const { rows } = await this.#db.query<{ requester_customer_id: string }>(
      `select requester_customer_id from wallet_payment_requests where id = $1`,
      [requestId],
    );
    const payee = { customerId: rows[0]!.requester_customer_id, maskedName: view.requesterMaskedName };
    const request = { kind: 'payment_request', requestId, amount };
    return this.#pay(
      payerId,
      payee,
      { amount, note: view.note ?? undefined, pin: input.pin, request, requestId },
      idempotencyKey,
    );
  }

  async #pay(
    payerId: string,
    payee: { customerId: string; maskedName: string | null },
    input: {
      amount: bigint;
      note?: string | undefined;
      pin: string;
      stepUp?: StepUpProof | undefined;
      request: object;
      requestId: string | null;
    },
    idempotencyKey: string,
  ): Promise<StoredResponse<P2pTransferView> & { replayed: boolean }> {
    checkAmount(input.amount);
    if (payee.customerId === payerId) throw selfTransfer();
    await this.#identity.assertCanMoveMoney(payerId);
    const limits = await this.#identity.limitsFor(payerId);
    // Over the limit is refused whatever the proof, so it is said before asking for any.
    if (input.amount > limits.perTransaction) throw limitExceeded('per_transaction', limits.perTransaction);
    await this.#identity.verifyPaymentPin(payerId, input.pin);
    const secondFactor = await this.#secondFactor(payerId, input.amount, input.stepUp);
    await this.#identity.assertCanMoveMoney(payee.customerId);
    await this.openWallet(payerId);
    await this.openWallet(payee.customerId);
    const [payer, payeeCustomer] = await Promise.all([
      this.#identity.getCustomer(payerId),
      this.#identity.getCustomer(payee.customerId),
    ]);
    const event: RiskEvent = {
      kind: 'p2p_transfer',
      customerId: payerId,
      amount: input.amount,
      currency: CNY.code,
      ...customerFacts(payer),
      counterpartyId: payee.customerId,
      ...(payeeCustomer.phone ? { counterpartyPhone: payeeCustomer.phone } : {}),
    };

    return this.#judged(secondFactor, async (judge) =>
      this.#db.transaction((tx) =>
        once(tx, `wallet.p2p:${payerId}`, idempotencyKey, input.request, async () => {
          await this.#lockCustomer(tx, payerId);
          if (input.requestId !== null) await this.#claimPaymentRequest(tx, input.requestId);
          await this.#checkLimits(tx, payerId, input.amount, limits);
          // Judged last, under the lock and after every other check: what it allows is what moves.
          const evaluation = await judge(event);
          const held = evaluation.decision === 'review';
          const id = newId();
          await tx.query(
            `insert into wallet_p2p_transfers (id, payer_customer_id, payee_customer_id, amount, currency, note,
               payment_request_id, status, risk_evaluation_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [
              id,
              payerId,
              payee.customerId,
              input.amount.toString(),
              CNY.code,
              input.note ?? null,
              input.requestId,
              held ? 'in_review' : 'succeeded',
              evaluation.evaluationId,
            ],
          );
          const transfer = transferId(id, 'p2p');
          await this.#post(tx, {
            id: transfer,
            debitAccountId: walletAccountId(payerId),
            creditAccountId: walletAccountId(payee.customerId),
            amount: input.amount,
            ledger: CNY.ledger,
            code: TransferCode.p2p,
            // Held for review: the payer's money is reserved, the payee sees nothing until it posts.
            ...(held ? { flags: TransferFlags.pending, timeoutSeconds: this.#risk.reviewHoldSeconds } : {}),
          });
          if (held) {
            await this.#risk.openReview(tx, {
              evaluation,
              event,
              subjectType: 'wallet.p2p',
              subjectId: id,
              holdTransferIds: [transfer],
            });
          }
          return {
            status: held ? 202 : 201,
            body: {
              id,
              payeeMaskedName: payee.maskedName,
              amount: Number(input.amount),
              currency: CNY.code,
              note: input.note ?? null,
              status: held ? ('in_review' as const) : ('succeeded' as const),
              createdAt: new Date().toISOString(),
            },
          };
        }),
      ),
    );
  }

  // ---- risk (ADR 10): every movement is judged before it moves ----

  /**
   * Runs a movement that judges itself once (inside its transaction, after its own checks) and records
   * the outcome: `completed` once an allowed movement committed (unless another outcome decides, e.g. the
   * bank's), `failed` if it did not; a held one waits for its review. A challenge or a denial is refused
   * (and recorded failed) by `judge` itself. A challenged request that carries a second factor not yet
   * verified has it verified now, outside the transaction, and runs once more as `stepUpVerified`.
   */
  async #judged<T>(
    secondFactor: SecondFactor,
    work: (judge: (event: RiskEvent) => Promise<RiskEvaluation>) => Promise<T>,
    options: { outcomeOnCommit?: boolean } = {},
  ): Promise<T> {
    let verified = secondFactor.verified;
    let evaluation: RiskEvaluation | null = null;
    const judge = async (event: RiskEvent) => {
      // A retried transaction judges again: the abandoned evaluation moved nothing.
      if (evaluation) await this.#recordQuietly(evaluation.evaluationId, 'failed');
      evaluation = null;
      evaluation = await this.#judge({ ...event, stepUpVerified: verified });
      return evaluation;
    };
    const attempt = async (): Promise<T> => {
      try {
        return await work(judge);
      } catch (error) {
        if (evaluation) await this.#recordQuietly(evaluation.evaluationId, 'failed');
        evaluation = null;
        throw error;
      }
    };
    let result: T;
    try {
      result = await attempt();
    } catch (error) {
      if (!(error instanceof RiskRefusal && error.decision === 'challenge' && secondFactor.verify && !verified)) {
        throw error;
      }
      // Verified only when asked for: a retry of a paid request replays before any proof is needed.
      await secondFactor.verify();
      verified = true;
      result = await attempt();
    }
    const judged = evaluation as RiskEvaluation | null;
    if (judged?.decision === 'allow' && options.outcomeOnCommit !== false) {
      await this.#recordQuietly(judged.evaluationId, 'completed');
    }
    return result;
  }

  /** Evaluates with the request's device and IP; refuses a challenge (step-up) or a denial. */
  async #judge(event: RiskEvent): Promise<RiskEvaluation> {
    const origin = currentRequestOrigin();
    const evaluation = this.#risk.evaluate({
      ...event,
      ...(origin.deviceId ? { deviceId: origin.deviceId } : {}),
      ...(origin.ip ? { ip: origin.ip } : {}),
    });
    if (evaluation.decision === 'allow' || evaluation.decision === 'review') return evaluation;
    await this.#recordQuietly(evaluation.evaluationId, 'failed');
    throw riskRefusal(evaluation, origin.locale);
  }

  /** The outcome of an evaluation; a failure here must never undo or fail a committed movement. */
  async #recordQuietly(evaluationId: string, outcome: 'completed' | 'failed'): Promise<void> {
    // record() only fails when the evaluation is unknown (nothing then to keep track of).
    await this.#risk.record(evaluationId, outcome).catch(() => undefined);
  }

  /**
   * Judges the merchant payment being made in `tx` (a payMerchant transaction): the payments module calls
   * this where every merchant payment is recorded, so QR, checkout and payment-code payments pass through
   * one place. A review answer means the caller holds the money: pending transfers with `holdSeconds`.
   */
  async judgeMerchantPayment(
    tx: SqlExecutor,
    input: { merchantId: string; kind: 'qr' | 'code' },
  ): Promise<{ evaluation: RiskEvaluation; event: RiskEvent; holdSeconds: number }> {
    const payment = this.#merchantPayments.get(tx);
    if (!payment) throw new Error('judgeMerchantPayment outside a payMerchant transaction');
    const event: RiskEvent = {
      kind: input.kind === 'code' ? 'code_payment' : 'qr_payment',
      customerId: payment.payerId,
      amount: payment.amount,
      currency: CNY.code,
      ...payment.facts,
      merchantId: input.merchantId,
    };
    const evaluation = await payment.judge(event);
    return { evaluation, event, holdSeconds: this.#risk.reviewHoldSeconds };
  }

  #registerReviewHandlers(): void {
    this.#risk.onReview('wallet.p2p', {
      approve: async (tx, review) => {
        if ((await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'post')) === 'expired') return 'expired';
        await tx.query(`update wallet_p2p_transfers set status = 'succeeded', posting_transfer_id = $2 where id = $1`, [
          review.subjectId,
          transferId(review.holdTransferIds[0]!, 'risk.post'),
        ]);
        return 'completed';
      },
      close: async (tx, review) => {
        await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'void');
        const { rows } = await tx.query<{ payment_request_id: string | null }>(
          `update wallet_p2p_transfers set status = 'failed' where id = $1 returning payment_request_id`,
          [review.subjectId],
        );
        // A request with an amount was claimed by this payment: it can be paid again.
        const requestId = rows[0]?.payment_request_id;
        if (requestId) {
          await tx.query(
            `update wallet_payment_requests set status = 'open', paid_at = null where id = $1 and status = 'paid'`,
            [requestId],
          );
        }
      },
    });
    this.#risk.onReview('wallet.withdrawal', {
      approve: async (tx, review) => {
        // The review hold times out; the bank's hold must not while the bank may pay: swap one for the other.
        const order = await this.#loadOrder(tx, review.subjectId);
        const swapped = await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'void', {
          after: [this.#withdrawalHold(order.id, order.customer_id, BigInt(order.amount))],
        });
        if (swapped === 'expired') return 'expired';
        await this.#markOrderProcessing(tx, order.id);
        return 'later';
      },
      close: async (tx, review, outcome) => {
        await resolveHolds(this.#ledger, tx, review.holdTransferIds, 'void');
        await this.#failOrder(tx, review.subjectId, outcome);
      },
      afterApprove: (review) => this.#sendOrderToBank(review.subjectId),
    });
    this.#risk.onReview('wallet.top_up', {
      // Nothing was taken yet: approval sends the order to the bank, whose outcome decides.
      approve: async (tx, review) => {
        await this.#markOrderProcessing(tx, review.subjectId);
        return 'later';
      },
      close: async (tx, review, outcome) => this.#failOrder(tx, review.subjectId, outcome),
      afterApprove: (review) => this.#sendOrderToBank(review.subjectId),
    });
  }

  async #markOrderProcessing(tx: SqlExecutor, orderId: string): Promise<void> {
    await tx.query(
      `update wallet_bank_orders set status = 'processing', updated_at = now(),
         deadline_at = now() + ($2 || ' milliseconds')::interval where id = $1 and status = 'in_review'`,
      [orderId, String(this.#deadlineMs)],
    );
  }

  async #failOrder(tx: SqlExecutor, orderId: string, outcome: 'rejected' | 'expired'): Promise<void> {
    await tx.query(
      `update wallet_bank_orders set status = 'failed', failure_reason = $2, updated_at = now(), completed_at = now()
       where id = $1 and status = 'in_review'`,
      [orderId, outcome === 'rejected' ? 'risk_rejected' : 'risk_review_expired'],
    );
  }

  async #sendOrderToBank(orderId: string): Promise<void> {
    const order = await this.#loadOrder(this.#db, orderId);
    const card = await this.#cards.cardForPayment(order.customer_id, order.card_id).catch(() => null);
    // Unsent (card gone, bank down): the poller asks the bank and resends, or fails it at the deadline.
    if (card) await this.#sendToBank(order.id, order.kind, card.cardToken, BigInt(order.amount)).catch(() => undefined);
  }

  #withdrawalHold(orderId: string, customerId: string, amount: bigint): TransferInput {
    return {
      id: transferId(orderId, 'withdrawal.hold'),
      debitAccountId: walletAccountId(customerId),
      creditAccountId: BANK_CLEARING_ACCOUNT_ID,
      amount,
      ledger: CNY.ledger,
      code: TransferCode.withdrawal,
      flags: TransferFlags.pending,
    };
  }

  /**
   * Money leaving wallets through another module (merchant payments) counts against the same limits:
   * that module registers how much a customer paid through it today and this year.
   */
  countOutgoing(source: OutgoingSource): void {
    this.#outgoingSources.push(source);
  }

  /** Lists another module's movements (e.g. merchant payments) in the history and the monthly bill. */
  listMovementsFrom(source: MovementSourceSql): void {
    this.#movementSources.push(source);
  }

  /**
   * Hands out the one capability that lets payMerchant skip the PIN for a verified payment code. Called
   * once, by services.ts for the payments module's payment codes; a second call is a programming error.
   */
  issuePaymentCodeCapability(): PaymentCodeCapability {
    if (this.#paymentCodeCapability) throw new Error('the payment-code capability was already issued');
    this.#paymentCodeCapability = Object.freeze({ issuedTo: 'payment-codes' as const });
    return this.#paymentCodeCapability;
  }

  /**
   * Pays a merchant with the wallet's own checks: account state, limits (under the customer's lock), and
   * the authorisation: the PIN (plus the second factor for large amounts), or a payment code the payment
   * codes service verified, proven by the capability the wallet issued to it. `operation.run` writes the
   * caller's rows and ledger transfers (debiting `payerAccountId`) in the same transaction as the
   * idempotency record, after the customer's lock is taken (so it may check its own per-customer caps).
   */
  async payMerchant<Body>(
    payerId: string,
    input: { amount: bigint; authorization: MerchantPaymentAuthorization },
    operation: {
      scope: string;
      idempotencyKey: string;
      request: object;
      run(tx: SqlExecutor, payerAccountId: string): Promise<StoredResponse<Body>>;
    },
  ): Promise<StoredResponse<Body> & { replayed: boolean }> {
    checkAmount(input.amount);
    await this.#identity.assertCanMoveMoney(payerId);
    const limits = await this.#identity.limitsFor(payerId);
    if (input.amount > limits.perTransaction) throw limitExceeded('per_transaction', limits.perTransaction);
    const { authorization } = input;
    let secondFactor: SecondFactor = { verified: false };
    if (authorization.kind === 'pin') {
      await this.#identity.verifyPaymentPin(payerId, authorization.pin);
      secondFactor = await this.#secondFactor(payerId, input.amount, authorization.stepUp);
    } else if (!this.#paymentCodeCapability || authorization.capability !== this.#paymentCodeCapability) {
      // Only the holder of the issued capability may skip the PIN: anything else is a bug, not a user error.
      throw new Error('payMerchant without a PIN needs the payment-code capability');
    }
    await this.openWallet(payerId);
    const facts = customerFacts(await this.#identity.getCustomer(payerId));
    return this.#judged(secondFactor, (judge) =>
      this.#db.transaction((tx) =>
        once(tx, `${operation.scope}:${payerId}`, operation.idempotencyKey, operation.request, async () => {
          await this.#lockCustomer(tx, payerId);
          await this.#checkLimits(tx, payerId, input.amount, limits);
          // The payments module judges it where it records the payment (judgeMerchantPayment).
          this.#merchantPayments.set(tx, { payerId, amount: input.amount, facts, judge });
          try {
            return await operation.run(tx, walletAccountId(payerId));
          } finally {
            this.#merchantPayments.delete(tx);
          }
        }),
      ),
    );
  }

  /** A request with an amount is paid once; the row lock makes a second payer wait, then see it paid. */
  async #claimPaymentRequest(tx: SqlExecutor, requestId: string): Promise<void> {
    const { rows } = await tx.query<{ status: string; amount: string | null; expired: boolean }>(
      `select status, amount::text, expires_at < now() as expired from wallet_payment_requests where id = $1 for update`,
      [requestId],
    );
    const row = rows[0];
    if (!row) throw new NotFoundError('No such payment request.');
    if (row.status !== 'open' || row.expired) {
      throw new WalletError({
        code: 'payment_request_closed',
        status: 409,
        title: 'Payment request closed',
        detail: 'This payment request was already paid, or has expired.',
      });
    }
    if (row.amount !== null) {
      await tx.query(`update wallet_payment_requests set status = 'paid', paid_at = now() where id = $1`, [requestId]);
    }
  }

  /**
   * Starts a top-up from a bound card: the order is stored, then the bank is asked to debit the card.
   * The wallet is credited only when the bank's signed callback or the status query says it succeeded.
   */
  async startTopUp(customerId: string, input: { cardId: string; amount: bigint }, idempotencyKey: string) {
    return this.#startBankOrder(customerId, 'top_up', { ...input, secondFactor: { verified: false } }, idempotencyKey);
  }

  /**
   * Starts a withdrawal to a bound card: the amount is held at once (a pending transfer), then the bank
   * is asked to credit the card. The hold is posted on success and voided on failure.
   */
  async startWithdrawal(
    customerId: string,
    input: { cardId: string; amount: bigint; pin: string; stepUp?: StepUpProof | undefined },
    idempotencyKey: string,
  ) {
    const limits = await this.#identity.limitsFor(customerId);
    if (input.amount > limits.perTransaction) throw limitExceeded('per_transaction', limits.perTransaction);
    await this.#identity.verifyPaymentPin(customerId, input.pin);
    const secondFactor = await this.#secondFactor(customerId, input.amount, input.stepUp);
    return this.#startBankOrder(customerId, 'withdrawal', { ...input, secondFactor }, idempotencyKey);
  }

  async #startBankOrder(
    customerId: string,
    kind: 'top_up' | 'withdrawal',
    input: { cardId: string; amount: bigint; secondFactor: SecondFactor },
    idempotencyKey: string,
  ): Promise<StoredResponse<BankOrderView> & { replayed: boolean }> {
    checkAmount(input.amount);
    await this.#identity.assertCanMoveMoney(customerId);
    const card = await this.#cards.cardForPayment(customerId, input.cardId);
    await this.openWallet(customerId);
    const limits = kind === 'withdrawal' ? await this.#identity.limitsFor(customerId) : null;
    const event: RiskEvent = {
      kind,
      customerId,
      amount: input.amount,
      currency: CNY.code,
      ...customerFacts(await this.#identity.getCustomer(customerId)),
      ...(card.fingerprint ? { cardFingerprint: card.fingerprint } : {}),
    };

    const request = { kind, cardId: input.cardId, amount: input.amount };
    // The outcome of an allowed order is the bank's: recorded when it answers (applyBankOutcome).
    const stored = await this.#judged(
      input.secondFactor,
      (judge) =>
        this.#db.transaction((tx) =>
          once(tx, `wallet.${kind}:${customerId}`, idempotencyKey, request, async () => {
            const id = newId();
            if (limits) {
              await this.#lockCustomer(tx, customerId);
              await this.#checkLimits(tx, customerId, input.amount, limits);
            }
            const evaluation = await judge(event);
            const held = evaluation.decision === 'review';
            await tx.query(
              `insert into wallet_bank_orders (id, customer_id, kind, card_id, card_label, amount, currency, status,
               deadline_at, risk_evaluation_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, now() + ($9 || ' milliseconds')::interval, $10)`,
              [
                id,
                customerId,
                kind,
                input.cardId,
                `${card.bankName} ${card.last4}`,
                input.amount.toString(),
                CNY.code,
                held ? 'in_review' : 'processing',
                String(this.#deadlineMs),
                evaluation.evaluationId,
              ],
            );
            const holds: string[] = [];
            if (kind === 'withdrawal') {
              // Held for review: a hold that times out (the review's); otherwise the bank's own hold.
              const hold = held
                ? {
                    ...this.#withdrawalHold(id, customerId, input.amount),
                    id: transferId(id, 'withdrawal.review-hold'),
                    timeoutSeconds: this.#risk.reviewHoldSeconds,
                  }
                : this.#withdrawalHold(id, customerId, input.amount);
              await this.#post(tx, hold);
              holds.push(hold.id);
            }
            if (held) {
              await this.#risk.openReview(tx, {
                evaluation,
                event,
                subjectType: `wallet.${kind}`,
                subjectId: id,
                holdTransferIds: holds,
              });
            }
            return { status: 202, body: orderView(await this.#loadOrder(tx, id)) };
          }),
        ),
      { outcomeOnCommit: false },
    );
    if (stored.body.status === 'processing') {
      // Outside the transaction: the order exists whatever the bank does. A lost request is found by the
      // poller (status query answers "never received") and sent again with the same request id.
      await this.#sendToBank(stored.body.id, kind, card.cardToken, input.amount).catch(() => undefined);
    }
    return stored;
  }

  async #sendToBank(orderId: string, kind: 'top_up' | 'withdrawal', cardToken: string, amount: bigint): Promise<void> {
    await this.#bank.requestPayment({
      requestId: orderId,
      kind: kind === 'top_up' ? 'debit' : 'credit',
      cardToken,
      amount,
      currency: CNY.code,
      callbackUrl: this.#callbackUrl(),
    });
  }

  async order(customerId: string, orderId: string): Promise<BankOrderView> {
    const { rows } = await this.#db.query<BankOrderRow>(
      `select * from wallet_bank_orders where id = $1 and customer_id = $2`,
      [orderId, customerId],
    );
    if (!rows[0]) throw new NotFoundError('No such order.');
    return orderView(rows[0]);
  }

  /**
   * Applies the bank's outcome to an order: credits the wallet (top-up), posts or voids the hold
   * (withdrawal). Idempotent: an order that is already final is left alone, and the transfer ids derive
   * from the order, so a duplicate, late or reordered callback changes nothing.
   */
  async applyBankOutcome(outcome: BankPaymentOutcome): Promise<'applied' | 'ignored'> {
    if (outcome.status === 'processing') return 'ignored';
    const applied = await this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<BankOrderRow>(`select * from wallet_bank_orders where id = $1 for update`, [
        outcome.requestId,
      ]);
      const order = rows[0];
      // An order in review was never sent: nothing the bank says about it can be ours to apply.
      if (!order || order.status === 'succeeded' || order.status === 'failed' || order.status === 'in_review')
        return null;
      const amount = BigInt(order.amount);
      // The bank's answer must be about this order; a mismatch is an incident, not a payment.
      if (BigInt(outcome.amount) !== amount || (outcome.kind === 'debit') !== (order.kind === 'top_up')) {
        throw new WalletError({
          code: 'bank_outcome_mismatch',
          status: 409,
          title: 'Bank outcome does not match the order',
          detail: `The bank's outcome for order ${order.id} names another amount or direction; it was not applied.`,
        });
      }
      const succeeded = outcome.status === 'succeeded';
      if (order.kind === 'top_up' && succeeded) {
        await this.#post(tx, {
          id: transferId(order.id, 'top-up'),
          debitAccountId: BANK_CLEARING_ACCOUNT_ID,
          creditAccountId: walletAccountId(order.customer_id),
          amount,
          ledger: CNY.ledger,
          code: TransferCode.topUp,
        });
      }
      if (order.kind === 'withdrawal') {
        const hold = transferId(order.id, 'withdrawal.hold');
        await this.#post(tx, {
          id: transferId(order.id, succeeded ? 'withdrawal.post' : 'withdrawal.void'),
          pendingId: hold,
          flags: succeeded ? TransferFlags.postPending : TransferFlags.voidPending,
        });
      }
      await tx.query(
        `update wallet_bank_orders set status = $2, failure_reason = $3, bank_reference = $4, updated_at = now(), completed_at = now()
         where id = $1`,
        [
          order.id,
          succeeded ? 'succeeded' : 'failed',
          succeeded ? null : (outcome.reason ?? 'bank_failed'),
          outcome.bankReference ?? null,
        ],
      );
      return { evaluationId: order.risk_evaluation_id, succeeded };
    });
    if (!applied) return 'ignored';
    // The bank's answer is the movement's outcome for the risk engine.
    if (applied.evaluationId) {
      await this.#recordQuietly(applied.evaluationId, applied.succeeded ? 'completed' : 'failed');
    }
    return 'applied';
  }

  /**
   * Settles orders whose callback has not come: asks the bank, applies a final answer, resends a request
   * the bank never received, and fails an order the bank never received once its deadline has passed.
   */
  async pollOpenOrders(limit = 100): Promise<{ checked: number; applied: number }> {
    const { rows } = await this.#db.query<BankOrderRow & { deadline_passed: boolean }>(
      `select *, deadline_at < now() as deadline_passed from wallet_bank_orders
       where status in ('created', 'processing') and updated_at < now() - ($2 || ' milliseconds')::interval
       order by updated_at limit $1`,
      [limit, String(this.#pollAfterMs)],
    );
    let applied = 0;
    for (const order of rows) {
      const outcome = await this.#bank.paymentStatus(order.id).catch(() => undefined);
      if (outcome === undefined) continue; // bank unreachable: try again next round
      if (outcome === null) {
        if (order.deadline_passed) {
          const kind = order.kind === 'top_up' ? 'debit' : 'credit';
          const failed = {
            requestId: order.id,
            kind,
            status: 'failed',
            reason: 'bank_not_received',
            amount: Number(order.amount),
            currency: order.currency,
          } as const;
          if ((await this.applyBankOutcome(failed)) === 'applied') applied += 1;
        } else {
          const card = await this.#cards.cardForPayment(order.customer_id, order.card_id).catch(() => null);
          if (card)
            await this.#sendToBank(order.id, order.kind, card.cardToken, BigInt(order.amount)).catch(() => undefined);
        }
        continue;
      }
      if ((await this.applyBankOutcome(outcome)) === 'applied') applied += 1;
    }
    // Asked about just now: the next round starts with the orders asked about longest ago.
    await this.#db.query(
      `update wallet_bank_orders set updated_at = now() where id = any($1::uuid[]) and status in ('created', 'processing')`,
      [rows.map((order) => order.id)],
    );
    return { checked: rows.length, applied };
  }

  /**
   * Large outgoing payments need a second factor besides the PIN: an SMS code, the authenticator app or a
   * passkey, verified now. Below the threshold a second factor given (the answer to a risk challenge) is
   * verified only if the risk engine asks for it (see #judged).
   */
  async #secondFactor(customerId: string, amount: bigint, stepUp: StepUpProof | undefined): Promise<SecondFactor> {
    if (amount < this.#stepUpThreshold) {
      if (!stepUp || stepUp.pin !== undefined) return { verified: false };
      return { verified: false, verify: () => this.#identity.requireStepUp(customerId, stepUp) };
    }
    if (!stepUp || stepUp.pin !== undefined) {
      throw new WalletError({
        code: 'step_up_required',
        status: 401,
        title: 'Confirmation required',
        detail: `Payments of ${this.#stepUpThreshold} fen or more need an SMS code, an authenticator code or a passkey besides the PIN.`,
        extensions: { threshold: Number(this.#stepUpThreshold) },
      });
    }
    await this.#identity.requireStepUp(customerId, stepUp);
    return { verified: true };
  }

  /** The customer's posted balance: what must be zero before the account can close. */
  async postedBalance(customerId: string): Promise<bigint> {
    const [account] = await this.#ledger.lookupAccounts([walletAccountId(customerId)]);
    return account ? account.creditsPosted - account.debitsPosted : 0n;
  }

  /** Serialises one customer's outgoing money so limit checks see every earlier movement. */
  async #lockCustomer(tx: SqlExecutor, customerId: string): Promise<void> {
    await tx.query(`select pg_advisory_xact_lock(hashtextextended($1, 0))`, [`wallet:${customerId}`]);
  }

  async #checkLimits(tx: SqlExecutor, customerId: string, amount: bigint, limits: Limits): Promise<void> {
    if (amount > limits.perTransaction) throw limitExceeded('per_transaction', limits.perTransaction);
    const { rows } = await tx.query<{ today: string | null; year: string | null }>(
      `with outgoing as (
         select amount, created_at from wallet_p2p_transfers where payer_customer_id = $1 and status <> 'failed'
         union all
         select amount, created_at from wallet_bank_orders where customer_id = $1 and kind = 'withdrawal' and status <> 'failed'
       )
       select sum(amount) filter (where (created_at at time zone $2)::date = (now() at time zone $2)::date)::text as today,
              sum(amount) filter (where $3 or date_trunc('year', created_at at time zone $2) = date_trunc('year', now() at time zone $2))::text as year
       from outgoing`,
      [customerId, this.#timeZone, limits.yearlyPeriod === 'since_opening'],
    );
    let today = BigInt(rows[0]?.today ?? 0);
    let year = BigInt(rows[0]?.year ?? 0);
    for (const source of this.#outgoingSources) {
      const elsewhere = await source(tx, customerId, this.#timeZone, limits.yearlyPeriod === 'since_opening');
      today += elsewhere.today;
      year += elsewhere.year;
    }
    if (today + amount > limits.daily) throw limitExceeded('daily', limits.daily);
    if (year + amount > limits.yearly) throw limitExceeded('yearly', limits.yearly);
  }

  async #post(tx: SqlExecutor, transfer: TransferInput): Promise<TransferResult> {
    const [result] = await this.#ledger.createTransfers(tx, [transfer]);
    if (!result) throw new Error('ledger returned no result');
    if (result.result === 'ok' || result.result === 'exists') return result;
    if (result.result === 'exceeds_credits') throw insufficientFunds();
    // Anything else is a bug in how the wallet builds transfers: fail loudly, roll everything back.
    throw new Error(`ledger refused wallet transfer ${transfer.id}: ${result.result}`);
  }

  async #loadOrder(tx: SqlExecutor | Database, id: string): Promise<BankOrderRow> {
    const { rows } = await tx.query<BankOrderRow>(`select * from wallet_bank_orders where id = $1`, [id]);
    if (!rows[0]) throw new Error(`order ${id} vanished`);
    return rows[0];
  }
}

function checkAmount(amount: bigint): void {
  if (amount <= 0n || amount > AMOUNT_MAX) {
    throw new WalletError({
      code: 'amount_out_of_range',
      status: 422,
      title: 'Amount out of range',
      detail: `The amount must be between 1 and ${AMOUNT_MAX} fen.`,
    });
  }
}

function selfTransfer() {
  return new WalletError({
    code: 'payee_is_payer',
    status: 422,
    title: 'Cannot pay yourself',
    detail: 'Choose another customer to pay.',
  });
}

function limitExceeded(which: 'per_transaction' | 'daily' | 'yearly', limit: bigint) {
  return new WalletError({
    code: 'limit_exceeded',
    status: 422,
    title: 'Payment limit exceeded',
    detail: `This would exceed your ${which.replace('_', '-')} limit of ${limit} fen for your payment account class.`,
    extensions: { limit: which, limitAmount: Number(limit) },
  });
}

function iso(value: Date | string | null): string | null {
  if (value === null) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

function orderView(row: BankOrderRow): BankOrderView {
  return {
    id: row.id,
    kind: row.kind,
    cardId: row.card_id,
    amount: Number(row.amount),
    currency: row.currency,
    status: row.status,
    failureReason: row.failure_reason,
    createdAt: iso(row.created_at)!,
    completedAt: iso(row.completed_at),
  };
}

/** The merchant payment a payMerchant transaction is making, until the payments module judges it. */
interface MerchantPaymentInProgress {
  payerId: string;
  amount: bigint;
  facts: Pick<RiskEvent, 'accountClass' | 'phone'>;
  judge: (event: RiskEvent) => Promise<RiskEvaluation>;
}

/** What the engine knows of the customer: account class and phone (for class limits and blocked lists). */
function customerFacts(customer: {
  phone?: string;
  accountClass?: 'I' | 'II' | 'III';
}): Pick<RiskEvent, 'accountClass' | 'phone'> {
  return {
    ...(customer.accountClass ? { accountClass: customer.accountClass } : {}),
    ...(customer.phone ? { phone: customer.phone } : {}),
  };
}

/**
 * A challenge or a denial, with the reasons in the caller's language: a challenge asks for a second factor
 * (401 `step_up_required`, the request repeated with `stepUp`), a denial refuses (422 `risk_denied`).
 */
/** A second factor for this request: verified already, or verifiable if the risk engine asks for one. */
interface SecondFactor {
  verified: boolean;
  verify?: () => Promise<void>;
}

/** The risk engine's challenge or denial of a movement. */
export class RiskRefusal extends WalletError {
  constructor(
    readonly decision: 'challenge' | 'deny',
    options: ConstructorParameters<typeof WalletError>[0],
  ) {
    super(options);
  }
}

export function riskRefusal(evaluation: RiskEvaluation, locale: 'zh-CN' | 'en'): RiskRefusal {
  const reasons = evaluation.reasons.map((reason) => ({ code: reason.code, text: reason.text[locale] }));
  const texts = reasons.map((reason) => reason.text).join(' ');
  if (evaluation.decision === 'challenge') {
    return new RiskRefusal('challenge', {
      code: 'step_up_required',
      status: 401,
      title: 'Confirmation required',
      detail: texts || 'Confirm this payment with an SMS code, an authenticator code or a passkey besides the PIN.',
      extensions: { reasons },
    });
  }
  return new RiskRefusal('deny', {
    code: 'risk_denied',
    status: 422,
    title: 'Payment refused',
    detail: texts || 'For your security this payment cannot be made.',
    extensions: { reasons },
  });
}

export type { RiskEventKind, ReviewView };
