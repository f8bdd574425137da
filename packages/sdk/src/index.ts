/**
 * The typed Yika API client: `openapi-fetch` over the types generated from the server's OpenAPI document.
 *
 *   const yika = createYikaClient({ baseUrl: '' });            // the web app, same origin, session cookie
 *   const yika = createYikaClient({ baseUrl, token });          // a script or test with a bearer token
 *   const { data, error } = await yika.GET('/v1/wallet');
 */
import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';

export type YikaPaths = paths;
export type YikaClient = Client<YikaPaths>;
export type Problem = components['schemas']['Problem'];
export type CustomerProfile = components['schemas']['CustomerProfile'];

/** The JSON body of an operation's success response. */
type Ok<Operation> = Operation extends { responses: infer Responses }
  ? {
      [Status in keyof Responses]: Status extends 200 | 201 | 202
        ? Responses[Status] extends { content: { 'application/json': infer Body } }
          ? Body
          : never
        : never;
    }[keyof Responses]
  : never;

// Named shapes the web app and tests use, derived from the generated document (so they cannot drift).
export type Balance = Ok<paths['/v1/wallet']['get']>;
export type Card = Ok<paths['/v1/cards']['get']>['cards'][number];
export type CardVerification = Ok<paths['/v1/cards/verifications']['post']>;
export type Order = Ok<paths['/v1/wallet/orders/{orderId}']['get']>;
export type OrderStatus = Order['status'];
export type Transfer = Ok<paths['/v1/wallet/transfers']['post']>;
export type Movement = Ok<paths['/v1/wallet/movements']['get']>['movements'][number];
export type MovementType = Movement['type'];
export type MonthlyBill = Ok<paths['/v1/wallet/bills/{month}']['get']>;

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
