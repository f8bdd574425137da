/** A preHandler that refuses a request body's `notifyUrl` reaching a non-public address (SSRF guard). */
import type { FastifyRequest } from 'fastify';
import type { MerchantsService } from './merchants.service.js';

export function notifyUrlGuard(merchants: MerchantsService) {
  return async (request: FastifyRequest): Promise<void> => {
    const body = request.body as { notifyUrl?: unknown } | null | undefined;
    if (typeof body?.notifyUrl === 'string') await merchants.checkOutboundUrl(body.notifyUrl);
  };
}
