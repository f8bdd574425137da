/**
 * Request ids: a well-formed incoming `x-request-id` is kept (so a trace spans the proxy and us),
 * anything else is replaced by a fresh UUID. Fastify puts the id on every log line of the request;
 * the hook below returns it on every response.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

export const REQUEST_ID_HEADER = 'x-request-id';

/** Letters, digits and `._:-`, at most 128 characters: safe in logs and headers, long enough for any tracer. */
const wellFormed = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export function genReqId(request: IncomingMessage): string {
  const incoming = request.headers[REQUEST_ID_HEADER];
  return typeof incoming === 'string' && wellFormed.test(incoming) ? incoming : randomUUID();
}

async function requestIdPlugin(app: FastifyInstance): Promise<void> {
  // onRequest runs before everything that can fail, so error responses carry the id too.
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
}

export default fp(requestIdPlugin, { name: 'yika-request-id', fastify: '5.x' });
