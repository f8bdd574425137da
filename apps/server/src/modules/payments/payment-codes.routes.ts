/** HTTP for payment codes: device enrolment and confirmations (wallet), charges (cashier). Amounts in fen. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { customerOf, requireCustomer } from '../../platform/auth.js';
import { problemSchema } from '../../platform/errors.js';
import { requireIdempotencyKey, sendOnce } from '../../platform/idempotency.js';
import { merchantForbidden, merchantGuard, merchantOf } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';
import { stepUpProofSchema } from '../identity/index.js';
import { PAYMENT_AMOUNT_MAX } from './payments.service.js';

const idempotencyHeaders = z.object({ 'idempotency-key': z.string().max(200).optional() });
const idParams = z.object({ id: z.uuid() });
const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
  423: problemSchema,
  429: problemSchema,
};

const chargeSchema = z
  .object({
    id: z.uuid(),
    status: z
      .enum(['succeeded', 'awaiting_confirmation', 'declined', 'expired', 'in_review', 'failed'])
      .describe(
        '`in_review`: paid, but the risk engine holds the money for an analyst (then `succeeded`, or `failed` with nothing paid)',
      ),
    amount: z.number().int(),
    paymentId: z.uuid().nullable().describe('The merchant payment (method payment_code) once succeeded'),
    expiresAt: z.string().nullable().describe('Until when the customer may confirm (awaiting charges only)'),
    createdAt: z.string(),
  })
  .meta({ id: 'PaymentCodeCharge' });
const confirmationSchema = chargeSchema
  .extend({ merchantName: z.string(), currency: z.string(), note: z.string().nullable() })
  .meta({ id: 'PaymentCodeConfirmation' });
const enrolmentSchema = z
  .object({
    deviceIndex: z.string().describe('8 digits: the part of every code that names this enrolment'),
    secret: z.string().describe('Hex HMAC key of the TOTP; shown once, kept on the device'),
    prefix: z.string(),
    algorithm: z.literal('SHA-1'),
    digits: z.number().int(),
    periodSeconds: z.number().int(),
    createdAt: z.string(),
  })
  .meta({ id: 'PaymentCodeEnrolment' });

export const paymentCodesRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const codes = services.paymentCodes;
  const asMerchant = merchantGuard(app, services.merchants);

  // ---- wallet ----

  app.post(
    '/payment-codes/devices',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: 'Enrol this device for payment codes: its secret is returned once (re-enrolling replaces it)',
        description: 'Needs the payment PIN: an enrolled device can pay small amounts without it.',
        body: z.object({ pin: z.string().min(1).max(12).describe('The payment PIN') }),
        response: { 201: enrolmentSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await codes.enrol(customerOf(request), request.body.pin)),
  );

  app.get(
    '/payment-codes/devices/current',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: "This device's enrolment: the app re-enrols when its stored index is not this one",
        response: {
          200: z.object({
            enrolled: z.boolean(),
            deviceIndex: z.string().nullable(),
            status: z.enum(['active', 'locked']).nullable(),
          }),
          ...errors,
        },
      },
    },
    async (request) => codes.device(customerOf(request)),
  );

  app.get(
    '/payment-codes/confirmations',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: 'Charges of my payment code waiting for my confirmation (above the no-PIN limit or cap)',
        response: { 200: z.object({ items: z.array(confirmationSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await codes.confirmations(customerOf(request).customerId) }),
  );

  app.get(
    '/payment-codes/confirmations/:id',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: 'One charge of my payment code',
        params: idParams,
        response: { 200: confirmationSchema, ...errors },
      },
    },
    async (request) => codes.confirmation(customerOf(request).customerId, request.params.id),
  );

  app.post(
    '/payment-codes/confirmations/:id',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: 'Confirm a charge with the PIN (and a second factor for large amounts): it is paid now',
        headers: idempotencyHeaders,
        params: idParams,
        body: z.object({
          pin: z
            .string()
            .regex(/^\d{6}$/, 'six digits')
            .describe('Payment PIN'),
          stepUp: stepUpProofSchema.optional(),
        }),
        response: { 200: confirmationSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const result = await codes.confirm(customerOf(request).customerId, request.params.id, request.body, key);
      return sendOnce(reply, result);
    },
  );

  app.post(
    '/payment-codes/confirmations/:id/decline',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['payment-codes'],
        summary: 'Decline a charge: nothing is paid',
        params: idParams,
        response: { 200: confirmationSchema, ...errors },
      },
    },
    async (request) => codes.decline(customerOf(request).customerId, request.params.id),
  );

  // ---- cashier ----

  app.post(
    '/merchant/payment-code-charges',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary:
          "Charge a customer's payment code (付款码): posts at once up to the no-PIN limit and daily cap, else waits for the customer's confirmation",
        headers: idempotencyHeaders,
        body: z.object({
          code: z
            .string()
            .regex(/^\d{18}$/, '18 digits')
            .describe('The 18-digit code as scanned or typed'),
          amount: z.number().int().min(1).max(Number(PAYMENT_AMOUNT_MAX)).describe('Amount in fen'),
          storeId: z.uuid().optional(),
          note: z.string().max(100).optional(),
        }),
        response: { 200: chargeSchema, 201: chargeSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const { merchantId, staff } = merchantOf(request);
      const { code, amount, storeId, note } = request.body;
      // A cashier bound to a store charges for that store only.
      if (staff?.storeId && storeId !== undefined && storeId !== staff.storeId) {
        throw merchantForbidden('You can charge only for your own store.');
      }
      const result = await codes.charge(
        merchantId,
        { code, amount: BigInt(amount), storeId: storeId ?? staff?.storeId ?? undefined, note },
        key,
      );
      return sendOnce(reply, result);
    },
  );

  app.get(
    '/merchant/payment-code-charges/:id',
    {
      preHandler: asMerchant(['owner', 'manager', 'cashier']),
      schema: {
        tags: ['merchant'],
        summary: 'A payment-code charge (poll it while the customer confirms)',
        params: idParams,
        response: { 200: chargeSchema, ...errors },
      },
    },
    async (request) => codes.chargeView(merchantOf(request).merchantId, request.params.id),
  );
};
