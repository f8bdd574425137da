/**
 * The SMS provider: Yika sends its one-time codes here, the bank sends card verification codes here,
 * and the inbox (an open demo and test surface) shows every message to a number, newest first.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { InvalidRequestError } from './http.js';

export const MESSAGES_MAX = 100_000;
export const TEXT_LENGTH_MAX = 1_000;
export const INBOX_LIMIT_DEFAULT = 20;
export const INBOX_LIMIT_MAX = 100;
/** E.164: a plus, a country code and up to 15 digits in all. */
export const PHONE_PATTERN = '^\\+[1-9][0-9]{6,14}$';
const PHONE = new RegExp(PHONE_PATTERN);

export interface SmsMessage {
  messageId: string;
  to: string;
  text: string;
  sentAt: string;
}

export class SmsCenter {
  /** Oldest first; bounded by MESSAGES_MAX. */
  #messages: SmsMessage[] = [];

  constructor(private readonly now: () => number) {}

  send(to: string, text: string): SmsMessage {
    const message = { messageId: randomUUID(), to, text, sentAt: new Date(this.now()).toISOString() };
    this.#messages.push(message);
    if (this.#messages.length > MESSAGES_MAX) this.#messages.shift();
    return message;
  }

  /** Newest first; every number when `to` is undefined. */
  inbox(to: string | undefined, limit: number): SmsMessage[] {
    const found: SmsMessage[] = [];
    for (let index = this.#messages.length - 1; index >= 0 && found.length < limit; index -= 1) {
      const message = this.#messages[index]!;
      if (to === undefined || message.to === to) found.push(message);
    }
    return found;
  }

  clear(): void {
    this.#messages = [];
  }
}

const messageSchema = {
  type: 'object',
  properties: {
    messageId: { type: 'string' },
    to: { type: 'string' },
    text: { type: 'string' },
    sentAt: { type: 'string' },
  },
  required: ['messageId', 'to', 'text', 'sentAt'],
} as const;

interface SendBody {
  to: string;
  text: string;
}

/** `POST /v1/sms`: registered inside the API-key scope. */
export function registerSmsSendRoute(app: FastifyInstance, sms: SmsCenter): void {
  app.post<{ Body: SendBody }>(
    '/v1/sms',
    {
      schema: {
        body: {
          type: 'object',
          properties: {
            to: { type: 'string', pattern: PHONE_PATTERN },
            text: { type: 'string', minLength: 1, maxLength: TEXT_LENGTH_MAX },
          },
          required: ['to', 'text'],
        },
        response: {
          202: { type: 'object', properties: { messageId: { type: 'string' } }, required: ['messageId'] },
        },
      },
    },
    async (request, reply) => {
      const message = sms.send(request.body.to, request.body.text);
      return reply.code(202).send({ messageId: message.messageId });
    },
  );
}

interface InboxQuery {
  to?: string;
  limit?: string;
}

/**
 * `?to=+86…` unencoded arrives as ` 86…` (a `+` in a query string is a space), so a number that lost
 * its plus gets it back.
 */
function normalizeQueryPhone(raw: string): string {
  const trimmed = raw.trim();
  return /^[0-9]/.test(trimmed) ? `+${trimmed}` : trimmed;
}

/** `GET /sms/inbox?to=&limit=`: open, like the other demo surfaces. */
export function registerSmsInboxRoute(app: FastifyInstance, sms: SmsCenter): void {
  app.get<{ Querystring: InboxQuery }>(
    '/sms/inbox',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: {
            to: { type: 'string', maxLength: 32 },
            limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { messages: { type: 'array', items: messageSchema } },
            required: ['messages'],
          },
        },
      },
    },
    async (request) => {
      const to = request.query.to === undefined ? undefined : normalizeQueryPhone(request.query.to);
      if (to !== undefined && !PHONE.test(to)) {
        throw new InvalidRequestError([{ path: 'querystring.to', message: 'must be a phone number in E.164 form' }]);
      }
      const limit = request.query.limit === undefined ? INBOX_LIMIT_DEFAULT : Number(request.query.limit);
      if (limit < 1 || limit > INBOX_LIMIT_MAX) {
        throw new InvalidRequestError([
          { path: 'querystring.limit', message: `must be between 1 and ${INBOX_LIMIT_MAX}` },
        ]);
      }
      return { messages: sms.inbox(to, limit) };
    },
  );
}
