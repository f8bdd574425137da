/** HTTP for merchants: the public application, operations' review (interim token), the merchant's own keys and webhooks. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../platform/errors.js';
import { merchantOf, requireMerchant, requireOpsToken } from '../../platform/merchant-auth.js';
import type { ModuleContext } from '../../platform/module.js';

const merchantSchema = z
  .object({
    id: z.uuid(),
    legalName: z.string(),
    displayName: z.string(),
    mcc: z.string(),
    contactName: z.string(),
    contactPhone: z.string(),
    contactEmail: z.string().nullable(),
    city: z.string(),
    feeRateBps: z.number().int(),
    status: z.enum(['pending', 'approved', 'rejected', 'suspended']),
    statusReason: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Merchant' });
const apiKeySchema = z.object({
  id: z.uuid(),
  prefix: z.string(),
  label: z.string().nullable(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});
const newApiKeySchema = apiKeySchema.extend({
  secret: z.string().describe('The API key: shown this once, stored only as a hash'),
});
const endpointSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  createdAt: z.string(),
  disabledAt: z.string().nullable(),
});
const deliverySchema = z.object({
  id: z.uuid(),
  eventId: z.uuid(),
  eventType: z.string(),
  endpointId: z.uuid(),
  status: z.enum(['pending', 'succeeded', 'failed']),
  attempts: z.number().int(),
  nextAttemptAt: z.string().nullable(),
  replayOf: z.uuid().nullable(),
  createdAt: z.string(),
  log: z.array(
    z.object({
      attemptedAt: z.string(),
      responseStatus: z.number().int().nullable(),
      error: z.string().nullable(),
      durationMs: z.number().int(),
    }),
  ),
});
const idParams = z.object({ id: z.uuid() });
const errors = { 400: problemSchema, 401: problemSchema, 403: problemSchema, 404: problemSchema, 409: problemSchema };

export const merchantsRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services, config }) => {
  const merchants = services.merchants;
  const webhooks = services.webhooks;
  const asMerchant = requireMerchant(merchants);
  const asOps = requireOpsToken(config.OPS_API_TOKEN);

  app.post(
    '/merchants/applications',
    {
      schema: {
        tags: ['merchants'],
        summary: 'Apply to become a merchant (pending until operations approve)',
        body: z.object({
          legalName: z.string().trim().min(2).max(100),
          displayName: z.string().trim().min(1).max(25).describe('Shown to customers and carried in QR codes'),
          mcc: z
            .string()
            .regex(/^\d{4}$/)
            .describe('ISO 18245 merchant category code'),
          contactName: z.string().trim().min(1).max(50),
          contactPhone: z.string().regex(/^\+?\d{6,15}$/),
          contactEmail: z.email().optional(),
          city: z.string().trim().min(1).max(15),
          feeRateBps: z.number().int().min(0).max(10_000).describe('Merchant discount rate in basis points'),
        }),
        response: { 201: merchantSchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await merchants.apply(request.body)),
  );

  const opsDescription =
    'Interim operations route: guarded by the `OPS_API_TOKEN` bearer until the ops console (with roles and four-eyes approval) exists.';

  app.get(
    '/ops/merchants/:id',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'A merchant, for review',
        description: opsDescription,
        params: idParams,
        response: { 200: merchantSchema, ...errors },
      },
    },
    async (request) => merchants.get(request.params.id),
  );

  app.post(
    '/ops/merchants/:id/decisions',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: 'Approve, reject, suspend or reinstate a merchant',
        description: opsDescription,
        params: idParams,
        body: z.object({
          decision: z.enum(['approve', 'reject', 'suspend', 'reinstate']),
          reason: z.string().max(200).optional(),
        }),
        response: { 200: merchantSchema, ...errors },
      },
    },
    async (request) => merchants.decide(request.params.id, request.body.decision, request.body.reason),
  );

  app.post(
    '/ops/merchants/:id/api-keys',
    {
      preHandler: asOps,
      schema: {
        tags: ['ops'],
        summary: "Issue a merchant's first API key (shown once)",
        description: opsDescription,
        params: idParams,
        body: z.object({ label: z.string().max(50).optional() }),
        response: { 201: newApiKeySchema, ...errors },
      },
    },
    async (request, reply) => reply.code(201).send(await merchants.createApiKey(request.params.id, request.body.label)),
  );

  app.get(
    '/merchant',
    {
      preHandler: asMerchant,
    },
    async (request) => merchants.get(merchantOf(request).merchantId),
  );

  app.get(
    '/merchant/api-keys',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'API keys (never their secrets)',
        response: { 200: z.object({ apiKeys: z.array(apiKeySchema) }), ...errors },
      },
    },
    async (request) => ({ apiKeys: await merchants.listApiKeys(merchantOf(request).merchantId) }),
  );

  app.post(
    '/merchant/api-keys',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Create an API key (the secret is shown once)',
        body: z.object({ label: z.string().max(50).optional() }),
        response: { 201: newApiKeySchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await merchants.createApiKey(merchantOf(request).merchantId, request.body.label)),
  );

  app.post(
    '/merchant/api-keys/:id/revoke',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Revoke an API key (at once, for good)',
        params: idParams,
        response: { 200: apiKeySchema, ...errors },
      },
    },
    async (request) => merchants.revokeApiKey(merchantOf(request).merchantId, request.params.id),
  );

  app.get(
    '/merchant/webhook-endpoints',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Webhook endpoints',
        response: { 200: z.object({ endpoints: z.array(endpointSchema) }), ...errors },
      },
    },
    async (request) => ({ endpoints: await merchants.listWebhookEndpoints(merchantOf(request).merchantId) }),
  );

  app.post(
    '/merchant/webhook-endpoints',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Add a webhook endpoint; its signing secret is shown once',
        description:
          'Deliveries are POSTed with `yika-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`.',
        body: z.object({ url: z.url({ protocol: /^https?$/ }).max(500) }),
        response: { 201: endpointSchema.extend({ secret: z.string() }), ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await merchants.addWebhookEndpoint(merchantOf(request).merchantId, request.body.url)),
  );

  app.post(
    '/merchant/webhook-endpoints/:id/disable',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Stop sending events to an endpoint',
        params: idParams,
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await merchants.disableWebhookEndpoint(merchantOf(request).merchantId, request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/merchant/webhook-deliveries',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: 'Recent webhook deliveries with every attempt',
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(100).default(50) }),
        response: { 200: z.object({ deliveries: z.array(deliverySchema) }), ...errors },
      },
    },
    async (request) => ({
      deliveries: await webhooks.deliveries(merchantOf(request).merchantId, request.query.limit),
    }),
  );

  app.post(
    '/merchant/webhook-deliveries/:id/replay',
    {
      preHandler: asMerchant,
      schema: {
        tags: ['merchant'],
        summary: "Send a delivery's event again (a new delivery)",
        params: idParams,
        response: { 201: deliverySchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await webhooks.replay(merchantOf(request).merchantId, request.params.id)),
  );
};
