/**
 * Serves the built web app (apps/web/dist) and answers every request no route matched: a browser
 * navigating to a client-side route gets index.html (SPA fallback); anything else gets a 404 problem.
 */
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { NotFoundError } from './errors.js';

export interface WebOptions {
  /** Absolute path of the Vite build output. */
  distDir: string;
}

/** Paths that belong to the API: never answered with the web app. */
const API_PREFIXES = ['/v1/', '/docs', '/openapi.json', '/metrics', '/healthz', '/readyz'];

const NOT_BUILT_MESSAGE =
  'Yika is running, but the web app has not been built yet.\n' +
  'Run `npm run build` (or `npm start`, which builds first) and reload.\n' +
  'The API reference is at /docs.\n';

function wantsWebPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url.split('?', 1)[0] ?? '/';
  if (API_PREFIXES.some((prefix) => path === prefix.replace(/\/$/, '') || path.startsWith(prefix))) return false;
  return (request.headers.accept ?? '').includes('text/html');
}

async function webPlugin(app: FastifyInstance, options: WebOptions): Promise<void> {
  const built = existsSync(join(options.distDir, 'index.html'));

  if (built) {
    await app.register(fastifyStatic, {
      root: options.distDir,
      // One route per file at start (the build output is fixed), so unknown paths reach the handler below.
      wildcard: false,
      cacheControl: false,
      setHeaders: (reply, path) => {
        // Vite fingerprints everything under assets/: cache it forever. index.html must always revalidate.
        const immutable = path.startsWith(join(options.distDir, 'assets') + sep);
        void reply.header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    });
  } else {
    app.log.warn({ distDir: options.distDir }, 'web app not built: run `npm run build`');
    app.get('/', { schema: { hide: true } }, async (_request, reply) =>
      reply.type('text/plain; charset=utf-8').send(NOT_BUILT_MESSAGE),
    );
  }

  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    if (wantsWebPage(request)) {
      if (built) return reply.sendFile('index.html');
      return reply.type('text/plain; charset=utf-8').send(NOT_BUILT_MESSAGE);
    }
    throw new NotFoundError(`No route for ${request.method} ${request.url.split('?', 1)[0] ?? '/'}.`);
  });
}

export default fp(webPlugin, { name: 'yika-web', fastify: '5.x' });
