/**
 * The request being served, for the audit trail: services record the HTTP request id without every
 * route passing it down. An AsyncLocalStorage store is entered when the request arrives and entered
 * again once its body is parsed (the body arrives through socket events, outside the request's async
 * context), the way @fastify/request-context does it.
 */
import { AsyncLocalStorage, AsyncResource } from 'node:async_hooks';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';

interface RequestContext {
  requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
const resources = new WeakMap<FastifyRequest, AsyncResource>();

/** The id of the HTTP request whose work is running, or undefined outside a request (CLI, jobs). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Runs `work` as if serving the request `requestId` (jobs that act on behalf of a request, tests). */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}

async function auditContextPlugin(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, _reply, done) => {
    storage.run({ requestId: request.id }, () => {
      const resource = new AsyncResource('yika-request-context');
      resources.set(request, resource);
      resource.runInAsyncScope(done, request.raw);
    });
  });
  app.addHook('preValidation', (request, _reply, done) => {
    const resource = resources.get(request);
    if (resource) resource.runInAsyncScope(done, request.raw);
    else done();
  });
}

export default fp(auditContextPlugin, { name: 'yika-audit-context', fastify: '5.x' });
