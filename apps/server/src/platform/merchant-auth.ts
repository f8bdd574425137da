/**
 * Who acts for a merchant on `/v1/merchant/*`. Either
 * - a merchant API key, `authorization: Bearer yk_…`: full merchant rights except staff management, or
 * - a staff member's ordinary Yika session (cookie + `x-yika-csrf: 1`, or a bearer session token) plus
 *   `x-yika-merchant-id: <uuid>`: the session's customer must be a live member of that merchant, with a
 *   role the route allows.
 *
 * A module builds its guard once, `const asMerchant = merchantGuard(app, services.merchants)`, and each
 * route declares its roles: `preHandler: asMerchant(['owner', 'manager'])`. The guard then runs before
 * body validation (see `merchantGuard`), so a caller without rights gets 401/403 whatever they send.
 * Handlers read `merchantOf(request)` = `{ merchantId, keyId, staff }`.
 *
 * Role rights: owner = everything; manager = everything except API keys, webhook endpoints, the notify
 * key and staff; cashier = cashier charges, QR codes and (read-only) payments of their store. A staff
 * member of a merchant that is not approved may only read (GET), so nothing moves money for it.
 *
 * Also `requireOpsToken`, the stand-in for operations' sign-in until the ops console exists: a shared
 * bearer token from `OPS_API_TOKEN` (unset: every operations route answers 401).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { requireCustomer, SESSION_COOKIE, unauthenticated } from './auth.js';
import { DomainError } from './errors.js';
import { sha256Hex } from './crypto.js';

export type MerchantRole = 'owner' | 'manager' | 'cashier';
export const MERCHANT_ROLES: readonly MerchantRole[] = ['owner', 'manager', 'cashier'];

export const MERCHANT_ID_HEADER = 'x-yika-merchant-id';

export interface MerchantStaff {
  customerId: string;
  role: MerchantRole;
  /** The store a cashier (or manager) is bound to; null = every store of the merchant. */
  storeId: string | null;
}

export interface AuthenticatedMerchant {
  merchantId: string;
  /** The API key used, or null for a staff session. */
  keyId: string | null;
  /** The staff member acting, or null for an API key. */
  staff: MerchantStaff | null;
}

export interface MerchantAuthenticator {
  /** The merchant a live API key belongs to, or null. */
  authenticate(key: string): Promise<{ merchantId: string; keyId: string } | null>;
  /** A live membership of the customer in the merchant (with the merchant's status), or null. */
  membership(
    merchantId: string,
    customerId: string,
  ): Promise<{ role: MerchantRole; storeId: string | null; merchantStatus: string } | null>;
}

export interface MerchantGuardOptions {
  /** Whether a merchant API key may call the route (default true; false for staff management). */
  apiKey?: boolean;
}

/** What a guard allows; readable by tests and docs through the route's `config.merchantAccess`. */
export interface MerchantAccess {
  roles: readonly MerchantRole[];
  apiKey: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by a merchant guard. */
    merchant?: AuthenticatedMerchant;
  }
  interface FastifyContextConfig {
    /** Set on every route behind a merchant guard. */
    merchantAccess?: MerchantAccess;
  }
}

const GUARD = Symbol('yika.merchantGuard');
type Guard = preHandlerAsyncHookHandler & { [GUARD]?: MerchantAccess };

/** An API key: `yk_<16 hex>_<43 base64url>` (a session token is 43 characters and never matches). */
const API_KEY_PATTERN = /^yk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/;
const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function bearer(request: FastifyRequest): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(request.headers.authorization?.trim() ?? '');
  return match?.[1] ?? null;
}

class MerchantAuthError extends DomainError {
  override readonly name = 'MerchantAuthError';
}

const merchantUnauthenticated = () =>
  new MerchantAuthError({
    code: 'unauthenticated',
    status: 401,
    title: 'Not authenticated',
    detail: `Send a live merchant API key as \`authorization: Bearer <key>\`, or sign in and send \`${MERCHANT_ID_HEADER}\`.`,
  });

export const merchantForbidden = (detail: string) =>
  new MerchantAuthError({ code: 'forbidden', status: 403, title: 'Forbidden', detail });

const merchantIdRequired = () =>
  new MerchantAuthError({
    code: 'merchant_id_required',
    status: 400,
    title: 'Merchant not chosen',
    detail: `Staff sessions must name the merchant they act for in the \`${MERCHANT_ID_HEADER}\` header (a UUID).`,
  });

