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
  /** The caller's address and, once the session is authenticated, its device: for the risk engine. */
  ip?: string | undefined;
  deviceId?: string | undefined;
  /** The language the caller reads (Accept-Language): customer-facing reasons are given in it. */
  locale?: RequestLocale | undefined;
}

export type RequestLocale = 'zh-CN' | 'en';

const storage = new AsyncLocalStorage<RequestContext>();
const resources = new WeakMap<FastifyRequest, AsyncResource>();

/** The id of the HTTP request whose work is running, or undefined outside a request (CLI, jobs). */
export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}

/** Where the request came from: IP, device (after authentication) and language; empty outside a request. */
export function currentRequestOrigin(): { ip?: string; deviceId?: string; locale: RequestLocale } {
  const store = storage.getStore();
  return {
    ...(store?.ip ? { ip: store.ip } : {}),
    ...(store?.deviceId ? { deviceId: store.deviceId } : {}),
    locale: store?.locale ?? 'zh-CN',
  };
}

/** Called where the session is authenticated (platform/auth.ts): the device now acting. */
export function setRequestDevice(deviceId: string): void {
  const store = storage.getStore();
  if (store) store.deviceId = deviceId;
}

/** zh-CN unless the caller prefers English (the first of zh / en in Accept-Language wins). */
export function localeFrom(acceptLanguage: string | undefined): RequestLocale {
  for (const part of (acceptLanguage ?? '').slice(0, 200).split(',')) {
    const tag = part.trim().toLowerCase();
    if (tag.startsWith('zh')) return 'zh-CN';
    if (tag.startsWith('en')) return 'en';
  }
  return 'zh-CN';
}

/** Runs `work` as if serving the request `requestId` (jobs that act on behalf of a request, tests). */
export function withRequestId<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}

async function auditContextPlugin(app: FastifyInstance): Promise<void> {
  app.addHook('onRequest', (request, _reply, done) => {
    const origin = { ip: request.ip, locale: localeFrom(request.headers['accept-language']) };
    storage.run({ requestId: request.id, ...origin }, () => {
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
