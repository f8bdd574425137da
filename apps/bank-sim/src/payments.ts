/**
 * Payments: debits (Yika tops up from a card) and credits (Yika withdraws to a card). Accepted at once,
 * decided after the configured latency, then reported by signed callback; idempotent on requestId.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { REORDER_WINDOW_MS_MIN, type CallbackSender } from './callbacks.js';
import type { CardBank } from './cards.js';
import { rollPaymentFaults, type Faults, type PaymentFaultRolls } from './faults.js';
import { setBounded } from './bounded.js';
import type { Timers } from './timers.js';

export const PAYMENTS_MAX = 100_000;
export const AMOUNT_MAX = Number.MAX_SAFE_INTEGER;
const REQUEST_ID_LENGTH_MAX = 128;
const CARD_TOKEN_LENGTH_MAX = 128;
const CALLBACK_URL_LENGTH_MAX = 2_048;
/** The bank's cards hold yuan. */
const CURRENCIES = ['CNY'] as const;

export type PaymentKind = 'debit' | 'credit';
export type PaymentStatus = 'processing' | 'succeeded' | 'failed';
export type FailureReason = 'insufficient_funds' | 'card_unknown' | 'bank_error' | 'bank_timeout';

export interface PaymentRequest {
  requestId: string;
  kind: PaymentKind;
  cardToken: string;
  amount: number;
  currency: (typeof CURRENCIES)[number];
  callbackUrl: string;
}

export interface Payment extends PaymentRequest {
  status: PaymentStatus;
  reason?: FailureReason;
  bankReference?: string;
  completedAt?: string;
}

/** What the bank POSTs to `callbackUrl` when a payment is decided. */
export interface BankCallback {
  requestId: string;
  kind: PaymentKind;
  status: Exclude<PaymentStatus, 'processing'>;
  reason?: FailureReason;
  bankReference: string;
  amount: number;
  currency: string;
  /** ISO 8601 UTC. */
  completedAt: string;
}

export interface PaymentDependencies {
  cards: CardBank;
  callbacks: CallbackSender;
  faults: Faults;
  timers: Timers;
  random: () => number;
  now: () => number;
}

function sameRequest(a: PaymentRequest, b: PaymentRequest): boolean {
  return (
    a.kind === b.kind &&
    a.cardToken === b.cardToken &&
    a.amount === b.amount &&
    a.currency === b.currency &&
    a.callbackUrl === b.callbackUrl
  );
}

export class PaymentProcessor {
  readonly #payments = new Map<string, Payment>();

  constructor(private readonly deps: PaymentDependencies) {}

