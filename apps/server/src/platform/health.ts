/**
 * `/healthz`: the process is alive. `/readyz`: it can serve traffic — the database answers and its
 * schema is current. Orchestrators route traffic on the second and restart on the first.
 */
import { pendingMigrations, type Database, type Migration } from '@yika/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PlatformError, problemSchema } from './errors.js';

export interface HealthOptions {
  db: Database;
  migrations: readonly Migration[];
  /** How long the database may take to answer a readiness probe. */
  readinessTimeoutMs?: number;
}

const READINESS_TIMEOUT_MS = 2_000;

const healthSchema = z.object({ status: z.literal('ok') });
const readySchema = z.object({
  status: z.literal('ready'),
  checks: z.object({ database: z.literal('ok'), migrations: z.literal('ok') }),
});

async function withTimeout<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const healthRoutes: FastifyPluginAsyncZod<HealthOptions> = async (app, options) => {
  const timeoutMs = options.readinessTimeoutMs ?? READINESS_TIMEOUT_MS;
  const probeConfig = { rateLimit: false } as const;

  app.get(
    '/healthz',
    {
      config: probeConfig,
      schema: { tags: ['platform'], summary: 'Liveness: the process is running', response: { 200: healthSchema } },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: probeConfig,
      schema: {
        tags: ['platform'],
        summary: 'Readiness: the database is reachable and every migration is applied',
        response: { 200: readySchema, 503: problemSchema },
      },
    },
    async (request) => {
      let pending: string[];
      try {
        pending = await withTimeout(pendingMigrations(options.db, options.migrations), timeoutMs);
      } catch (error) {
        request.log.warn({ err: error }, 'readiness: database check failed');
        throw new PlatformError('not_ready', 'The database is unreachable.', { reason: 'database_unreachable' });
      }
      if (pending.length > 0) {
        throw new PlatformError(
          'not_ready',
          `${pending.length} database migration(s) pending: ${pending.join(', ')}.`,
          {
            reason: 'migrations_pending',
            pendingMigrations: pending,
          },
        );
      }
      return { status: 'ready' as const, checks: { database: 'ok' as const, migrations: 'ok' as const } };
    },
  );
};

export default healthRoutes;
