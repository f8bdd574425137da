/**
 * The OpenAPI 3.1 document, generated from the routes' Zod schemas, at `/openapi.json`, and the
 * interactive reference at `/docs`. Register before any route: @fastify/swagger collects routes as they
 * are added.
 */
import { readFileSync } from 'node:fs';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';

export const OPENAPI_PATH = '/openapi.json';
export const DOCS_PREFIX = '/docs';

// package.json sits one level above both src/ and dist/.
const packageVersion = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

async function openapiPlugin(app: FastifyInstance): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Yika API',
        version: packageVersion,
        description:
          'Yika (一卡) digital wallet API. Errors are RFC 9457 `application/problem+json` documents with a stable `code`.',
        license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
      },
      tags: [{ name: 'platform', description: 'Health and readiness' }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(swaggerUi, {
    routePrefix: DOCS_PREFIX,
    uiConfig: { validatorUrl: null, deepLinking: true },
  });
  app.get(OPENAPI_PATH, { schema: { hide: true } }, async () => app.swagger());
}

export default fp(openapiPlugin, { name: 'yika-openapi', fastify: '5.x' });
