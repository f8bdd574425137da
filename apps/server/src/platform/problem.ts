/**
 * The one error handler: every error, thrown anywhere, leaves as an RFC 9457 problem document with a
 * stable `code`. Expected errors keep their detail; anything unexpected is logged with the request id and
 * answered as a generic 500, so no internals leak.
 */
import type {
  FastifyError,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  FastifySchemaValidationError,
} from 'fastify';
import fp from 'fastify-plugin';
import { isResponseSerializationError } from 'fastify-type-provider-zod';
import {
  DomainError,
  PlatformError,
  PROBLEM_CONTENT_TYPE,
  problemType,
  type FieldError,
  type PlatformProblemCode,
  type Problem,
} from './errors.js';

/** Fastify's own error codes that are the client's fault, with the problem they become. */
const fastifyErrorProblems: Record<string, { code: PlatformProblemCode; detail: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'malformed_json', detail: 'The request body is not valid JSON.' },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'malformed_json',
    detail: 'The request body is empty but its content type is JSON.',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'payload_too_large',
    detail: 'The request body is larger than the server accepts.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'unsupported_media_type',
    detail: 'The request body has a content type this endpoint does not accept.',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'bad_request',
    detail: 'The Content-Length header does not match the body.',
  },
  FST_ERR_BAD_URL: { code: 'bad_request', detail: 'The request URL is malformed.' },
};

/** Generic codes for other 4xx errors raised by Fastify or its plugins. */
const statusCodes: Partial<Record<number, PlatformProblemCode>> = {
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
};

type Location = FieldError['in'];
const locations = new Set<string>(['body', 'querystring', 'params', 'headers']);

function isFastifyError(error: unknown): error is FastifyError {
  return error instanceof Error && typeof (error as Partial<FastifyError>).code === 'string';
}

/** `/payee/name` → `payee.name`; a missing required property names the property itself. */
function fieldErrors(validation: readonly FastifySchemaValidationError[], location: Location): FieldError[] {
  return validation.map((issue) => {
    const path = issue.instancePath.split('/').filter((part) => part !== '');
    const missing = issue.params['missingProperty'];
    if (typeof missing === 'string') path.push(missing);
    return { field: path.length > 0 ? path.join('.') : location, in: location, message: issue.message ?? 'is invalid' };
  });
}

/** Classifies an error. Returns null for errors that are not the client's fault (→ 500). */
export function toDomainError(error: unknown): DomainError | null {
  if (error instanceof DomainError) return error;
  if (!isFastifyError(error)) return null;
  if (isResponseSerializationError(error)) return null; // our response broke its own schema: a bug
  if (Array.isArray(error.validation) && error.validation.length > 0) {
    const location: Location = locations.has(error.validationContext ?? '')
      ? (error.validationContext as Location)
      : 'body';
    const errors = fieldErrors(error.validation, location);
    const fields = errors.map((entry) => entry.field).join(', ');
    return new PlatformError('validation_failed', `Invalid ${location}: ${fields}.`, { errors });
  }
  const known = fastifyErrorProblems[error.code];
  if (known) return new PlatformError(known.code, known.detail);
  const status = error.statusCode ?? 500;
  if (status >= 400 && status < 500) return new PlatformError(statusCodes[status] ?? 'bad_request', error.message);
  return null;
}

export function problemFor(request: FastifyRequest, error: DomainError): Problem {
  return {
    ...error.extensions,
    type: problemType(error.code),
    title: error.title,
    status: error.status,
    detail: error.message,
    instance: request.url.split('?', 1)[0] ?? '/',
    code: error.code,
    requestId: request.id,
  };
}

export function sendProblem(request: FastifyRequest, reply: FastifyReply, error: DomainError): FastifyReply {
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(problemFor(request, error));
}

function handleError(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const expected = toDomainError(error);
  if (expected) {
    if (expected.status >= 500) request.log.error({ err: error }, expected.message);
    else request.log.info({ code: expected.code }, expected.message);
    return sendProblem(request, reply, expected);
  }
  // The log line carries the request id (Fastify's child logger), which the client also gets back.
  request.log.error({ err: error }, 'unhandled error');
  return sendProblem(
    request,
    reply,
    new PlatformError(
      'internal_error',
      `An unexpected error occurred. Quote request id ${request.id} when reporting it.`,
    ),
  );
}

async function problemPlugin(app: FastifyInstance): Promise<void> {
  app.setErrorHandler(handleError);
}

export default fp(problemPlugin, { name: 'yika-problem', fastify: '5.x' });

/** For Fastify's `frameworkErrors` option: errors raised before routing (bad URL) get a problem too. */
export function frameworkErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  reply.header('x-request-id', request.id);
  handleError(error, request, reply);
}
