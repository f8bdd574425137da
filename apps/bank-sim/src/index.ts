/**
 * The simulated bank gateway and SMS provider: a separate process that Yika talks to over real HTTP,
 * as it would to a bank. A placeholder for now: it only reports that it is alive.
 */
import Fastify, { type FastifyInstance } from 'fastify';

export interface BankSimOptions {
  /** Pino log level, or false for no logs (tests). */
  logLevel?: string | false;
}

export function buildBankSim(options: BankSimOptions = {}): FastifyInstance {
  const logLevel = options.logLevel ?? 'info';
  const app = Fastify({ logger: logLevel === false ? false : { level: logLevel } });
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
  return app;
}
