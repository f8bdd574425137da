/** HTTP for payments: merchant codes and orders, customers paying them, refunds. Amounts are integers of fen. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import { requireCustomer } from '../../platform/auth.js';
import { problemSchema } from '../../platform/errors.js';
import { requireIdempotencyKey } from '../../platform/idempotency.js';
import { merchantGuard, merchantOf } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';
import { stepUpProofSchema } from '../identity/index.js';
import { notifyUrlGuard } from '../merchants/index.js';
import { ORDER_TTL_SECONDS_MAX, ORDER_TTL_SECONDS_MIN, PAYMENT_AMOUNT_MAX } from './payments.service.js';

const amount = z.number().int().min(1).max(Number(PAYMENT_AMOUNT_MAX)).describe('Amount in fen (minor units of CNY)');
const pin = z
  .string()
  .regex(/^\d{6}$/, 'six digits')
  .describe('Payment PIN');
const idempotencyHeaders = z.object({ 'idempotency-key': z.string().max(200).optional() });
const idParams = z.object({ id: z.uuid() });

const orderSchema = z
  .object({
    id: z.uuid(),
    merchantId: z.uuid(),
    channel: z.enum(['qr', 'checkout']),
    amount: z.number().int(),
    currency: z.string(),
    description: z.string().nullable(),
    merchantOrderNo: z.string().nullable(),
    notifyUrl: z.string().nullable(),
    returnUrl: z.string().nullable(),
    status: z.enum(['open', 'paid', 'closed', 'expired']),
    paymentId: z.uuid().nullable(),
    qrPayload: z.string().describe('EMVCo MPM payload of the dynamic code for this order'),
    expiresAt: z.string(),
    createdAt: z.string(),
  })
  .meta({ id: 'PaymentOrder' });
const paymentSchema = z
  .object({
    id: z.uuid(),
    merchantId: z.uuid(),
    merchantName: z.string(),
    orderId: z.uuid().nullable(),
    method: z.enum(['static_qr', 'dynamic_qr', 'checkout', 'payment_code']),
    amount: z.number().int(),
    fee: z.number().int().describe('Merchant fee in fen: amount × feeRateBps / 10000, rounded half-up'),
    feeRateBps: z.number().int(),
    refundedAmount: z.number().int(),
    currency: z.string(),
    status: z
      .enum(['succeeded', 'processing', 'in_review', 'failed'])
      .describe('`in_review` (202): held by the risk engine until an analyst decides; `failed`: rejected or expired'),
    createdAt: z.string(),
  })
  .meta({ id: 'MerchantPayment' });
const refundSchema = z
  .object({
    id: z.uuid(),
    paymentId: z.uuid(),
    amount: z.number().int(),
    feeShare: z.number().int().describe('Part of the fee given back to the merchant'),
    reason: z.string().nullable(),
    status: z
      .enum(['succeeded', 'processing', 'in_review', 'failed'])
      .describe('`in_review` (202): held by the risk engine until an analyst decides; `failed`: rejected or expired'),
    createdAt: z.string(),
  })
  .meta({ id: 'Refund' });
const previewSchema = z.object({
  kind: z.enum(['static', 'dynamic']),
  merchant: z.object({ id: z.uuid(), displayName: z.string(), city: z.string(), mcc: z.string() }),
  amount: z.number().int().nullable().describe('Null: the customer enters the amount'),
  currency: z.string(),
  orderId: z.uuid().nullable(),
  description: z.string().nullable(),
  expiresAt: z.string().nullable(),
});
const orderInput = z.object({
  amount,
  description: z.string().max(100).optional(),
  merchantOrderNo: z
    .string()
    .min(1)
    .max(64)
    .optional()
    .describe("The merchant's own order number, unique per merchant"),
  expiresInSeconds: z.number().int().min(ORDER_TTL_SECONDS_MIN).max(ORDER_TTL_SECONDS_MAX).optional(),
  notifyUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
  returnUrl: z
    .url({ protocol: /^https?$/ })
    .max(500)
    .optional(),
});
const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
};
const imageQuery = z.object({ format: z.enum(['png', 'svg']).default('png') });

async function renderQr(payload: string, format: 'png' | 'svg'): Promise<{ type: string; body: Buffer | string }> {
  if (format === 'svg') {
    return {
      type: 'image/svg+xml',
      body: await QRCode.toString(payload, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }),
    };
  }
  return {
    type: 'image/png',
    body: await QRCode.toBuffer(payload, { type: 'png', errorCorrectionLevel: 'M', margin: 2, width: 512 }),
  };
}

export const paymentsRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const payments = services.payments;
  const asMerchant = merchantGuard(app, services.merchants);

  // ---- merchant: codes and orders ----

  app.get(
    '/merchant/qr-codes/static',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: "The merchant's static QR code (the customer enters the amount)",
        response: { 200: z.object({ payload: z.string() }), ...errors },
      },
    },
    async (request) => ({ payload: await payments.staticCode(merchantOf(request).merchantId) }),
  );

  app.get(
    '/merchant/qr-codes/static/image',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'The static QR code as PNG or SVG, to print',
        querystring: imageQuery,
        response: { 200: z.any().describe('image/png or image/svg+xml'), ...errors },
      },
    },
    async (request, reply) => {
      const image = await renderQr(await payments.staticCode(merchantOf(request).merchantId), request.query.format);
      return reply.type(image.type).send(image.body);
    },
  );

  for (const channel of ['qr', 'checkout'] as const) {
    app.post(
      channel === 'qr' ? '/merchant/qr-codes/dynamic' : '/merchant/orders',
      {
        preHandler: [
          asMerchant(channel === 'qr' ? ['owner', 'manager', 'cashier'] : ['owner', 'manager']),
          notifyUrlGuard(services.merchants),
        ],
        schema: {
          tags: ['merchant'],
          summary:
            channel === 'qr'
              ? 'A dynamic QR code: an order for a fixed amount, single use, expiring'
              : 'An online checkout order (the customer pays it on the hosted checkout page)',
          body: orderInput,
          response: { 201: orderSchema, ...errors },
        },
      },
      async (request, reply) => {
        const { amount: fen, ...rest } = request.body;
        const order = await payments.createOrder(merchantOf(request).merchantId, {
          channel,
          amount: BigInt(fen),
          ...rest,
        });
        return reply.code(201).send(order);
      },
    );
  }

  app.get(
    '/merchant/orders/:id',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'Query an order',
        params: idParams,
        response: { 200: orderSchema, ...errors },
      },
    },
    async (request) => payments.order(merchantOf(request).merchantId, request.params.id),
  );

  app.get(
    '/merchant/orders/:id/qr',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: "An order's dynamic QR code as PNG or SVG",
        params: idParams,
        querystring: imageQuery,
        response: { 200: z.any().describe('image/png or image/svg+xml'), ...errors },
      },
    },
    async (request, reply) => {
      const order = await payments.order(merchantOf(request).merchantId, request.params.id);
      const image = await renderQr(order.qrPayload, request.query.format);
      return reply.type(image.type).send(image.body);
    },
  );

  app.post(
    '/merchant/orders/:id/close',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'Close an unpaid order so it can no longer be paid',
        params: idParams,
        response: { 200: orderSchema, ...errors },
      },
    },
    async (request) => payments.closeOrder(merchantOf(request).merchantId, request.params.id),
  );

  // ---- merchant: payments and refunds ----

  // The payments list (filters, cursor paging, CSV export) is in reporting.routes.ts.

  app.get(
    '/merchant/payments/:id',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'A payment',
        params: idParams,
        response: { 200: paymentSchema, ...errors },
      },
    },
    async (request) => payments.payment(merchantOf(request).merchantId, request.params.id),
  );

  app.post(
    '/merchant/payments/:id/refunds',
    {
      preHandler: asMerchant(['owner', 'manager']),
      schema: {
        tags: ['merchant'],
        summary: 'Refund all or part of a payment (several refunds may follow, never above what was paid)',
        headers: idempotencyHeaders,
        params: idParams,
        body: z.object({ amount, reason: z.string().max(100).optional() }),
        response: { 200: refundSchema, 201: refundSchema, 202: refundSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const result = await payments.refund(
        merchantOf(request).merchantId,
        request.params.id,
        { amount: BigInt(request.body.amount), reason: request.body.reason },
        key,
      );
      return reply.code(result.status).header('idempotent-replayed', String(result.replayed)).send(result.body);
    },
  );

  app.get(
    '/merchant/payments/:id/refunds',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: "A payment's refunds",
        params: idParams,
        response: { 200: z.object({ refunds: z.array(refundSchema) }), ...errors },
      },
    },
    async (request) => ({ refunds: await payments.refunds(merchantOf(request).merchantId, request.params.id) }),
  );

  // ---- customers ----

  app.post(
    '/payments/qr/preview',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payments'],
        summary:
          'What a scanned code asks for: merchant and amount (any EMVCo code is parsed; only Yika codes are payable)',
        body: z.object({ payload: z.string().min(1).max(512) }),
        response: { 200: previewSchema, ...errors },
      },
    },
    async (request) => payments.previewQr(request.body.payload),
  );

  app.post(
    '/payments/qr/pay',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payments'],
        summary: 'Pay a merchant QR code with the PIN (static: enter the amount; dynamic: its own amount)',
        headers: idempotencyHeaders,
        body: z.object({
          payload: z.string().min(1).max(512),
          amount: amount.optional(),
          pin,
          stepUp: stepUpProofSchema.optional(),
        }),
        response: { 200: paymentSchema, 201: paymentSchema, 202: paymentSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const { payload, amount: fen, pin: paymentPin, stepUp } = request.body;
      const result = await payments.payQr(
        request.customer!.customerId,
        { payload, amount: fen === undefined ? undefined : BigInt(fen), pin: paymentPin, stepUp },
        key,
      );
      return reply.code(result.status).header('idempotent-replayed', String(result.replayed)).send(result.body);
    },
  );

  app.get(
    '/payments/:id',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payments'],
        summary: 'A payment the customer made to a merchant',
        params: idParams,
        response: { 200: paymentSchema, ...errors },
      },
    },
    async (request) => payments.customerPayment(request.customer!.customerId, request.params.id),
  );

  app.get(
    '/checkout/:id',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payments'],
        summary: 'A checkout order, for the hosted checkout page',
        params: idParams,
        response: { 200: orderSchema.extend({ merchantName: z.string() }), ...errors },
      },
    },
    async (request) => payments.checkout(request.params.id),
  );

  app.post(
    '/checkout/:id/pay',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payments'],
        summary: 'Pay a checkout order with the PIN',
        headers: idempotencyHeaders,
        params: idParams,
        body: z.object({ amount: amount.optional(), pin, stepUp: stepUpProofSchema.optional() }),
        response: { 200: paymentSchema, 201: paymentSchema, 202: paymentSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const { amount: fen, pin: paymentPin, stepUp } = request.body;
      const result = await payments.payCheckout(
        request.customer!.customerId,
        request.params.id,
        { amount: fen === undefined ? undefined : BigInt(fen), pin: paymentPin, stepUp },
        key,
      );
      return reply.code(result.status).header('idempotent-replayed', String(result.replayed)).send(result.body);
    },
  );
};