function headerValue(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

async function authenticateMerchant(
  request: FastifyRequest,
  authenticator: MerchantAuthenticator,
  access: MerchantAccess,
): Promise<AuthenticatedMerchant> {
  const chosen = headerValue(request, MERCHANT_ID_HEADER);
  const token = bearer(request);
  if (token !== null && API_KEY_PATTERN.test(token)) {
    const key = await authenticator.authenticate(token);
    if (!key) throw merchantUnauthenticated();
    // A key acts only for its own merchant: naming another one is refused rather than silently ignored.
    if (chosen !== undefined && chosen.toLowerCase() !== key.merchantId) {
      throw merchantForbidden('This API key belongs to another merchant.');
    }
    if (!access.apiKey) throw merchantForbidden('API keys cannot use this route (staff, the settlement card): sign in as the owner.');
    return { merchantId: key.merchantId, keyId: key.keyId, staff: null };
  }
  if (token === null && request.headers.authorization !== undefined) throw merchantUnauthenticated();
  if (token === null && request.cookies[SESSION_COOKIE] === undefined) throw merchantUnauthenticated();
  try {
    await requireCustomer(request);
  } catch (error) {
    // Keep the CSRF answer (403 csrf_required); anything else is "not authenticated" for the portal.
    if (error instanceof DomainError && error.code !== 'unauthenticated') throw error;
    throw merchantUnauthenticated();
  }
  const customerId = request.customer!.customerId;
  if (chosen === undefined || !UUID_PATTERN.test(chosen)) throw merchantIdRequired();
  const merchantId = chosen.toLowerCase();
  const member = await authenticator.membership(merchantId, customerId);
  if (!member) throw merchantForbidden('You are not a member of this merchant.');
  if (!access.roles.includes(member.role)) {
    throw merchantForbidden(`The ${member.role} role may not do this.`);
  }
  if (member.merchantStatus !== 'approved' && !SAFE_METHODS.has(request.method)) {
    throw merchantForbidden(`This merchant is ${member.merchantStatus}: its staff may only look.`);
  }
  return { merchantId, keyId: null, staff: { customerId, role: member.role, storeId: member.storeId } };
}

/**
 * The guard factory of a routes plugin. It also registers an `onRoute` hook on `app` (the plugin's own
 * instance) that moves a guard declared in `preHandler` to the front of `preValidation`: authentication
 * and the role check come before body validation, so a refused caller learns nothing of the schema, and
 * `config.merchantAccess` records what the route allows.
 */
export function merchantGuard(app: FastifyInstance, authenticator: MerchantAuthenticator) {
  app.addHook('onRoute', (route) => {
    const handlers = ([] as Guard[]).concat((route.preHandler as Guard | Guard[] | undefined) ?? []);
    const guards = handlers.filter((handler) => handler[GUARD] !== undefined);
    if (guards.length === 0) return;
    route.preHandler = handlers.filter((handler) => handler[GUARD] === undefined);
    const validation = ([] as Guard[]).concat((route.preValidation as Guard | Guard[] | undefined) ?? []);
    route.preValidation = [...guards, ...validation];
    route.config = { ...route.config, merchantAccess: guards[0]![GUARD]! };
  });
  return (roles: readonly MerchantRole[], options: MerchantGuardOptions = {}): preHandlerAsyncHookHandler => {
    const access: MerchantAccess = { roles: [...roles], apiKey: options.apiKey ?? true };
    const guard: Guard = async function merchantGuardHook(request) {
      request.merchant = await authenticateMerchant(request, authenticator, access);
    };
    guard[GUARD] = access;
    return guard;
  };
}

export function merchantOf(request: FastifyRequest): AuthenticatedMerchant {
  if (!request.merchant) throw merchantUnauthenticated();
  return request.merchant;
}

/** preHandler for operations routes: the bearer must equal `OPS_API_TOKEN` (compared in constant time). */
export function requireOpsToken(token: string | undefined) {
  const expected = token === undefined ? null : Buffer.from(sha256Hex(token), 'hex');
  return async (request: FastifyRequest): Promise<void> => {
    const given = bearer(request);
    if (expected === null || given === null) throw unauthenticated();
    if (!timingSafeEqual(expected, Buffer.from(sha256Hex(given), 'hex'))) throw unauthenticated();
    await Promise.resolve();
  };
}
