/**
 * Interim operations routes for the risk review queue, guarded by the `OPS_API_TOKEN` bearer until the ops
 * console's staff sign-in (with roles) exists. Thin: everything happens in RiskService.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../platform/errors.js';
import { queryInteger } from '../../platform/query.js';
import { requireOpsToken } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';
import { REVIEWS_PAGE_MAX } from './risk.reviews.js';

const localized = z.object({ 'zh-CN': z.string(), en: z.string() });
const figures = z.record(z.string(), z.union([z.number(), z.string(), z.boolean()]));

const reviewSchema = z
  .object({
    id: z.uuid(),
    evaluationId: z.uuid(),
    kind: z.string().describe('top_up, withdrawal, p2p_transfer, qr_payment, code_payment or refund'),
    subjectType: z.string().describe('The held movement: wallet.p2p, wallet.withdrawal, payments.payment, …'),
    subjectId: z.uuid(),
    customerId: z.string().describe('Who moves the money (for a refund: the merchant)'),
    amount: z.number().int().describe('Fen'),
    currency: z.string(),
    holdTransferIds: z.array(z.uuid()).describe('The pending ledger transfers holding the money'),
    status: z.enum(['pending', 'approved', 'rejected', 'expired']),
    reasons: z.array(z.object({ code: z.string(), ruleId: z.string(), text: localized, figures })),
    ruleHits: z.array(
      z.object({
        ruleId: z.string(),
        name: z.string(),
        decision: z.string(),
        effectiveDecision: z.string(),
        figures,
      }),
    ),
    ruleVersion: z.number().int(),
    expiresAt: z.string().describe('When the hold expires unreviewed and is released'),
    createdAt: z.string(),
    decidedAt: z.string().nullable(),
    decidedBy: z.string().nullable(),
    decisionReason: z.string().nullable(),
  })
  .meta({ id: 'RiskReview' });

const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 409: problemSchema };
const analyst = z.string().trim().min(1).max(100).describe('Who decides (recorded on the review)');
const description =
  'Interim operations route: guarded by the `OPS_API_TOKEN` bearer until the ops console (with staff roles) exists.';

export const riskRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services, config }) => {
  const risk = services.risk;
  const asOps = requireOpsToken(config.OPS_API_TOKEN);

  app.get(
    '/ops/risk/reviews',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'The risk review queue: movements held for an analyst, newest first',
        description,
        querystring: z.object({
          status: z.enum(['pending', 'approved', 'rejected', 'expired']).optional(),
          limit: queryInteger(1, REVIEWS_PAGE_MAX).default(50),
          cursor: z.string().max(200).optional(),
        }),
        response: {
          200: z.object({ items: z.array(reviewSchema), nextCursor: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => risk.reviews(request.query),
  );

  app.get(
    '/ops/risk/reviews/:id',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'One review, with the rule hits and their figures',
        description,
        params: z.object({ id: z.uuid() }),
        response: { 200: reviewSchema, ...errors },
      },
    },
    async (request) => risk.review(request.params.id),
  );

  app.post(
    '/ops/risk/reviews/:id/approve',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'Approve: the held money posts (a withdrawal or top-up goes to the bank)',
        description,
        params: z.object({ id: z.uuid() }),
        body: z.object({ analyst }),
        response: { 200: reviewSchema, ...errors },
      },
    },
    async (request) => risk.approve(request.params.id, request.body.analyst),
  );

  app.post(
    '/ops/risk/reviews/:id/reject',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'Reject: the held money is released and the movement fails',
        description,
        params: z.object({ id: z.uuid() }),
        body: z.object({ analyst, reason: z.string().trim().min(1).max(500) }),
        response: { 200: reviewSchema, ...errors },
      },
    },
    async (request) => risk.reject(request.params.id, request.body.analyst, request.body.reason),
  );
};
