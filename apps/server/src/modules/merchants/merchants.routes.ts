/**
 * HTTP for merchants: the public application, operations' review (interim token), the merchant's own
 * keys, webhooks, notify key, stores and staff. `/v1/merchant/*` routes declare the roles they allow
 * (platform/merchant-auth.ts); staff management takes a staff session only, never an API key.
 */
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { problemSchema } from '../../platform/errors.js';
import { queryInteger } from '../../platform/query.js';
import type { AuditActor } from '../../platform/audit.js';
import { requireCustomer, SESSION_COOKIE } from '../../platform/auth.js';
import { merchantGuard, merchantOf, requireOpsToken } from '../../platform/merchant-auth.js';
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
  endpointId: z.uuid().nullable().describe("Null for a notification to an order's notify URL"),
  notifyUrl: z.string().nullable(),
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
const storeSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    city: z.string(),
    createdAt: z.string(),
    closedAt: z.string().nullable(),
  })
  .meta({ id: 'MerchantStore' });
const roleSchema = z.enum(['owner', 'manager', 'cashier']);
const memberSchema = z
  .object({
    id: z.uuid(),
    customerId: z.uuid(),
    phoneMasked: z.string(),
    role: roleSchema,
    storeId: z.uuid().nullable().describe('The store they work at; null = every store'),
    createdAt: z.string(),
  })
  .meta({ id: 'MerchantMember' });
const notifyKeySchema = z.object({
  secret: z.string().describe("HMAC-SHA256 key of the `yika-signature` on notifications sent to orders' notify URLs"),
  createdAt: z.string(),
});
const storeName = z.string().trim().min(1).max(40);
const storeCity = z.string().trim().min(1).max(15);
const idParams = z.object({ id: z.uuid() });
const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
};

/** Who acts, for the audit trail: the staff member, or the API key. */
function actorOf(request: FastifyRequest): AuditActor {
  const merchant = merchantOf(request);
  return merchant.staff
    ? { type: 'staff', id: merchant.staff.customerId }
    : { type: 'merchant_key', id: merchant.keyId ?? merchant.merchantId };
}

