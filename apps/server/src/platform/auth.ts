/**
 * Who is calling. A session token arrives either as `authorization: Bearer <token>` (API clients) or as
 * the HttpOnly `yika_session` cookie (the web app). `requireCustomer` resolves it to
 * `request.customer = { customerId, sessionId, deviceId }` or answers 401 `unauthenticated`.
 *
 * CSRF: a cookie is sent by the browser on cross-site requests too, so a cookie-authenticated request
 * with an unsafe method (POST, PUT, PATCH, DELETE) must carry `x-yika-csrf: 1`. A cross-site page cannot
 * add a custom header without a CORS preflight, which this server never grants; bearer requests need no
 * header (a browser never attaches a bearer token by itself). The cookie is also SameSite=Lax.
 */
import cookie from '@fastify/cookie';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { setRequestDevice } from './audit-context.js';
import { DomainError } from './errors.js';

export const SESSION_COOKIE = 'yika_session';
export const CSRF_HEADER = 'x-yika-csrf';

export interface AuthenticatedCustomer {
  customerId: string;
  sessionId: string;
  deviceId: string;
}

/** What `requireCustomer` needs: the identity service implements it. */
export interface SessionAuthenticator {
  authenticate(token: string): Promise<AuthenticatedCustomer | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireCustomer`; always present in handlers behind it. */
    customer?: AuthenticatedCustomer;
    /** How the session token came: the web app's cookie or a bearer header. */
    sessionTransport?: 'cookie' | 'bearer';
  }
  interface FastifyInstance {
    yikaAuthenticator: SessionAuthenticator;
  }
}

class AuthError extends DomainError {
  override readonly name = 'AuthError';
}

export const unauthenticated = () =>
  new AuthError({
    code: 'unauthenticated',
    status: 401,
    title: 'Not signed in',
    detail: 'Sign in first: send the session cookie or an `authorization: Bearer` token.',
  });

const csrfRequired = () =>
  new AuthError({
    code: 'csrf_required',
    status: 403,
    title: 'CSRF header missing',
    detail: `Requests authenticated by cookie must carry the header \`${CSRF_HEADER}: 1\`.`,
  });

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearerToken(request: FastifyRequest): string | null | undefined {
  const header = request.headers.authorization;
  if (header === undefined) return undefined;
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header.trim());
  return match?.[1] ?? null;
}

/** preHandler: authenticates the caller or throws 401 `unauthenticated` (403 `csrf_required`). */
export async function requireCustomer(request: FastifyRequest): Promise<void> {
  const authenticator = request.server.yikaAuthenticator;
  const bearer = bearerToken(request);
  if (bearer === null) throw unauthenticated();
  if (bearer !== undefined) {
    const customer = await authenticator.authenticate(bearer);
    if (!customer) throw unauthenticated();
    request.customer = customer;
    request.sessionTransport = 'bearer';
    setRequestDevice(customer.deviceId);
    return;
  }
  const token = request.cookies[SESSION_COOKIE];
  if (!token) throw unauthenticated();
  if (!SAFE_METHODS.has(request.method) && request.headers[CSRF_HEADER] !== '1') throw csrfRequired();
  const customer = await authenticator.authenticate(token);
  if (!customer) throw unauthenticated();
  request.customer = customer;
  request.sessionTransport = 'cookie';
  setRequestDevice(customer.deviceId);
}

/** The authenticated customer of a request behind `requireCustomer`. */
export function customerOf(request: FastifyRequest): AuthenticatedCustomer {
  if (!request.customer) throw unauthenticated();
  return request.customer;
}

/** Sets the session cookie: HttpOnly, SameSite=Lax, Secure when the request came over TLS. */
export function setSessionCookie(request: FastifyRequest, reply: FastifyReply, token: string, expires: Date): void {
  reply.setCookie(SESSION_COOKIE, token, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
    expires,
  });
}

export function clearSessionCookie(request: FastifyRequest, reply: FastifyReply): void {
  reply.clearCookie(SESSION_COOKIE, {
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: request.protocol === 'https',
  });
}

async function authPlugin(app: FastifyInstance, options: { authenticator: SessionAuthenticator }): Promise<void> {
  await app.register(cookie);
  app.decorate('yikaAuthenticator', options.authenticator);
  app.decorateRequest('customer', undefined);
  app.decorateRequest('sessionTransport', undefined);
}

export default fp(authPlugin, { name: 'yika-auth', fastify: '5.x' });
