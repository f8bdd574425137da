/** HTTP for bound cards: bind in one screen (number, bank phone, bank code), list, unbind. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireCustomer } from '../../platform/auth.js';
import { problemSchema } from '../../platform/errors.js';
import type { ModuleContext } from '../../platform/module.js';

const bankName = z.object({ 'zh-CN': z.string(), en: z.string() });
const cardSchema = z.object({
  id: z.uuid(),
  bankCode: z.string(),
  bankName,
  cardType: z.enum(['debit', 'credit']),
  last4: z.string(),
  createdAt: z.string(),
});
const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 409: problemSchema, 422: problemSchema };

export const cardsRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const cards = services.cards;

  app.get(
    '/cards',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['cards'],
        summary: 'Bound cards',
        response: { 200: z.object({ cards: z.array(cardSchema) }), 401: problemSchema },
      },
    },
    async (request) => ({ cards: await cards.list(request.customer!.customerId) }),
  );

  app.post(
    '/cards/verifications',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['cards'],
        summary: 'Start binding a debit card: the bank sends a code to the phone it holds for the card',
        body: z.object({
          cardNumber: z
            .string()
            .min(12)
            .max(23)
            .regex(/^[\d\s-]+$/, 'digits only'),
          phone: z.string().min(3).max(20),
          holderName: z.string().min(1).max(50),
        }),
        response: {
          201: z.object({
            verificationId: z.uuid(),
            bankName,
            cardType: z.string(),
            last4: z.string(),
            expiresAt: z.string(),
          }),
          ...errors,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await cards.startBinding(request.customer!.customerId, request.body)),
  );

  app.post(
    '/cards/verifications/:verificationId/confirm',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['cards'],
        summary: "Finish binding with the bank's code",
        params: z.object({ verificationId: z.uuid() }),
        body: z.object({ code: z.string().regex(/^\d{6}$/, 'six digits') }),
        response: { 201: cardSchema, ...errors },
      },
    },
    async (request, reply) =>
      reply
        .code(201)
        .send(
          await cards.confirmBinding(request.customer!.customerId, request.params.verificationId, request.body.code),
        ),
  );

  app.delete(
    '/cards/:cardId',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['cards'],
        summary: 'Unbind a card',
        params: z.object({ cardId: z.uuid() }),
        response: { 204: z.null(), 401: problemSchema, 404: problemSchema },
      },
    },
    async (request, reply) => {
      await cards.unbind(request.customer!.customerId, request.params.cardId);
      return reply.code(204).send(null);
    },
  );
};