export const merchantsRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services, config }) => {
  const merchants = services.merchants;
  const webhooks = services.webhooks;
  const asMerchant = merchantGuard(app, merchants);
  const everyone = ['owner', 'manager', 'cashier'] as const;
  const managers = ['owner', 'manager'] as const;
  const owners = ['owner'] as const;
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
    async (request, reply) => {
      // Signed in: the applicant becomes the owner. A stale or bad session is refused, not ignored.
      const signedIn = request.headers.authorization !== undefined || request.cookies[SESSION_COOKIE] !== undefined;
      if (signedIn) await requireCustomer(request);
      return reply.code(201).send(await merchants.apply(request.body, request.customer?.customerId));
    },
  );

  app.get(
    '/me/merchants',
    {
      preHandler: requireCustomer,
      schema: {
        tags: ['merchants'],
        summary: 'The merchants the signed-in customer works for, with their role',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                merchantId: z.uuid(),
                displayName: z.string(),
                status: merchantSchema.shape.status,
                role: roleSchema,
                storeId: z.uuid().nullable(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => ({ items: await merchants.memberships(request.customer!.customerId) }),
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
      preHandler: asMerchant(everyone),
      schema: {
        tags: ['merchant'],
        summary: 'The merchant acted for (staff of a pending merchant see its status here)',
        response: { 200: merchantSchema, ...errors },
      },
    },
    async (request) => merchants.get(merchantOf(request).merchantId),
  );

  app.get(
    '/merchant/api-keys',
    {
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(owners),
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
      preHandler: asMerchant(managers),
      schema: {
        tags: ['merchant'],
        summary: 'Recent webhook deliveries with every attempt',
        querystring: z.object({ limit: queryInteger(1, 100).default(50) }),
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
      preHandler: asMerchant(managers),
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

  app.get(
    '/merchant/notify-key',
    {
      preHandler: asMerchant(owners),
      schema: {
        tags: ['merchant'],
        summary: "The key that signs notifications to orders' notify URLs (created on first use)",
        description:
          'Notifications are POSTed to an order\'s `notifyUrl` when it is paid, signed like webhooks: `yika-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key, t + "." + body)>`.',
        response: { 200: notifyKeySchema, ...errors },
      },
    },
    async (request) => merchants.notifyKey(merchantOf(request).merchantId),
  );

  app.post(
    '/merchant/notify-key/rotate',
    {
      preHandler: asMerchant(owners),
      schema: {
        tags: ['merchant'],
        summary: 'Replace the notify key at once',
        response: { 200: notifyKeySchema, ...errors },
      },
    },
    async (request) => merchants.rotateNotifyKey(merchantOf(request).merchantId),
  );

  // ---- stores ----

  app.get(
    '/merchant/stores',
    {
      preHandler: asMerchant(managers),
      schema: {
        tags: ['merchant'],
        summary: 'Stores, open ones first',
        response: { 200: z.object({ items: z.array(storeSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await merchants.listStores(merchantOf(request).merchantId) }),
  );

  app.post(
    '/merchant/stores',
    {
      preHandler: asMerchant(managers),
      schema: {
        tags: ['merchant'],
        summary: 'Open a store (at most 50 open)',
        body: z.object({ name: storeName, city: storeCity }),
        response: { 201: storeSchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await merchants.createStore(merchantOf(request).merchantId, request.body)),
  );

  app.patch(
    '/merchant/stores/:id',
    {
      preHandler: asMerchant(managers),
      schema: {
        tags: ['merchant'],
        summary: 'Rename a store or change its city',
        params: idParams,
        body: z
          .object({ name: storeName.optional(), city: storeCity.optional() })
          .refine((body) => body.name !== undefined || body.city !== undefined, 'name or city'),
        response: { 200: storeSchema, ...errors },
      },
    },
    async (request) => merchants.updateStore(merchantOf(request).merchantId, request.params.id, request.body),
  );

  app.post(
    '/merchant/stores/:id/close',
    {
      preHandler: asMerchant(managers),
      schema: {
        tags: ['merchant'],
        summary: 'Close a store for good (refused while staff are bound to it)',
        params: idParams,
        response: { 200: storeSchema, ...errors },
      },
    },
    async (request) => merchants.closeStore(merchantOf(request).merchantId, request.params.id),
  );

  // ---- staff (owners only, by session: an API key cannot grant people access) ----

  app.get(
    '/merchant/staff',
    {
      preHandler: asMerchant(owners, { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: 'Staff members and their roles',
        response: { 200: z.object({ items: z.array(memberSchema) }), ...errors },
      },
    },
    async (request) => ({ items: await merchants.listMembers(merchantOf(request).merchantId) }),
  );

  app.post(
    '/merchant/staff',
    {
      preHandler: asMerchant(owners, { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: 'Add a staff member by their registered Yika phone number (at most 200)',
        body: z.object({
          phone: z.string().trim().min(6).max(20),
          role: roleSchema,
          storeId: z.uuid().nullable().optional().describe('Bind to one store (a cashier then sees only its payments)'),
        }),
        response: { 201: memberSchema, ...errors },
      },
    },
    async (request, reply) =>
      reply.code(201).send(await merchants.addMember(merchantOf(request).merchantId, request.body, actorOf(request))),
  );

  app.patch(
    '/merchant/staff/:id',
    {
      preHandler: asMerchant(owners, { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: "Change a member's role or store (the last owner cannot be demoted)",
        params: idParams,
        body: z
          .object({ role: roleSchema.optional(), storeId: z.uuid().nullable().optional() })
          .refine((body) => body.role !== undefined || body.storeId !== undefined, 'role or storeId'),
        response: { 200: memberSchema, ...errors },
      },
    },
    async (request) =>
      merchants.updateMember(merchantOf(request).merchantId, request.params.id, request.body, actorOf(request)),
  );

  app.post(
    '/merchant/staff/:id/remove',
    {
      preHandler: asMerchant(owners, { apiKey: false }),
      schema: {
        tags: ['merchant'],
        summary: 'Remove a staff member (the last owner cannot be removed)',
        params: idParams,
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await merchants.removeMember(merchantOf(request).merchantId, request.params.id, actorOf(request));
      return reply.code(204).send(null);
    },
  );
};
