/** HTTP for identity: Zod schemas and thin handlers that call IdentityService. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  clearSessionCookie,
  CSRF_HEADER,
  customerOf,
  requireCustomer,
  SESSION_COOKIE,
  setSessionCookie,
} from '../../platform/auth.js';
import { DomainError, NotFoundError, problemSchema } from '../../platform/errors.js';
import type { ModuleContext } from '../../platform/module.js';
import type { StepUpProof } from './identity.factors.js';
import type { RequestMeta } from './identity.service.js';

const TAG = 'identity';
const errors = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  409: problemSchema,
  422: problemSchema,
  423: problemSchema,
  429: problemSchema,
  503: problemSchema,
};

const phone = z
  .string()
  .min(3)
  .max(32)
  .describe('Mobile number, E.164 (`+8613800138000`); 11-digit mainland numbers are taken as +86');
const code = z.string().min(1).max(12).describe('The 6-digit code from the text message');
const pin = z.string().min(1).max(12).describe('6-digit payment PIN');
const timestamp = z.string().describe('ISO 8601, UTC');

const customerSchema = z
  .object({
    customerId: z.uuid(),
    phone: z.string(),
    status: z.enum(['active', 'frozen', 'closed']),
    accountClass: z.enum(['I', 'II', 'III']),
    maskedName: z.string().nullable(),
  })
  .meta({ id: 'Customer' });

const profileSchema = customerSchema
  .extend({
    frozenBy: z.enum(['customer', 'operations']).nullable(),
    kycVerified: z.boolean(),
    pinSet: z.boolean(),
    pinLockedUntil: timestamp.nullable(),
    totpEnabled: z.boolean(),
    passkeyCount: z.number().int(),
    createdAt: timestamp,
  })
  .meta({ id: 'CustomerProfile' });

const passkeyAssertionSchema = z
  .looseObject({
    id: z.string().min(1).max(1024),
    rawId: z.string().min(1).max(1024),
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: z.string().max(16_384),
      authenticatorData: z.string().max(16_384),
      signature: z.string().max(4_096),
      userHandle: z.string().max(1024).optional(),
    }),
    clientExtensionResults: z.looseObject({}),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  })
  .describe('The JSON of a WebAuthn assertion (navigator.credentials.get)');

const passkeyAttestationSchema = z
  .looseObject({
    id: z.string().min(1).max(1024),
    rawId: z.string().min(1).max(1024),
    type: z.literal('public-key'),
    response: z.looseObject({
      clientDataJSON: z.string().max(16_384),
      attestationObject: z.string().max(65_536),
      transports: z.array(z.string().max(32)).max(10).optional(),
    }),
    clientExtensionResults: z.looseObject({}),
    authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  })
  .describe('The JSON of a WebAuthn attestation (navigator.credentials.create)');

export const stepUpProofSchema = z
  .object({
    pin: pin.optional(),
    otp: code.optional().describe('An SMS code requested with purpose `step_up`'),
    totp: z.string().max(12).optional().describe('A code from the enrolled authenticator app'),
    passkey: passkeyAssertionSchema.optional(),
  })
  .describe('Exactly one of: payment PIN, SMS code, authenticator code, passkey assertion')
  .meta({ id: 'StepUpProof' });

const limitsSchema = z.object({
  accountClass: z.enum(['I', 'II', 'III']),
  perTransaction: z.number().int().describe('fen'),
  daily: z.number().int().describe('fen'),
  yearly: z.number().int().describe('fen; for Class I the total since opening'),
  yearlyPeriod: z.enum(['since_opening', 'calendar_year']),
});

const sessionSchema = z.object({
  customerId: z.uuid(),
  sessionId: z.uuid(),
  deviceId: z.uuid(),
  isNewCustomer: z.boolean(),
  token: z.string().optional().describe('Only for `client: "api"`; the web app gets an HttpOnly cookie instead'),
  idleExpiresAt: timestamp,
  absoluteExpiresAt: timestamp,
  nextStep: z.enum(['set_pin']).nullable().describe('`set_pin` until a payment PIN exists (registration step 3)'),
  customer: customerSchema,
});

function meta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return {
    ip: request.ip,
    deviceId: request.customer?.deviceId,
    userAgent: typeof userAgent === 'string' ? userAgent.slice(0, 300) : undefined,
  };
}

/** A refused code request says when to retry in `retry-after` too, as the platform rate limit does. */
async function withRetryAfter(reply: FastifyReply, work: Promise<void>): Promise<void> {
  try {
    await work;
  } catch (error) {
    const seconds = error instanceof DomainError ? error.extensions['retryAfterSeconds'] : undefined;
    if (typeof seconds === 'number') void reply.header('retry-after', String(seconds));
    throw error;
  }
}

