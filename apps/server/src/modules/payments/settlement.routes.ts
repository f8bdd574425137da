/** HTTP for settlement: the merchant's settlement card, its settlements and their reconciliation files. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { bankCallbackRoute } from '../../platform/bank-callbacks.js';
import { problemSchema } from '../../platform/errors.js';
import { queryInteger } from '../../platform/query.js';
import { merchantGuard, merchantOf } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';
import { BATCH_LIST_LIMIT_MAX } from './settlement.service.js';

const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
  503: problemSchema,
};

const fen = (description: string) => z.number().int().describe(description);

const settlementSchema = z
  .object({
    id: z.uuid(),
    merchantId: z.uuid(),
    businessDate: z.string().describe('YYYY-MM-DD in BUSINESS_TIME_ZONE'),
    windowStart: z.string().describe('Start of the ledger window (inclusive), UTC'),
    windowEnd: z.string().describe('End of the ledger window (exclusive), UTC'),
    gross: fen('Payments in the window, fen'),
    refunds: fen('Refunds in the window, fen'),
    fees: fen('Fees net of the fee share refunds gave back, fen'),
    net: fen('gross − refunds − fees'),
    carriedIn: fen('Carried forward from the previous date (negative: owed by the merchant)'),
    payoutAmount: fen('Paid out to the settlement card'),
    carriedOut: fen('carriedIn + net − payoutAmount, carried to the next date'),
    status: z.enum(['pending', 'paid', 'failed', 'empty']),
    cardLast4: z.string().nullable(),
    failureReason: z.string().nullable(),
    paidAt: z.string().nullable(),
    paymentCount: z.number().int(),
    refundCount: z.number().int(),
    fileSha256: z.string().describe('SHA-256 of the reconciliation file'),
    createdAt: z.string(),
  })
  .meta({ id: 'Settlement' });

const accountSchema = z
  .object({ id: z.uuid(), last4: z.string(), holderName: z.string().describe('Masked'), verifiedAt: z.string() })
  .meta({ id: 'SettlementAccount' });

export const settlementRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const settlement = services.settlement;
  const asMerchant = merchantGuard(app, services.merchants);

  app.get(
    '/merchant/settlement-account',
    {
      preHandler: asMerchant(['owner'], { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: 'The bank card settlements are paid to (null until one is verified)',
        response: { 200: z.object({ account: accountSchema.nullable() }), ...errors },
      },
    },
    async (request) => ({ account: await settlement.account(merchantOf(request).merchantId) }),
  );

  app.post(
    '/merchant/settlement-account/verifications',
    {
      preHandler: asMerchant(['owner'], { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: "Verify a settlement card: the bank sends a code to the card's phone",
        body: z.object({
          cardNumber: z.string().min(12).max(40),
          holderName: z.string().min(1).max(100),
          phone: z.string().regex(/^\+?\d{6,20}$/, 'a phone number'),
        }),
        response: {
          201: z.object({ verificationId: z.uuid(), last4: z.string(), expiresAt: z.string() }),
          ...errors,
        },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await settlement.startAccountVerification(merchantOf(request).merchantId, request.body)),
  );

  app.post(
    '/merchant/settlement-account/verifications/:id/confirm',
    {
      preHandler: asMerchant(['owner'], { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: "Confirm with the bank's code: the card becomes the settlement card",
        params: z.object({ id: z.uuid() }),
        body: z.object({ code: z.string().min(1).max(16) }),
        response: { 200: accountSchema, ...errors },
      },
    },
    async (request) =>
      settlement.confirmAccountVerification(merchantOf(request).merchantId, request.params.id, request.body.code),
  );

  app.get(
    '/merchant/settlements',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'Settlements by business date, newest first (T+1, net of refunds and fees)',
        querystring: z.object({ limit: queryInteger(1, BATCH_LIST_LIMIT_MAX).default(30) }),
        response: { 200: z.object({ items: z.array(settlementSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await settlement.list(merchantOf(request).merchantId, request.query.limit) }),
  );

  app.get(
    '/merchant/settlements/:id',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'A settlement',
        params: z.object({ id: z.uuid() }),
        response: { 200: settlementSchema, ...errors },
      },
    },
    async (request) => settlement.get(merchantOf(request).merchantId, request.params.id),
  );

  app.get(
    '/merchant/settlements/:id/file',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'The reconciliation file (CSV, UTF-8 with BOM): every payment, refund and fee, totals, the payout',
        params: z.object({ id: z.uuid() }),
        response: { 200: z.string().describe('text/csv'), ...errors },
      },
    },
    async (request, reply) => {
      const file = await settlement.file(merchantOf(request).merchantId, request.params.id);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .header('x-content-sha256', file.sha256)
        .send(file.csv);
    },
  );

  await bankCallbackRoute(app, {
    path: '/bank/settlement-callbacks',
    summary: 'Outcome of a settlement payout, signed by the bank',
    gateway: services.bank,
    apply: (outcome) => settlement.applyBankOutcome(outcome),
  });
};
