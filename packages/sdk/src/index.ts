/**
 * The typed Yika API client: `openapi-fetch` over the types generated from the server's OpenAPI document.
 *
 *   const yika = createYikaClient({ baseUrl: '' });            // the web app, same origin, session cookie
 *   const yika = createYikaClient({ baseUrl, token });          // a script or test with a bearer token
 *   const { data, error } = await yika.GET('/v1/wallet');
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { PlannedPaths } from './planned.js';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export type * from './planned.js';

/** Every route the client knows: the generated ones, plus planned ones the server does not publish yet. */
export type YikaPaths = paths & Omit<PlannedPaths, keyof paths>;
export type YikaClient = Client<YikaPaths>;
export type Problem = components['schemas']['Problem'];
export type CustomerProfile = components['schemas']['CustomerProfile'];

/** The server's CSRF rule (apps/server/src/platform/auth.ts): cookie-authenticated unsafe requests carry it. */
export const CSRF_HEADER = 'x-yika-csrf';
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

export interface YikaClientOptions {
  /** '' for the same origin (the web app), or e.g. `http://127.0.0.1:3000`. */
  baseUrl: string;
  /** Another fetch (tests, other runtimes). */
  fetch?: (request: Request) => Promise<Response>;
  /** A bearer token from `POST /v1/auth/sessions` with `client: "api"`; without it the cookie is used. */
  token?: string;
  /** Added to every request, e.g. `accept-language`. */
  headers?: Record<string, string>;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function authMiddleware(token: string | undefined): Middleware {
  return {
    onRequest({ request }) {
      if (token) request.headers.set('authorization', `Bearer ${token}`);
      // Harmless for bearer requests; required for cookie ones. Only the server's own origin can send it.
      if (!SAFE_METHODS.has(request.method)) request.headers.set(CSRF_HEADER, '1');
      return request;
    },
  };
}

export function createYikaClient(options: YikaClientOptions): YikaClient {
  const client = createClient<YikaPaths>({
    baseUrl: options.baseUrl,
    credentials: 'same-origin',
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
  });
  client.use(authMiddleware(options.token));
  return client;
}

/** A fresh key for one money movement. Keep it for retries of the same intent; make a new one for a new intent. */
export function newIdempotencyKey(): string {
  return globalThis.crypto.randomUUID();
}

/** `{ params: { header } }` for a money route: `yika.POST('/v1/wallet/top-ups', { ...idempotent(key), body })`. */
export function idempotent(key: string): { params: { header: { 'idempotency-key': string } } } {
  return { params: { header: { 'idempotency-key': key } } };
}

/** Whether an `error` from the client is an RFC 9457 problem document (it has a string `code`). */
export function isProblem(value: unknown): value is Problem {
  return typeof value === 'object' && value !== null && typeof (value as { code?: unknown }).code === 'string';
}