function toProof(body: z.infer<typeof stepUpProofSchema>): StepUpProof {
  return body;
}

export const identityRoutes: FastifyPluginAsyncZod<ModuleContext> = async (app, { services }) => {
  const identity = services.identity;
  const auth = { preHandler: requireCustomer };

  app.post(
    '/auth/otp',
    {
      schema: {
        tags: [TAG],
        summary: 'Send a sign-in code by SMS (registration and sign-in are one flow)',
        description:
          'Always 202 for a valid number, registered or not. Limits: one code a minute and 5 an hour per number, 20 an hour per IP (429 `otp_rate_limited`).',
        body: z.object({ phone }),
        response: {
          202: z.object({ expiresInSeconds: z.number().int(), resendAfterSeconds: z.number().int() }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      await withRetryAfter(reply, identity.requestCode(request.body.phone, 'login', meta(request)));
      return reply.code(202).send({
        expiresInSeconds: identity.policy.otpTtlMs / 1000,
        resendAfterSeconds: identity.policy.otpResendIntervalMs / 1000,
      });
    },
  );

  app.post(
    '/auth/sessions',
    {
      schema: {
        tags: [TAG],
        summary: 'Sign in (or register) with the SMS code',
        description: `A new number becomes a customer. \`client: "web"\` sets the HttpOnly \`${SESSION_COOKIE}\` cookie (then send \`${CSRF_HEADER}: 1\` on unsafe requests); \`client: "api"\` returns a bearer token.`,
        body: z.object({
          phone,
          code,
          client: z.enum(['web', 'api']).default('api'),
          deviceName: z.string().max(100).optional(),
          deviceId: z
            .string()
            .min(8)
            .max(128)
            .optional()
            .describe('A stable id the client keeps, to recognise the device'),
        }),
        response: { 201: sessionSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { body } = request;
      const result = await identity.signIn(
        { phone: body.phone, code: body.code, deviceName: body.deviceName, clientDeviceId: body.deviceId },
        meta(request),
      );
      const profile = await identity.getProfile(result.customerId);
      if (body.client === 'web') setSessionCookie(request, reply, result.token, result.absoluteExpiresAt);
      return reply.code(201).send({
        customerId: result.customerId,
        sessionId: result.sessionId,
        deviceId: result.deviceId,
        isNewCustomer: result.isNewCustomer,
        ...(body.client === 'api' ? { token: result.token } : {}),
        idleExpiresAt: result.idleExpiresAt.toISOString(),
        absoluteExpiresAt: result.absoluteExpiresAt.toISOString(),
        nextStep: profile.pinSet ? null : ('set_pin' as const),
        customer: result.customer,
      });
    },
  );

  app.post(
    '/auth/session/rotate',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Replace the session token (the old one stops working)',

        response: {
          200: z.object({ token: z.string().optional(), idleExpiresAt: timestamp, absoluteExpiresAt: timestamp }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const rotated = await identity.rotateSession(customerOf(request).sessionId);
      const byCookie = request.sessionTransport === 'cookie';
      if (byCookie) setSessionCookie(request, reply, rotated.token, rotated.absoluteExpiresAt);
      return {
        ...(byCookie ? {} : { token: rotated.token }),
        idleExpiresAt: rotated.idleExpiresAt.toISOString(),
        absoluteExpiresAt: rotated.absoluteExpiresAt.toISOString(),
      };
    },
  );

  app.delete(
    '/auth/session',
    { ...auth, schema: { tags: [TAG], summary: 'Sign out this session', response: { 204: z.null(), ...errors } } },
    async (request, reply) => {
      await identity.signOut(customerOf(request), meta(request));
      clearSessionCookie(request, reply);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me',
    {
      ...auth,
      schema: { tags: [TAG], summary: 'The signed-in customer', response: { 200: profileSchema, ...errors } },
    },
    async (request) => {
      const profile = await identity.getProfile(customerOf(request).customerId);
      return {
        ...profile,
        pinLockedUntil: profile.pinLockedUntil?.toISOString() ?? null,
        createdAt: profile.createdAt.toISOString(),
      };
    },
  );

  app.get(
    '/me/devices',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Devices signed in to this account',

        response: {
          200: z.object({
            devices: z.array(
              z.object({
                id: z.uuid(),
                name: z.string(),
                clientDeviceId: z.string().nullable(),
                userAgent: z.string().nullable(),
                createdAt: timestamp,
                lastSeenAt: timestamp,
                current: z.boolean(),
              }),
            ),
          }),
          ...errors,
        },
      },
    },
    async (request) => {
      const { customerId, deviceId } = customerOf(request);
      const devices = await identity.listDevices(customerId, deviceId);
      return {
        devices: devices.map((device) => ({
          ...device,
          createdAt: device.createdAt.toISOString(),
          lastSeenAt: device.lastSeenAt.toISOString(),
        })),
      };
    },
  );

  app.delete(
    '/me/devices/:id',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Sign a device out (every session on it ends)',

        params: z.object({ id: z.uuid() }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      const current = customerOf(request);
      await identity.revokeDevice(current.customerId, request.params.id, meta(request));
      if (request.params.id === current.deviceId) clearSessionCookie(request, reply);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/otp',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: "Send a code to the customer's own number, to reset the PIN or confirm a risky action",

        body: z.object({ purpose: z.enum(['pin_reset', 'step_up']) }),
        response: { 202: z.object({ expiresInSeconds: z.number().int() }), ...errors },
      },
    },
    async (request, reply) => {
      await withRetryAfter(
        reply,
        identity.requestCodeForCustomer(customerOf(request).customerId, request.body.purpose, meta(request)),
      );
      return reply.code(202).send({ expiresInSeconds: identity.policy.otpTtlMs / 1000 });
    },
  );

  app.put(
    '/me/pin',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Set the first payment PIN (registration step 3)',
        description:
          'Weak PINs are refused with `pin_weak`: one repeated digit, sequences, patterns, birthday, ID or phone digits.',

        body: z.object({ pin }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await identity.setPin(customerOf(request).customerId, request.body.pin, meta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/pin/change',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Change the payment PIN with the old one',

        body: z.object({ oldPin: pin, newPin: pin }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await identity.changePin(customerOf(request).customerId, request.body.oldPin, request.body.newPin, meta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/pin/reset',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Reset a forgotten payment PIN with an SMS code (purpose `pin_reset`) and the resident ID number',

        body: z.object({
          code,
          idNumber: z.string().max(32).optional().describe('Required once real-name verification is done'),
          newPin: pin,
        }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      await identity.resetPin(customerOf(request).customerId, request.body, meta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/kyc',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Real-name verification: name and 18-character resident ID (makes the account Class II)',

        body: z.object({ name: z.string().min(1).max(60), idNumber: z.string().min(1).max(32) }),
        response: {
          200: z.object({ accountClass: z.enum(['I', 'II', 'III']), maskedName: z.string() }),
          ...errors,
        },
      },
    },
    async (request) => identity.submitKyc(customerOf(request).customerId, request.body, meta(request)),
  );

  app.get(
    '/me/limits',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Payment-account class and its limits',
        response: { 200: limitsSchema, ...errors },
      },
    },
    async (request) => {
      const limits = await identity.limitsFor(customerOf(request).customerId);
      return {
        ...limits,
        perTransaction: Number(limits.perTransaction),
        daily: Number(limits.daily),
        yearly: Number(limits.yearly),
      };
    },
  );

  for (const action of ['freeze', 'unfreeze'] as const) {
    app.post(
      `/me/${action}`,
      {
        ...auth,
        schema: {
          tags: [TAG],
          summary:
            action === 'freeze'
              ? 'Freeze the account (e.g. a lost phone): no money moves until unfrozen'
              : 'Unfreeze an account the customer froze',

          body: z.object({ proof: stepUpProofSchema }),
          response: { 200: z.object({ status: z.enum(['active', 'frozen', 'closed']) }), ...errors },
        },
      },
      async (request) => {
        const { customerId } = customerOf(request);
        const proof = toProof(request.body.proof);
        if (action === 'freeze') await identity.freezeByCustomer(customerId, proof, meta(request));
        else await identity.unfreezeByCustomer(customerId, proof, meta(request));
        return { status: (await identity.getCustomer(customerId)).status };
      },
    );
  }

  app.post(
    '/me/totp/enrolment',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Start enrolling an authenticator app (TOTP): otpauth URI and QR code',

        response: {
          201: z.object({ secret: z.string(), otpauthUri: z.string(), qrDataUrl: z.string() }),
          ...errors,
        },
      },
    },
    async (request, reply) => {
      const customer = await identity.getCustomer(customerOf(request).customerId);
      return reply.code(201).send(await identity.factors.startTotpEnrolment(customer.customerId, customer.phone));
    },
  );

  app.post(
    '/me/totp/enrolment/confirm',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Confirm the authenticator app with its first code',

        body: z.object({ code: z.string().max(12) }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      const { customerId } = customerOf(request);
      await identity.factors.confirmTotpEnrolment(customerId, request.body.code);
      await identity.recordEvent(customerId, 'totp_enrolled', meta(request));
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/me/totp/disable',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Remove the authenticator app (needs a step-up proof)',

        body: z.object({ proof: stepUpProofSchema }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      const { customerId } = customerOf(request);
      await identity.requireStepUp(customerId, toProof(request.body.proof));
      await identity.factors.disableTotp(customerId);
      await identity.recordEvent(customerId, 'totp_removed', meta(request));
      return reply.code(204).send(null);
    },
  );

  const passkeyView = z.object({
    id: z.uuid(),
    credentialId: z.string(),
    createdAt: timestamp,
    lastUsedAt: timestamp.nullable(),
  });

  app.get(
    '/me/passkeys',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Registered passkeys',

        response: { 200: z.object({ passkeys: z.array(passkeyView) }), ...errors },
      },
    },
    async (request) => {
      const passkeys = await identity.factors.listPasskeys(customerOf(request).customerId);
      return {
        passkeys: passkeys.map((passkey) => ({
          ...passkey,
          createdAt: passkey.createdAt.toISOString(),
          lastUsedAt: passkey.lastUsedAt?.toISOString() ?? null,
        })),
      };
    },
  );

  app.post(
    '/me/passkeys/registration-options',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'WebAuthn creation options for a new passkey (pass to navigator.credentials.create)',

        response: { 200: z.looseObject({ challenge: z.string() }), ...errors },
      },
    },
    async (request) => {
      const customer = await identity.getCustomer(customerOf(request).customerId);
      const options = await identity.factors.passkeyRegistrationOptions(customer.customerId, customer.phone);
      return { ...options };
    },
  );

  app.post(
    '/me/passkeys',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Register a passkey from the authenticator response',

        body: z.object({ response: passkeyAttestationSchema }),
        response: { 201: passkeyView, ...errors },
      },
    },
    async (request, reply) => {
      const { customerId } = customerOf(request);
      const passkey = await identity.factors.registerPasskey(customerId, request.body.response);
      await identity.recordEvent(customerId, 'passkey_registered', meta(request), { passkeyId: passkey.id });
      return reply.code(201).send({ ...passkey, createdAt: passkey.createdAt.toISOString(), lastUsedAt: null });
    },
  );

  app.post(
    '/me/passkeys/authentication-options',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'WebAuthn request options for a step-up with a passkey (pass to navigator.credentials.get)',

        response: { 200: z.looseObject({ challenge: z.string() }), ...errors },
      },
    },
    async (request) => ({ ...(await identity.factors.passkeyAuthenticationOptions(customerOf(request).customerId)) }),
  );

  app.delete(
    '/me/passkeys/:id',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Remove a passkey',

        params: z.object({ id: z.uuid() }),
        response: { 204: z.null(), ...errors },
      },
    },
    async (request, reply) => {
      const { customerId } = customerOf(request);
      if (!(await identity.factors.deletePasskey(customerId, request.params.id)))
        throw new NotFoundError('No such passkey.');
      await identity.recordEvent(customerId, 'passkey_removed', meta(request), { passkeyId: request.params.id });
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/me/events',
    {
      ...auth,
      schema: {
        tags: [TAG],
        summary: 'Recent security events of this account (sign-ins, PIN changes, freezes, …)',

        response: {
          200: z.object({ events: z.array(z.object({ kind: z.string(), createdAt: timestamp, detail: z.unknown() })) }),
          ...errors,
        },
      },
    },
    async (request) => {
      const events = await identity.events(customerOf(request).customerId);
      return { events: events.map((event) => ({ ...event, createdAt: event.createdAt.toISOString() })) };
    },
  );
};
