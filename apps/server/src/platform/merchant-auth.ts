/**
 * Merchant API authentication: `authorization: Bearer <API key>`. `requireMerchant(authenticator)` is a
 * preHandler that resolves the key to `request.merchant = { merchantId, keyId }` or answers 401
 * `unauthenticated`. Also `requireOpsToken`, the stand-in for operations' sign-in until the ops console
 * exists: a shared bearer token from `OPS_API_TOKEN` (unset: every operations route answers 401).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { unauthenticated } from './auth.js';
import { DomainError } from './errors.js';
import { sha256Hex } from './crypto.js';

export interface AuthenticatedMerchant {
  merchantId: string;
  keyId: string;
}

export interface MerchantAuthenticator {
  authenticate(key: string): Promise<AuthenticatedMerchant | null>;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by `requireMerchant`. */
    merchant?: AuthenticatedMerchant;
  }
}

function bearer(request: FastifyRequest): string | null {
  const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(request.headers.authorization?.trim() ?? '');
  return match?.[1] ?? null;
}

const merchantUnauthenticated = () =>
  new DomainError({
    code: 'unauthenticated',
    status: 401,
    title: 'Not authenticated',
    detail: 'Send a live merchant API key as `authorization: Bearer <key>`.',
  });

export function requireMerchant(authenticator: MerchantAuthenticator) {
  return async (request: FastifyRequest): Promise<void> => {
    const key = bearer(request);
    if (key === null) throw merchantUnauthenticated();
    const merchant = await authenticator.authenticate(key);
    if (!merchant) throw merchantUnauthenticated();
    request.merchant = merchant;
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
