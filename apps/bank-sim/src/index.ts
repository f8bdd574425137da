/**
 * The simulated bank gateway and SMS provider: a separate process that Yika talks to over real HTTP,
 * as it would to a bank. The contract is PROTOCOL.md; this file wires the pieces together.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { CallbackSender } from './callbacks.js';
import { CardBank, registerCardRoutes } from './cards.js';
import { resolveConfig, resolveLogLevel, type ConfigOverrides } from './config.js';
import { createRandom, faultsPatchSchema, faultsSchema, type Faults } from './faults.js';
import { BODY_BYTES_MAX, formatSchemaErrors, installErrorHandling, requireApiKey } from './http.js';
import { PaymentProcessor, registerPaymentRoutes } from './payments.js';
import { registerSmsInboxRoute, registerSmsSendRoute, SmsCenter } from './sms.js';
import { Timers } from './timers.js';

export { signCallback, verifyCallbackSignature, SIGNATURE_HEADER } from './signature.js';
export { ConfigError, resolveConfig, resolveProcessConfig } from './config.js';
export type { Faults } from './faults.js';
export type { BankCallback, FailureReason, PaymentKind, PaymentStatus } from './payments.js';

export interface BankSimOptions extends ConfigOverrides {
  /** Pino log level, or false for no logs (tests); BANK_SIM_LOG_LEVEL (info) when not given. */
  logLevel?: string | false;
  /** Milliseconds since the epoch; tests move it to expire verification codes. Timers still use real time. */
  now?: () => number;
  /** Where to read BANK_SIM_* defaults from (process.env unless given). */
  env?: Record<string, string | undefined>;
}

/** Builds the simulator; throws ConfigError on a bad option or environment variable. */
export function buildBankSim(options: BankSimOptions = {}): FastifyInstance {
  const env = options.env ?? process.env;
  const config = resolveConfig(options, env);
  const logLevel = options.logLevel ?? resolveLogLevel(env);
  const app = Fastify({
    logger: logLevel === false ? false : { level: logLevel },
    bodyLimit: BODY_BYTES_MAX,
    schemaErrorFormatter: formatSchemaErrors,
    // Bodies are checked as sent ("100" is not an amount), and every problem is listed at once.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: true } },
  });
  installErrorHandling(app);

  const now = options.now ?? Date.now;
  const faults: Faults = config.faults;
  const timers = new Timers();
  const sms = new SmsCenter(now);
  const cards = new CardBank(sms, now, config.cardBalance);
  // Two generators: payment rolls happen in submission order, reorder hold-backs in completion order, and
  // sharing one would make a payment's rolls depend on timing.
  const callbacks = new CallbackSender({
    secret: config.callbackSecret,
    retryBaseMs: config.callbackRetryBaseMs,
    timers,
    random: createRandom(config.seed ^ 0x5bd1e995),
    now,
    log: app.log,
  });
  const payments = new PaymentProcessor({ cards, callbacks, faults, timers, random: createRandom(config.seed), now });

  app.get(
    '/healthz',
    {
      schema: {
        response: {
          200: { type: 'object', properties: { status: { type: 'string', const: 'ok' } }, required: ['status'] },
        },
      },
    },
    async () => ({ status: 'ok' }),
  );

  registerSmsInboxRoute(app, sms);

  app.get('/admin/faults', { schema: { response: { 200: faultsSchema } } }, async () => faults);
  app.put<{ Body: Partial<Faults> }>(
    '/admin/faults',
    { schema: { body: faultsPatchSchema, response: { 200: faultsSchema } } },
    async (request) => Object.assign(faults, request.body),
  );
  app.post('/admin/reset', async (_request, reply) => {
    // Pending outcomes and callbacks belong to the payments being forgotten.
    timers.clear();
    callbacks.abortInFlight();
    payments.clear();
    sms.clear();
    cards.clear();
    return reply.code(204).send();
  });

  // Everything under /v1 is what Yika calls, with its API key.
  void app.register(async (api) => {
    api.addHook('onRequest', requireApiKey(config.apiKey));
    registerSmsSendRoute(api, sms);
    registerCardRoutes(api, cards);
    registerPaymentRoutes(api, payments);
  });

  app.addHook('onClose', async () => {
    timers.close();
    callbacks.abortInFlight();
  });
  return app;
}
