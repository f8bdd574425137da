/**
 * `buildApp(deps)`: the HTTP application without a listening socket. Plugins go in a fixed order —
 * cross-cutting platform plugins, then the domain modules under /v1, then the web app and the not-found
 * fallback. Everything it needs is passed in, so tests build it around a throwaway database and call
 * `app.inject()`; main.ts adds the socket and the signals.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Database, Migration } from '@yika/db';
import type { Ledger } from '@yika/ledger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Config, TrustProxy } from './config.js';
import { serverMigrations } from './migrations.js';
import { modules as defaultModules } from './modules/index.js';
import auditContext from './platform/audit-context.js';
import auth from './platform/auth.js';
import healthRoutes from './platform/health.js';
import { createLogger } from './platform/logger.js';
import metrics from './platform/metrics.js';
import { API_PREFIX, type AppModule } from './platform/module.js';
import openapi from './platform/openapi.js';
import problem, { frameworkErrorHandler } from './platform/problem.js';
import requestId, { genReqId } from './platform/request-id.js';
import security from './platform/security.js';
import { createSmsSender, type SmsSender } from './platform/sms.js';
import web from './platform/web.js';
import { buildServices, type Services } from './services.js';

export type App = FastifyInstance<Server, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export interface AppDeps {
  config: Config;
  db: Database;
  ledger: Ledger;
  /** Defaults to a pino logger at `config.LOG_LEVEL`. */
  logger?: FastifyBaseLogger;
  /** Defaults to every module in modules/index.ts; tests pass their own. */
  modules?: readonly AppModule[];
  /** Defaults to the server's migrations; /readyz reports the ones not applied. */
  migrations?: readonly Migration[];
  /** Defaults to `buildServices` with `sms`. */
  services?: Services;
  /** Defaults to the provider `SMS_PROVIDER` selects. */
  sms?: SmsSender;
  /** Rate-limit window; tests shorten it. */
  rateLimitWindowMs?: number;
}

/** apps/web/dist, from both src/app.ts and dist/app.js. */
export const DEFAULT_WEB_DIST_DIR = fileURLToPath(new URL('../../web/dist', import.meta.url));

function trustProxyOption(value: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  // A hop count: trust that many proxies in front of us.
  if (typeof value === 'number') return (_address, hop) => hop < value;
  return value;
}

export async function buildApp(deps: AppDeps): Promise<App> {
  const { config } = deps;
  const app = Fastify({
    loggerInstance: deps.logger ?? createLogger(config),
    genReqId,
    requestIdHeader: false, // genReqId reads x-request-id itself, so only well-formed ids are kept
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: trustProxyOption(config.TRUST_PROXY),
    frameworkErrors: frameworkErrorHandler,
    // On close: refuse new requests with 503, drop idle keep-alive sockets, let in-flight requests finish.
    return503OnClosing: true,
    forceCloseConnections: 'idle',
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  await app.register(requestId);
  await app.register(auditContext);
  await app.register(problem);
  await app.register(metrics);
  await app.register(security, {
    rateLimitMax: config.RATE_LIMIT_MAX,
    ...(deps.rateLimitWindowMs === undefined ? {} : { rateLimitWindowMs: deps.rateLimitWindowMs }),
  });
  await app.register(openapi);
  await app.register(healthRoutes, { db: deps.db, migrations: deps.migrations ?? serverMigrations });

  const services =
    deps.services ??
    buildServices({ config, db: deps.db, ledger: deps.ledger, sms: deps.sms ?? createSmsSender(config) });
  await app.register(auth, { authenticator: services.identity });

  const context = { config, db: deps.db, ledger: deps.ledger, services };
  for (const module of deps.modules ?? defaultModules) {
    await app.register(module.routes, { ...context, prefix: API_PREFIX });
  }

  await app.register(web, { distDir: config.WEB_DIST_DIR ?? DEFAULT_WEB_DIST_DIR });
  return app;
}
