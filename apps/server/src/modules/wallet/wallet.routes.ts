/** HTTP for the wallet: thin handlers that call WalletService. Amounts are integers of fen. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import QRCode from 'qrcode';
import { z } from 'zod';
import { requireCustomer } from '../../platform/auth.js';
import { bankCallbackRoute } from '../../platform/bank-callbacks.js';
import { DomainError, problemSchema } from '../../platform/errors.js';
import { queryInteger } from '../../platform/query.js';
import { requireIdempotencyKey, sendOnce } from '../../platform/idempotency.js';
import type { ModuleContext } from '../../platform/module.js';
import { stepUpProofSchema } from '../identity/index.js';
import { MOVEMENT_TYPES, MOVEMENTS_PAGE_MAX } from './history.js';
import { AMOUNT_MAX } from './wallet.service.js';

const amount = z.number().int().min(1).max(Number(AMOUNT_MAX)).describe('Amount in fen (minor units of CNY)');
const phone = z.string().min(3).max(20).describe('Mobile number in E.164, e.g. +8613800138000');
const pin = z
  .string()
  .regex(/^\d{6}$/, 'six digits')
  .describe('Payment PIN');
const idempotencyHeaders = z.object({ 'idempotency-key': z.string().max(200).optional() });

const balanceSchema = z.object({ currency: z.string(), available: z.number().int(), held: z.number().int() });
const orderSchema = z.object({
  id: z.uuid(),
  kind: z.enum(['top_up', 'withdrawal']),
  cardId: z.uuid(),
  amount: z.number().int(),
  currency: z.string(),
  status: z
    .enum(['created', 'processing', 'succeeded', 'failed', 'in_review'])
    .describe('`in_review`: held by the risk engine until an analyst decides; not sent to the bank yet'),
  failureReason: z.string().nullable(),
  createdAt: z.string(),
  completedAt: z.string().nullable(),
});
const transferSchema = z.object({
  id: z.uuid(),
  payeeMaskedName: z.string().nullable(),
  amount: z.number().int(),
  currency: z.string(),
  note: z.string().nullable(),
  status: z
    .enum(['succeeded', 'in_review'])
    .describe('`in_review` (202): the money is held until a risk analyst approves (posted) or rejects (released)'),
  createdAt: z.string(),
});
const movementSchema = z.object({
  id: z.uuid(),
  type: z.enum(MOVEMENT_TYPES),
  amount: z.number().int().describe('Signed fen: positive into the wallet'),
  currency: z.string(),
  status: z.enum(['processing', 'in_review', 'succeeded', 'failed']),
  counterparty: z.string().nullable(),
  note: z.string().nullable(),
  balanceAfter: z.number().int().nullable(),
  createdAt: z.string(),
});
const billSchema = z.object({
  month: z.string(),
  currency: z.string(),
  openingBalance: z.number().int(),
  closingBalance: z.number().int(),
  income: z.number().int(),
  spending: z.number().int(),
  byCategory: z.array(
    z.object({ category: z.enum(MOVEMENT_TYPES), count: z.number().int(), amount: z.number().int() }),
  ),
});
const paymentRequestSchema = z.object({
  id: z.uuid(),
  requesterMaskedName: z.string().nullable(),
  amount: z.number().int().nullable(),
  currency: z.string(),
  note: z.string().nullable(),
  status: z.enum(['open', 'paid', 'expired']),
  expiresAt: z.string(),
});
const errors = { 400: problemSchema, 401: problemSchema, 404: problemSchema, 409: problemSchema, 422: problemSchema };

export const walletRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services, config }) => {
  const wallet = services.wallet;

  app.get(
    '/wallet',
    {
      preHandler: requireCustomer,
      schema: { tags: ['wallet'], summary: 'Balance', response: { 200: balanceSchema, 401: problemSchema } },
    },
    async (request) => {
      const balance = await wallet.balance(request.customer!.customerId);
      return { currency: balance.currency, available: Number(balance.available), held: Number(balance.held) };
    },
  );

  app.post(
    '/wallet/payee-preview',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Confirm who a mobile number belongs to (masked name) before paying',
        body: z.object({ phone }),
        response: { 200: z.object({ maskedName: z.string().nullable() }), ...errors },
      },
    },
    async (request) => wallet.previewPayee(request.customer!.customerId, request.body.phone),
  );

  app.post(
    '/wallet/transfers',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Pay another customer by mobile number',
        headers: idempotencyHeaders,
        body: z.object({
          phone,
          amount,
          note: z.string().max(100).optional(),
          pin,
          stepUp: stepUpProofSchema.optional(),
        }),
        response: { 200: transferSchema, 201: transferSchema, 202: transferSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const { phone: payeePhone, amount: fen, note, pin: paymentPin, stepUp } = request.body;
      const result = await wallet.transfer(
        request.customer!.customerId,
        { phone: payeePhone, amount: BigInt(fen), note, pin: paymentPin, stepUp },
        key,
      );
      return sendOnce(reply, result);
    },
  );

  for (const kind of ['top-ups', 'withdrawals'] as const) {
    app.post(
      `/wallet/${kind}`,
      {
        preHandler: requireCustomer,
        schema: {
          tags: ['wallet'],
          summary: kind === 'top-ups' ? 'Top up from a bound card' : 'Withdraw to a bound card',
          headers: idempotencyHeaders,
          body:
            kind === 'top-ups' ? z.object({ cardId: z.uuid(), amount }) : z.object({ cardId: z.uuid(), amount, pin }),
          response: { 202: orderSchema, ...errors },
        },
      },
      async (request, reply) => {
        const key = requireIdempotencyKey(request.headers['idempotency-key']);
        const customerId = request.customer!.customerId;
        const body = request.body as {
          cardId: string;
          amount: number;
          pin?: string;
          stepUp?: z.infer<typeof stepUpProofSchema>;
        };
        const input = { cardId: body.cardId, amount: BigInt(body.amount) };
        const result =
          kind === 'top-ups'
            ? await wallet.startTopUp(customerId, input, key)
            : await wallet.startWithdrawal(customerId, { ...input, pin: body.pin ?? '', stepUp: body.stepUp }, key);
        return sendOnce(reply, result);
      },
    );
  }

  app.get(
    '/wallet/orders/:orderId',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'A top-up or withdrawal and where its money is',
        params: z.object({ orderId: z.uuid() }),
        response: { 200: orderSchema, 401: problemSchema, 404: problemSchema },
      },
    },
    async (request) => wallet.order(request.customer!.customerId, request.params.orderId),
  );

  app.get(
    '/wallet/movements',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Every movement, newest first, with the balance after it',
        querystring: z.object({
          limit: queryInteger(1, MOVEMENTS_PAGE_MAX).default(20),
          cursor: z.string().max(200).optional(),
          type: z
            .string()
            .max(100)
            .optional()
            .describe(`Comma-separated: ${MOVEMENT_TYPES.join(', ')}`),
          from: z.iso.datetime({ offset: true }).optional(),
          to: z.iso.datetime({ offset: true }).optional(),
          minAmount: queryInteger(0, Number(AMOUNT_MAX)).optional(),
          maxAmount: queryInteger(0, Number(AMOUNT_MAX)).optional(),
        }),
        response: {
          200: z.object({ movements: z.array(movementSchema), nextCursor: z.string().nullable() }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { limit, cursor, type, from, to, minAmount, maxAmount } = request.query;
      const types = type ? type.split(',') : [];
      const unknown = types.filter((item) => !(MOVEMENT_TYPES as readonly string[]).includes(item));
      if (unknown.length > 0) {
        throw new DomainError({
          code: 'validation_failed',
          status: 400,
          title: 'Request validation failed',
          detail: `Unknown movement type: ${unknown.join(', ')}.`,
        });
      }
      return wallet.movements(request.customer!.customerId, {
        limit,
        cursor: cursor ?? null,
        types: types as (typeof MOVEMENT_TYPES)[number][],
        ...(from ? { from: new Date(from) } : {}),
        ...(to ? { to: new Date(to) } : {}),
        ...(minAmount === undefined ? {} : { minAmount: BigInt(minAmount) }),
        ...(maxAmount === undefined ? {} : { maxAmount: BigInt(maxAmount) }),
      });
    },
  );

  app.get(
    '/wallet/movements.csv',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: `Every movement as CSV (newest first, at most ${CSV_ROWS_MAX} rows)`,
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const lines = ['id,type,amount_fen,currency,status,counterparty,note,balance_after_fen,created_at'];
      let cursor: string | null = null;
      do {
        const page = await wallet.movements(request.customer!.customerId, { limit: MOVEMENTS_PAGE_MAX, cursor });
        for (const m of page.movements) {
          lines.push(
            [m.id, m.type, m.amount, m.currency, m.status, m.counterparty, m.note, m.balanceAfter, m.createdAt]
              .map(csvCell)
              .join(','),
          );
        }
        cursor = page.nextCursor;
      } while (cursor !== null && lines.length <= CSV_ROWS_MAX);
      return reply
        .type('text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="yika-movements.csv"')
        .send(`\uFEFF${lines.slice(0, CSV_ROWS_MAX + 1).join('\r\n')}\r\n`);
    },
  );

  app.get(
    '/wallet/bills/:month',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary:
          'Monthly bill: income and spending by category; opening + income − spending = closing, from the ledger',
        params: z.object({ month: z.string().regex(/^(19[7-9]\d|2\d{3})-(0[1-9]|1[0-2])$/, 'YYYY-MM, from 1970') }),
        response: { 200: billSchema, ...errors },
      },
    },
    async (request) => wallet.bill(request.customer!.customerId, request.params.month),
  );

  app.post(
    '/wallet/payment-requests',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Ask to be paid (收款): a link and QR code; with an amount it is paid once',
        body: z.object({ amount: amount.optional(), note: z.string().max(100).optional() }),
        response: { 201: paymentRequestSchema.extend({ link: z.string(), qrSvg: z.string() }), ...errors },
      },
    },
    async (request, reply) => {
      const { amount: fen, note } = request.body;
      const view = await wallet.createPaymentRequest(request.customer!.customerId, {
        amount: fen === undefined ? undefined : BigInt(fen),
        note,
      });
      const base = config.PUBLIC_URL ?? `${request.protocol}://${request.host}`;
      const link = new URL(`/pay/${view.id}`, base).toString();
      return reply.code(201).send({ ...view, link, qrSvg: await QRCode.toString(link, { type: 'svg', margin: 1 }) });
    },
  );

  app.get(
    '/wallet/payment-requests/:requestId',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'A payment request as the payer sees it (masked requester, amount, note)',
        params: z.object({ requestId: z.uuid() }),
        response: { 200: paymentRequestSchema, 401: problemSchema, 404: problemSchema },
      },
    },
    async (request) => wallet.paymentRequest(request.params.requestId),
  );

  app.post(
    '/wallet/payment-requests/:requestId/pay',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Pay a payment request with the payment PIN',
        headers: idempotencyHeaders,
        params: z.object({ requestId: z.uuid() }),
        body: z.object({ amount: amount.optional(), pin, stepUp: stepUpProofSchema.optional() }),
        response: { 201: transferSchema, 202: transferSchema, ...errors },
      },
    },
    async (request, reply) => {
      const key = requireIdempotencyKey(request.headers['idempotency-key']);
      const { amount: fen, pin: paymentPin, stepUp } = request.body;
      const result = await wallet.payPaymentRequest(
        request.customer!.customerId,
        request.params.requestId,
        { amount: fen === undefined ? undefined : BigInt(fen), pin: paymentPin, stepUp },
        key,
      );
      return sendOnce(reply, result);
    },
  );

  app.post(
    '/wallet/close-account',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['wallet'],
        summary: 'Close the account: only at a zero balance, confirmed with a step-up proof',
        body: z.object({ proof: stepUpProofSchema }),
        response: { 204: z.null(), ...errors, 403: problemSchema, 423: problemSchema },
      },
    },
    async (request, reply) => {
      const customerId = request.customer!.customerId;
      await services.identity.requireStepUp(customerId, request.body.proof);
      await services.identity.closeAccount(customerId, (id) => wallet.postedBalance(id), { ip: request.ip });
      return reply.code(204).send(null);
    },
  );

  await bankCallbackRoute(app, {
    path: '/bank/callbacks',
    summary: 'Outcome of a card debit or credit, signed by the bank',
    gateway: services.bank,
    apply: (outcome) => wallet.applyBankOutcome(outcome),
  });
};

/** Most rows in one CSV export. */
const CSV_ROWS_MAX = 10_000;

/** RFC 4180 quoting, and a leading apostrophe against spreadsheet formula injection. */
function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
