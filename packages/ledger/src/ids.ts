import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Namespace for transfer ids derived from business keys (a fixed, random UUID). */
const TRANSFER_NAMESPACE = 'b7f3b2de-5f3c-4a3e-9d0e-6f2b1e0c9a41';

const NIL_UUID = '00000000-0000-0000-0000-000000000000';

/** A new time-ordered id (UUIDv7) for accounts and business records. */
export function newId(): string {
  return uuidv7();
}

/**
 * The id of a transfer for one step of a business operation, e.g. `transferId(orderId, 'capture')`.
 * The same key always gives the same id, so a retry after a crash can never post twice.
 */
export function transferId(businessKey: string, step: string): string {
  return uuidv5(`${businessKey}\u0000${step}`, TRANSFER_NAMESPACE);
}

/** Namespace for account ids derived from a stable key (a fixed, random UUID). */
const ACCOUNT_NAMESPACE = '3f0c8a52-9d4e-4b7a-8e21-5c6d7f8091ab';

/**
 * The id of an account known by a stable key, e.g. `accountIdFor('wallet', customerId)` or
 * `accountIdFor('system', 'bank-clearing.CNY')`: creating it twice is `exists`, and no lookup table is needed.
 */
export function accountIdFor(kind: string, key: string): string {
  return uuidv5(`${kind}\u0000${key}`, ACCOUNT_NAMESPACE);
}

/** The id of the void the timeout sweep submits for an expired pending transfer. */
export function expiryTransferId(pendingId: string): string {
  return transferId(pendingId, 'ledger.expire');
}

/** An RFC 9562 UUID in lower case, or the max UUID; the hot path checks every id, so one plain regex. */
const CANONICAL_UUID =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|f{8}-f{4}-f{4}-f{4}-f{12})$/;

/** A canonical, non-nil UUID (lower case). */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && value !== NIL_UUID && CANONICAL_UUID.test(value);
}
