/**
 * A route for the bank's signed callbacks (PROTOCOL.md): the raw body is kept so its HMAC can be checked,
 * a bad signature is 401 `signature_invalid`, a body that is not a payment outcome is 400
 * `callback_invalid`, and a verified outcome goes to `apply`. No session: the signature is the proof.
 * Wallet orders and settlement payouts each have one.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { BankGateway, BankPaymentOutcome } from './bank.js';
import { DomainError } from './errors.js';

const outcomeSchema = z.object({
  requestId: z.uuid(),
  kind: z.enum(['debit', 'credit']),
  status: z.enum(['processing', 'succeeded', 'failed']),
  reason: z.string().max(200).optional(),
  bankReference: z.string().max(200).optional(),
  amount: z.number().int().positive(),
  currency: z.string().length(3),
});

function parseOutcome(raw: string): BankPaymentOutcome {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  const parsed = outcomeSchema.safeParse(json);
  if (!parsed.success) {
    throw new DomainError({
      code: 'callback_invalid',
      status: 400,
      title: 'Invalid callback',
      detail: 'The callback body is not a payment outcome.',
    });
  }
  return parsed.data;
}

export async function bankCallbackRoute(
  app: FastifyInstance,
  options: {
    path: string;
    summary: string;
    gateway: BankGateway;
    apply: (outcome: BankPaymentOutcome) => Promise<unknown>;
  },
): Promise<void> {
  await app.register(async (bank) => {
    bank.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    bank.post(
      options.path,
      { schema: { tags: ['bank'], summary: options.summary, hide: true } },
      async (request, reply) => {
        const raw = typeof request.body === 'string' ? request.body : '';
        const signature = request.headers['x-bank-signature'];
        if (!options.gateway.verifyCallback(typeof signature === 'string' ? signature : undefined, raw)) {
          throw new DomainError({
            code: 'signature_invalid',
            status: 401,
            title: 'Invalid signature',
            detail: 'The callback signature does not verify.',
          });
        }
        await options.apply(parseOutcome(raw));
        return reply.code(204).send();
      },
    );
  });
}