  /** The payment (new or already known), or 'request_id_reused' for a known requestId with another body. */
  submit(request: PaymentRequest): Payment | 'request_id_reused' {
    const known = this.#payments.get(request.requestId);
    if (known !== undefined) return sameRequest(known, request) ? known : 'request_id_reused';

    const payment: Payment = { ...request, status: 'processing' };
    setBounded(this.#payments, payment.requestId, payment, PAYMENTS_MAX);
    // Rolled now, in submission order, so a seeded run is reproducible whatever the timings.
    const rolls = rollPaymentFaults(this.deps.faults, this.deps.random);
    const delayMs = rolls.timeout ? this.deps.faults.timeoutMs : this.deps.faults.latencyMs;
    this.deps.timers.schedule(() => this.#complete(payment, rolls), delayMs);
    return payment;
  }

  get(requestId: string): Payment | undefined {
    return this.#payments.get(requestId);
  }

  clear(): void {
    this.#payments.clear();
  }

  #decide(payment: Payment, rolls: PaymentFaultRolls): FailureReason | null {
    if (rolls.timeout) return 'bank_timeout';
    if (rolls.fail) return 'bank_error';
    const card = this.deps.cards.cardForToken(payment.cardToken);
    if (card === undefined) return 'card_unknown';
    const amount = BigInt(payment.amount);
    if (payment.kind === 'debit') {
      if (card.balance < amount) return 'insufficient_funds';
      card.balance -= amount;
    } else {
      card.balance += amount;
    }
    return null;
  }

  #complete(payment: Payment, rolls: PaymentFaultRolls): void {
    const reason = this.#decide(payment, rolls);
    const callback: BankCallback = {
      requestId: payment.requestId,
      kind: payment.kind,
      status: reason === null ? 'succeeded' : 'failed',
      ...(reason === null ? {} : { reason }),
      bankReference: `BK${randomUUID().replaceAll('-', '').slice(0, 20).toUpperCase()}`,
      amount: payment.amount,
      currency: payment.currency,
      completedAt: new Date(this.deps.now()).toISOString(),
    };
    Object.assign(payment, {
      status: callback.status,
      reason: callback.reason,
      bankReference: callback.bankReference,
      completedAt: callback.completedAt,
    });
    if (rolls.dropCallback) return;

    const body = JSON.stringify(callback);
    const faults = this.deps.faults;
    this.deps.callbacks.send(payment.callbackUrl, body, {
      duplicates: faults.duplicateCallbacks,
      badSignatureFirst: rolls.badSignature,
      holdBackMsMax: faults.reorder ? Math.max(2 * faults.latencyMs, REORDER_WINDOW_MS_MIN) : 0,
    });
  }
}

const paymentBodySchema = {
  type: 'object',
  properties: {
    requestId: { type: 'string', minLength: 1, maxLength: REQUEST_ID_LENGTH_MAX },
    kind: { type: 'string', enum: ['debit', 'credit'] },
    cardToken: { type: 'string', minLength: 1, maxLength: CARD_TOKEN_LENGTH_MAX },
    amount: { type: 'integer', minimum: 1, maximum: AMOUNT_MAX },
    currency: { type: 'string', enum: CURRENCIES },
    callbackUrl: { type: 'string', maxLength: CALLBACK_URL_LENGTH_MAX, pattern: '^https?://[^\\s]+$' },
  },
  required: ['requestId', 'kind', 'cardToken', 'amount', 'currency', 'callbackUrl'],
} as const;

const paymentStatusSchema = {
  type: 'object',
  properties: {
    requestId: { type: 'string' },
    kind: { type: 'string' },
    status: { type: 'string' },
    reason: { type: 'string' },
    bankReference: { type: 'string' },
    amount: { type: 'integer' },
    currency: { type: 'string' },
  },
  required: ['requestId', 'kind', 'status', 'amount', 'currency'],
} as const;

export function registerPaymentRoutes(app: FastifyInstance, payments: PaymentProcessor): void {
  app.post<{ Body: PaymentRequest }>(
    '/v1/payments',
    {
      schema: {
        body: paymentBodySchema,
        response: {
          202: {
            type: 'object',
            properties: { requestId: { type: 'string' }, status: { type: 'string' } },
            required: ['requestId', 'status'],
          },
        },
      },
    },
    async (request, reply) => {
      const result = payments.submit(request.body);
      if (result === 'request_id_reused') return reply.code(409).send({ code: result });
      return reply.code(202).send({ requestId: result.requestId, status: result.status });
    },
  );

  app.get<{ Params: { requestId: string } }>(
    '/v1/payments/:requestId',
    {
      schema: {
        params: {
          type: 'object',
          properties: { requestId: { type: 'string', minLength: 1, maxLength: REQUEST_ID_LENGTH_MAX } },
          required: ['requestId'],
        },
        response: { 200: paymentStatusSchema },
      },
    },
    async (request, reply) => {
      const payment = payments.get(request.params.requestId);
      if (payment === undefined) return reply.code(404).send({ code: 'not_found' });
      // The response schema leaves out what Yika is not told here (card token, callback URL, completedAt).
      return payment;
    },
  );
}
