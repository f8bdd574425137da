/** HTTP for the merchant portal's reports: takings per business date, the payments list and its CSV export. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../platform/errors.js';
import { queryInteger } from '../../platform/query.js';
import { merchantGuard, merchantOf } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';
import { PAYMENTS_PAGE_MAX, REPORT_DAYS_MAX, type PaymentFilters } from './reporting.service.js';

const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema };

const paymentItem = z.object({
  id: z.uuid(),
  merchantId: z.uuid(),
  merchantName: z.string(),
  orderId: z.uuid().nullable(),
  method: z.enum(['static_qr', 'dynamic_qr', 'checkout', 'payment_code']),
  amount: z.number().int(),
  fee: z.number().int().describe('Merchant fee in fen'),
  feeRateBps: z.number().int(),
  refundedAmount: z.number().int(),
  currency: z.string(),
  status: z
    .enum(['succeeded', 'processing', 'in_review', 'failed'])
    .describe('`in_review`: held by the risk engine until an analyst decides; `failed`: rejected or expired'),
  createdAt: z.string(),
});

const dateOrInstant = z
  .string()
  .max(40)
  .refine(
    (value) => /^\d{4}-\d{2}-\d{2}$/.test(value) || z.iso.datetime({ offset: true }).safeParse(value).success,
    'a date YYYY-MM-DD or an ISO 8601 instant',
  );

const filters = z.object({
  from: dateOrInstant.optional().describe('Business date (inclusive) or instant (inclusive)'),
  to: dateOrInstant.optional().describe('Business date (inclusive) or instant (exclusive)'),
  status: z
    .enum(['succeeded', 'processing', 'in_review', 'failed', 'partially_refunded', 'refunded'])
    .optional()
    .describe(
      'succeeded / processing / in_review (held by the risk engine) / failed: the payment itself; partially_refunded, refunded (in full): its refunds',
    ),
  method: z.enum(['static_qr', 'dynamic_qr', 'checkout', 'payment_code']).optional(),
});

export const reportingRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const reporting = services.reporting;
  const asMerchant = merchantGuard(app, services.merchants);

  /** A staff member bound to a store sees only that store's payments. */
  const scoped = (request: Parameters<typeof merchantOf>[0], query: z.infer<typeof filters>): PaymentFilters => ({
    ...query,
    storeId: merchantOf(request).staff?.storeId ?? null,
  });

  app.get(
    '/merchant/summary',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'Takings per business date (today last) and today so far',
        querystring: z.object({ days: queryInteger(1, REPORT_DAYS_MAX).default(30) }),
        response: {
          200: z.object({
            currency: z.string(),
            today: z.object({ amount: z.number().int(), count: z.number().int() }),
            days: z.array(
              z.object({
                date: z.string(),
                amount: z.number().int(),
                count: z.number().int(),
                refunded: z.number().int(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const merchant = merchantOf(request);
      return reporting.summary(merchant.merchantId, request.query.days, merchant.staff?.storeId ?? null);
    },
  );

  app.get(
    '/merchant/payments',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'Payments, newest first, filtered, a page at a time',
        querystring: filters.extend({
          cursor: z.string().max(200).optional(),
          limit: queryInteger(1, PAYMENTS_PAGE_MAX).default(50),
        }),
        response: { 200: z.object({ items: z.array(paymentItem), nextCursor: z.string().nullable() }), ...errors },
      },
    },
    async (request) => {
      const { cursor, limit, ...query } = request.query;
      return reporting.payments(merchantOf(request).merchantId, scoped(request, query), { cursor, limit });
    },
  );

  app.get(
    '/merchant/payments/export.csv',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'The filtered payments as CSV (UTF-8 with BOM, at most 10,000 rows)',
        querystring: filters,
        response: { 200: z.string().describe('text/csv'), ...errors },
      },
    },
    async (request, reply) => {
      const { csv, truncated } = await reporting.exportCsv(
        merchantOf(request).merchantId,
        scoped(request, request.query),
      );
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="yika-payments.csv"')
        .header('x-export-truncated', String(truncated))
        .send(csv);
    },
  );
};
