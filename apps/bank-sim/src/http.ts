/** HTTP plumbing shared by the routes: error bodies, the error handler and API-key authentication. */
import { createHash, timingSafeEqual } from 'node:crypto';
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';

export const BODY_BYTES_MAX = 16 * 1024;

export interface FieldError {
  path: string;
  message: string;
}

/** Bad input: answered 400 `{ code: 'invalid_request', errors }`. */
export class InvalidRequestError extends Error {
  readonly statusCode = 400;
  constructor(readonly errors: FieldError[]) {
    super(errors.map((error) => `${error.path} ${error.message}`).join('; '));
  }
}

/** Fastify's schemaErrorFormatter: one FieldError per schema violation, paths like `body.amount`. */
export function formatSchemaErrors(errors: FastifySchemaValidationError[], dataVar: string): InvalidRequestError {
  return new InvalidRequestError(
    errors.map((error) => {
      // Name the offending property for "missing" and "not allowed", which ajv reports on the parent.
      const property = error.params.missingProperty ?? error.params.additionalProperty;
      const path =
        dataVar + error.instancePath.replaceAll('/', '.') + (typeof property === 'string' ? `.${property}` : '');
      return { path, message: error.message ?? error.keyword };
    }),
  );
}

const CODE_BY_STATUS: Record<number, string> = {
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** One error handler: bad input is always a 4xx with a stable code; only our own bugs are a 500. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof InvalidRequestError) {
      return reply.code(400).send({ code: 'invalid_request', errors: error.errors });
    }
    const status = error.statusCode ?? 500;
    if (status === 400) {
      // Fastify's own 400s: malformed JSON, empty body with a JSON content type, and the like.
      return reply.code(400).send({ code: 'invalid_request', errors: [{ path: 'body', message: error.message }] });
    }
    if (status > 400 && status < 500) {
      return reply.code(status).send({ code: CODE_BY_STATUS[status] ?? 'bad_request', message: error.message });
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send({ code: 'internal_error' });
  });
  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ code: 'not_found' }));
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** onRequest hook: `authorization: Bearer <apiKey>`, compared in constant time. */
export function requireApiKey(apiKey: string) {
  const expected = digest(apiKey);
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    const header = request.headers.authorization ?? '';
    const match = /^Bearer (.+)$/.exec(header);
    if (match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected)) return;
    await reply.code(401).send({ code: 'unauthorized' });
  };
}

/** Error bodies for the response schemas (so serialisation never drops their fields). */
export const errorBodySchema = {
  type: 'object',
  properties: {
    code: { type: 'string' },
    message: { type: 'string' },
    errors: {
      type: 'array',
      items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } },
    },
  },
  required: ['code'],
} as const;
