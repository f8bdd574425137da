/**
 * Cards at the bank: any Luhn-valid number is a card, opened on first sight with the phone of that
 * first verification. Verifications send a 6-digit code by SMS; a confirmed one yields an opaque token.
 */
import { randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { setBounded } from './bounded.js';
import { PHONE_PATTERN, type SmsCenter } from './sms.js';

export const VERIFICATION_TTL_MS = 5 * 60_000;
export const VERIFICATION_ATTEMPTS_MAX = 5;
export const CARDS_MAX = 100_000;
export const VERIFICATIONS_MAX = 100_000;
export const TOKENS_MAX = 100_000;
/** Always declined, for tests. */
export const DECLINED_CARD_PREFIX = '4000000000000002';
const CARD_DIGITS_MIN = 12;
const CARD_DIGITS_MAX = 19;
const REQUEST_ID_LENGTH_MAX = 128;
const HOLDER_NAME_LENGTH_MAX = 100;

export interface Card {
  number: string;
  phone: string;
  /** Available balance in minor units (fen). */
  balance: bigint;
}

interface Verification {
  verificationId: string;
  requestId: string;
  cardNumber: string;
  holderName: string;
  phone: string;
  code: string;
  expiresAtMs: number;
  failedAttempts: number;
  cardToken?: string;
}

export interface VerificationRequest {
  requestId: string;
  cardNumber: string;
  holderName: string;
  phone: string;
}

export type VerificationRefusal = 'card_invalid' | 'phone_mismatch' | 'card_declined' | 'request_id_reused';
export type ConfirmRefusal = 'not_found' | 'code_invalid' | 'code_expired' | 'too_many_attempts';

export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** Spaces and dashes are how people write card numbers; the bank keeps digits only. */
export function normalizeCardNumber(raw: string): string {
  return raw.replace(/[\s-]/g, '');
}

export class CardBank {
  readonly #cards = new Map<string, Card>();
  readonly #verifications = new Map<string, Verification>();
  /** requestId → verificationId, so a retried request does not send a second code. */
  readonly #verificationByRequest = new Map<string, string>();
  readonly #cardByToken = new Map<string, string>();

  constructor(
    private readonly sms: SmsCenter,
    private readonly now: () => number,
    private readonly openingBalance: bigint,
  ) {}

  startVerification(request: VerificationRequest): { verificationId: string; expiresAt: string } | VerificationRefusal {
    const cardNumber = normalizeCardNumber(request.cardNumber);
    const existingId = this.#verificationByRequest.get(request.requestId);
    const existing = existingId === undefined ? undefined : this.#verifications.get(existingId);
    if (existing !== undefined) {
      const same =
        existing.cardNumber === cardNumber &&
        existing.holderName === request.holderName &&
        existing.phone === request.phone;
      return same ? this.#describe(existing) : 'request_id_reused';
    }

    if (!/^\d+$/.test(cardNumber) || cardNumber.length < CARD_DIGITS_MIN || cardNumber.length > CARD_DIGITS_MAX) {
      return 'card_invalid';
    }
    if (!passesLuhn(cardNumber)) return 'card_invalid';
    if (cardNumber.startsWith(DECLINED_CARD_PREFIX)) return 'card_declined';
    let card = this.#cards.get(cardNumber);
    if (card === undefined) {
      card = { number: cardNumber, phone: request.phone, balance: this.openingBalance };
      setBounded(this.#cards, cardNumber, card, CARDS_MAX);
    }
    if (card.phone !== request.phone) return 'phone_mismatch';

    const verification: Verification = {
      verificationId: randomUUID(),
      requestId: request.requestId,
      cardNumber,
      holderName: request.holderName,
      phone: card.phone,
      code: randomInt(0, 1_000_000).toString().padStart(6, '0'),
      expiresAtMs: this.now() + VERIFICATION_TTL_MS,
      failedAttempts: 0,
    };
    setBounded(this.#verifications, verification.verificationId, verification, VERIFICATIONS_MAX);
    setBounded(this.#verificationByRequest, request.requestId, verification.verificationId, VERIFICATIONS_MAX);
    this.sms.send(
      card.phone,
      `[Bank] Your card verification code is ${verification.code} (card ending ${cardNumber.slice(-4)}). ` +
        'It expires in 5 minutes. Do not share it.',
    );
    return this.#describe(verification);
  }

  confirm(
    verificationId: string,
    code: string,
  ): { cardToken: string; last4: string; cardType: 'debit' } | ConfirmRefusal {
    const verification = this.#verifications.get(verificationId);
    if (verification === undefined) return 'not_found';
    const right = codesEqual(code, verification.code);
    // A confirmed verification replayed with its code answers the same token (a retry after a lost answer).
    if (verification.cardToken !== undefined && right) return this.#describeCard(verification.cardToken, verification);
    if (verification.failedAttempts >= VERIFICATION_ATTEMPTS_MAX) return 'too_many_attempts';
    if (this.now() > verification.expiresAtMs) return 'code_expired';
    if (!right) {
      verification.failedAttempts += 1;
      return 'code_invalid';
    }
    const cardToken = `ctok_${randomBytes(24).toString('base64url')}`;
    verification.cardToken = cardToken;
    setBounded(this.#cardByToken, cardToken, verification.cardNumber, TOKENS_MAX);
    return this.#describeCard(cardToken, verification);
  }

  cardForToken(cardToken: string): Card | undefined {
    const number = this.#cardByToken.get(cardToken);
    return number === undefined ? undefined : this.#cards.get(number);
  }

  clear(): void {
    this.#cards.clear();
    this.#verifications.clear();
    this.#verificationByRequest.clear();
    this.#cardByToken.clear();
  }

  #describe(verification: Verification): { verificationId: string; expiresAt: string } {
    return { verificationId: verification.verificationId, expiresAt: new Date(verification.expiresAtMs).toISOString() };
  }

  #describeCard(
    cardToken: string,
    verification: Verification,
  ): { cardToken: string; last4: string; cardType: 'debit' } {
    return { cardToken, last4: verification.cardNumber.slice(-4), cardType: 'debit' };
  }
}

function codesEqual(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  // timingSafeEqual throws on different lengths; compare byte lengths, not characters ("é" is two bytes).
  return a.length === b.length && timingSafeEqual(a, b);
}

const verificationBodySchema = {
  type: 'object',
  properties: {
    requestId: { type: 'string', minLength: 1, maxLength: REQUEST_ID_LENGTH_MAX },
    // Digits with optional spaces or dashes; the Luhn check and the length answer 422 card_invalid.
    cardNumber: { type: 'string', minLength: 1, maxLength: 32, pattern: '^[0-9 -]+$' },
    holderName: { type: 'string', minLength: 1, maxLength: HOLDER_NAME_LENGTH_MAX },
    phone: { type: 'string', pattern: PHONE_PATTERN },
  },
  required: ['requestId', 'cardNumber', 'holderName', 'phone'],
} as const;

const STATUS_BY_REFUSAL: Record<VerificationRefusal | ConfirmRefusal, number> = {
  card_invalid: 422,
  phone_mismatch: 422,
  card_declined: 422,
  request_id_reused: 409,
  not_found: 404,
  code_invalid: 422,
  code_expired: 422,
  too_many_attempts: 422,
};

export function registerCardRoutes(app: FastifyInstance, cards: CardBank): void {
  app.post<{ Body: VerificationRequest }>(
    '/v1/cards/verifications',
    {
      schema: {
        body: verificationBodySchema,
        response: {
          201: {
            type: 'object',
            properties: { verificationId: { type: 'string' }, expiresAt: { type: 'string' } },
            required: ['verificationId', 'expiresAt'],
          },
        },
      },
    },
    async (request, reply) => {
      const result = cards.startVerification(request.body);
      if (typeof result === 'string') return reply.code(STATUS_BY_REFUSAL[result]).send({ code: result });
      return reply.code(201).send(result);
    },
  );

  app.post<{ Params: { verificationId: string }; Body: { code: string } }>(
    '/v1/cards/verifications/:verificationId/confirm',
    {
      schema: {
        params: {
          type: 'object',
          properties: { verificationId: { type: 'string', maxLength: 64 } },
          required: ['verificationId'],
        },
        body: {
          type: 'object',
          // Any short string: a mistyped code is the bank's "code_invalid" (an attempt), not bad input.
          properties: { code: { type: 'string', minLength: 1, maxLength: 16 } },
          required: ['code'],
        },
        response: {
          200: {
            type: 'object',
            properties: { cardToken: { type: 'string' }, last4: { type: 'string' }, cardType: { type: 'string' } },
            required: ['cardToken', 'last4', 'cardType'],
          },
        },
      },
    },
    async (request, reply) => {
      const result = cards.confirm(request.params.verificationId, request.body.code);
      if (typeof result === 'string') return reply.code(STATUS_BY_REFUSAL[result]).send({ code: result });
      return result;
    },
  );
}
