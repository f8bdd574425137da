/**
 * Idempotency keys for endpoints that move money (architecture: "Principles for money"). The same key
 * with the same request returns the stored response; the same key with another request is a 409. The
 * record is written in the same transaction as the operation's own rows and ledger transfers, so either
 * both exist or neither does, and a concurrent request with the same key waits on the record's row lock
 * and then replays the first one's response.
 */
import { createHash } from 'node:crypto';
import type { Migration, SqlExecutor } from '@yika/db';
import type { FastifyReply } from 'fastify';
import { DomainError } from './errors.js';

export const idempotencyMigrations: Migration[] = [
  {
    id: 'platform/0001_idempotency_records',
    sql: `
create table idempotency_records (
  scope text not null,
  key text not null,
  request_hash text not null,
  response_status integer,
  response_body jsonb,
  created_at timestamptz not null default now(),
  primary key (scope, key)
);
create index idempotency_records_created on idempotency_records (created_at);
`,
  },
];

/** Keys are chosen by clients: printable ASCII, long enough for a UUID or a client's own scheme. */
const KEY_PATTERN = /^[\x21-\x7e]{8,128}$/;

export class IdempotencyKeyError extends DomainError {
  constructor(code: 'idempotency_key_required' | 'idempotency_key_invalid' | 'idempotency_key_reused', detail: string) {
    super({
      code,
      status: code === 'idempotency_key_reused' ? 409 : 400,
      title: code === 'idempotency_key_reused' ? 'Idempotency key reused' : 'Idempotency key missing or invalid',
      detail,
    });
  }
}

export interface StoredResponse<Body> {
  status: number;
  body: Body;
}

/** Checks the `Idempotency-Key` header value. */
export function requireIdempotencyKey(value: string | string[] | undefined): string {
  if (value === undefined) {
    throw new IdempotencyKeyError(
      'idempotency_key_required',
      'This operation moves money: send an Idempotency-Key header.',
    );
  }
  if (typeof value !== 'string' || !KEY_PATTERN.test(value)) {
    throw new IdempotencyKeyError(
      'idempotency_key_invalid',
      'Idempotency-Key must be 8 to 128 printable ASCII characters.',
    );
  }
  return value;
}

/** A stable hash of the request: canonical JSON, so key order does not matter. */
export function requestHash(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

function canonicalJson(value: unknown): string {
  if (typeof value === 'bigint') return JSON.stringify(value.toString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Runs `operation` once per (scope, key) inside `tx`. Returns the stored response on a replay.
 * `operation` throwing rolls everything back, the record included: a failed request may be retried.
 */
export async function once<Body>(
  tx: SqlExecutor,
  scope: string,
  key: string,
  request: unknown,
  operation: () => Promise<StoredResponse<Body>>,
): Promise<StoredResponse<Body> & { replayed: boolean }> {
  const hash = requestHash(request);
  await tx.query(
    `insert into idempotency_records (scope, key, request_hash) values ($1, $2, $3) on conflict (scope, key) do nothing`,
    [scope, key, hash],
  );
  // The row lock makes a concurrent duplicate wait here until the first request commits or rolls back.
  const { rows } = await tx.query<{ request_hash: string; response_status: number | null; response_body: Body | null }>(
    `select request_hash, response_status, response_body from idempotency_records where scope = $1 and key = $2 for update`,
    [scope, key],
  );
  const record = rows[0];
  if (record === undefined) throw new Error('idempotency record vanished inside its transaction');
  if (record.request_hash !== hash) {
    throw new IdempotencyKeyError('idempotency_key_reused', 'This Idempotency-Key was used with a different request.');
  }
  if (record.response_status !== null) {
    return { status: record.response_status, body: record.response_body as Body, replayed: true };
  }
  const response = await operation();
  await tx.query(
    `update idempotency_records set response_status = $3, response_body = $4::jsonb where scope = $1 and key = $2`,
    [scope, key, response.status, JSON.stringify(response.body)],
  );
  return { ...response, replayed: false };
}

/** Sends what `once()` returned, saying in `idempotent-replayed` whether it is a stored answer. */
export function sendOnce<Body>(
  reply: FastifyReply,
  result: StoredResponse<Body> & { replayed: boolean },
): FastifyReply {
  return reply.code(result.status).header('idempotent-replayed', String(result.replayed)).send(result.body);
}
