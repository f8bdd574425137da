/**
 * Errors the API answers with. Modules throw `DomainError` subclasses and never touch HTTP; the error
 * handler (problem.ts) is the one place that turns them into RFC 9457 problem documents.
 */
import { z } from 'zod';

/** An expected failure with a stable machine code. The message is the problem's `detail`: safe to show. */
export class DomainError extends Error {
  override readonly name: string = 'DomainError';
  readonly code: string;
  readonly status: number;
  readonly title: string;
  /** Extra members of the problem document (RFC 9457 extensions), e.g. `{ pendingMigrations: [...] }`. */
  readonly extensions: Readonly<Record<string, unknown>>;

  constructor(options: {
    code: string;
    status: number;
    title: string;
    detail: string;
    extensions?: Record<string, unknown>;
  }) {
    super(options.detail);
    if (!/^[a-z][a-z0-9_]*$/.test(options.code))
      throw new TypeError(`problem code must be snake_case: ${options.code}`);
    if (!(Number.isInteger(options.status) && options.status >= 400 && options.status <= 599)) {
      throw new TypeError(`problem status must be 4xx or 5xx: ${options.status}`);
    }
    this.code = options.code;
    this.status = options.status;
    this.title = options.title;
    this.extensions = options.extensions ?? {};
  }
}

/** The platform's own problem codes with their fixed status and title (a title never varies per occurrence). */
export const platformProblems = {
  bad_request: { status: 400, title: 'Bad request' },
  validation_failed: { status: 400, title: 'Request validation failed' },
  malformed_json: { status: 400, title: 'Malformed JSON body' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  not_ready: { status: 503, title: 'Service not ready' },
} as const satisfies Record<string, { status: number; title: string }>;

export type PlatformProblemCode = keyof typeof platformProblems;

/** A `DomainError` with one of the platform codes (status and title come from the table). */
export class PlatformError extends DomainError {
  override readonly name = 'PlatformError';
  constructor(code: PlatformProblemCode, detail: string, extensions?: Record<string, unknown>) {
    super({ code, ...platformProblems[code], detail, ...(extensions ? { extensions } : {}) });
  }
}

export class NotFoundError extends PlatformError {
  constructor(detail: string) {
    super('not_found', detail);
  }
}

/** The URI of a problem type. Not dereferenceable: the `code` is what clients branch on. */
export function problemType(code: string): string {
  return `urn:yika:problem:${code}`;
}

export const fieldErrorSchema = z.object({
  field: z
    .string()
    .describe('Dotted path of the invalid field, e.g. `payee.name`; the location itself for a whole-part error'),
  in: z.enum(['body', 'querystring', 'params', 'headers']).describe('Which part of the request holds the field'),
  message: z.string(),
});

export type FieldError = z.infer<typeof fieldErrorSchema>;

/**
 * RFC 9457 problem document. Loose, so extension members (e.g. `errors`, `pendingMigrations`) survive
 * serialization when a route declares this schema for an error status.
 */
export const problemSchema = z
  .looseObject({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string(),
    code: z.string().describe('Stable machine-readable code'),
    requestId: z.string(),
    errors: z.array(fieldErrorSchema).optional(),
  })
  .meta({ id: 'Problem', description: 'RFC 9457 problem details (application/problem+json)' });

export type Problem = z.infer<typeof problemSchema>;

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8';
