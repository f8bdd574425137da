/**
 * Security headers and the per-client rate limit.
 *
 * The CSP allows only same-origin scripts: the Vite build emits module scripts under /assets and
 * swagger-ui's page loads its bundle and initializer from /docs/static, neither uses inline script.
 * Inline styles stay allowed because React/antd (CSS-in-JS) and swagger-ui set them.
 */
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { PlatformError } from './errors.js';

export interface SecurityOptions {
  /** Requests per window per client IP; 0 turns the limit off (load tests from one machine). */
  rateLimitMax: number;
  rateLimitWindowMs?: number;
}

const RATE_LIMIT_WINDOW_MS = 60_000;

async function securityPlugin(app: FastifyInstance, options: SecurityOptions): Promise<void> {
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'style-src': ["'self'", "'unsafe-inline'"],
        'img-src': ["'self'", 'data:'],
        'font-src': ["'self'", 'data:'],
        'connect-src': ["'self'"],
        'object-src': ["'none'"],
        'frame-ancestors': ["'none'"],
        'form-action': ["'self'"],
        // Browsers would rewrite asset URLs to https on plain-http LAN/dev deployments and break the page;
        // HTTPS is enforced by the proxy and HSTS instead.
        'upgrade-insecure-requests': null,
      },
    },
  });

  if (options.rateLimitMax > 0) {
    const timeWindow = options.rateLimitWindowMs ?? RATE_LIMIT_WINDOW_MS;
    await app.register(rateLimit, {
      max: options.rateLimitMax,
      timeWindow,
      // Thrown into the one error handler, which answers problem JSON; the plugin has set retry-after.
      errorResponseBuilder: (_request, context) =>
        new PlatformError(
          'rate_limited',
          `Rate limit of ${context.max} requests per ${timeWindow / 1000} s exceeded; retry in ${context.after}.`,
        ),
    });
  }
}

export default fp(securityPlugin, { name: 'yika-security', fastify: '5.x' });
