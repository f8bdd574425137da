/**
 * Personal data at rest: AES-256-GCM with a key ring, and keyed HMACs (blind indexes) for looking up an
 * encrypted value by equality.
 *
 * Ciphertext format: `v1.<keyId>.<base64url(iv ‖ ciphertext ‖ tag)>`. The key id travels with the data,
 * so after a rotation (a new key first in `DATA_ENCRYPTION_KEYS`, the old ones kept after it) old values
 * stay readable and `reencrypt` moves them to the current key. The caller may bind a ciphertext to its
 * context (e.g. `customer:<id>:name`) as additional authenticated data, so a value copied into another
 * row does not decrypt.
 *
 * Blind indexes use their own key (`DATA_INDEX_KEY`), never rotated with the encryption keys: an index
 * must stay stable for as long as the values it finds.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const FORMAT_VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;
/** Most keys a ring holds: a rotation keeps old keys only until `reencrypt` has moved every value. */
export const KEY_RING_SIZE_MAX = 16;

export interface DataKey {
  id: string;
  key: Buffer;
}

/** A key ring that cannot be parsed. The message names the problem but never a key's bytes. */
export class KeyRingError extends Error {
  override readonly name = 'KeyRingError';
}

/** A ciphertext that is malformed, names an unknown key, or fails authentication (tampered or misplaced). */
export class DecryptionError extends Error {
  override readonly name = 'DecryptionError';
}

function decodeKey(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new KeyRingError(`${what} is not base64`);
  const key = Buffer.from(text, 'base64');
  if (key.length !== KEY_BYTES) throw new KeyRingError(`${what} must be ${KEY_BYTES} bytes (got ${key.length})`);
  return key;
}

/** Parses `id:base64key,id:base64key,…` (the first is current). */
export function parseKeyRing(text: string): DataKey[] {
  const entries = text
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) throw new KeyRingError('no keys');
  if (entries.length > KEY_RING_SIZE_MAX) throw new KeyRingError(`more than ${KEY_RING_SIZE_MAX} keys`);
  const keys: DataKey[] = [];
  for (const entry of entries) {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new KeyRingError('each entry must be id:base64key');
    const id = entry.slice(0, colon);
    if (!KEY_ID_PATTERN.test(id))
      throw new KeyRingError(`key id ${JSON.stringify(id)} must be 1-32 of A-Z a-z 0-9 _ -`);
    if (keys.some((key) => key.id === id)) throw new KeyRingError(`key id ${id} appears twice`);
    keys.push({ id, key: decodeKey(entry.slice(colon + 1), `key ${id}`) });
  }
  return keys;
}

/** Parses `DATA_INDEX_KEY`: base64 of at least 32 bytes. */
export function parseIndexKey(text: string): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) throw new KeyRingError('index key is not base64');
  const key = Buffer.from(text, 'base64');
  if (key.length < KEY_BYTES) throw new KeyRingError(`index key must be at least ${KEY_BYTES} bytes`);
  return key;
}

export class DataCipher {
  readonly #keys: ReadonlyMap<string, Buffer>;
  readonly #current: DataKey;
  readonly #indexKey: Buffer;

  constructor(keys: readonly DataKey[], indexKey: Buffer) {
    const current = keys[0];
    if (!current) throw new KeyRingError('no keys');
    this.#current = current;
    this.#keys = new Map(keys.map((key) => [key.id, key.key]));
    this.#indexKey = indexKey;
  }

  static fromConfig(config: { DATA_ENCRYPTION_KEYS: string; DATA_INDEX_KEY: string }): DataCipher {
    return new DataCipher(parseKeyRing(config.DATA_ENCRYPTION_KEYS), parseIndexKey(config.DATA_INDEX_KEY));
  }

  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Encrypts UTF-8 text with the current key. `context` (optional) must be given again to decrypt. */
  encrypt(plaintext: string, context = ''): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#current.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad(this.#current.id, context));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, body, cipher.getAuthTag()]);
    return `${FORMAT_VERSION}.${this.#current.id}.${sealed.toString('base64url')}`;
  }

  decrypt(ciphertext: string, context = ''): string {
    const { keyId, sealed } = parse(ciphertext);
    const key = this.#keys.get(keyId);
    if (!key) throw new DecryptionError(`ciphertext names key ${keyId}, which is not in the key ring`);
    const iv = sealed.subarray(0, IV_BYTES);
    const tag = sealed.subarray(sealed.length - TAG_BYTES);
    const body = sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES);
    const decipher = createDecipheriv(ALGORITHM, key, iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad(keyId, context));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      throw new DecryptionError('ciphertext failed authentication');
    }
  }

  /** True when the value was encrypted with a key other than the current one. */
  needsReencryption(ciphertext: string): boolean {
    return parse(ciphertext).keyId !== this.#current.id;
  }

  /** The same plaintext under the current key; a value already under it is returned unchanged. */
  reencrypt(ciphertext: string, context = ''): string {
    if (!this.needsReencryption(ciphertext)) return ciphertext;
    return this.encrypt(this.decrypt(ciphertext, context), context);
  }

  /**
   * A keyed HMAC-SHA256 (hex) of `value` for equality look-ups. `purpose` separates indexes, so the same
   * value hashed for two columns gives unrelated results.
   */
  blindIndex(purpose: string, value: string): string {
    return createHmac('sha256', this.#indexKey).update(`${purpose}\u0000${value}`, 'utf8').digest('hex');
  }

  /** Constant-time comparison of a value against a stored blind index. */
  matchesBlindIndex(purpose: string, value: string, index: string): boolean {
    const expected = Buffer.from(this.blindIndex(purpose, value), 'hex');
    const actual = Buffer.from(index, 'hex');
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`${FORMAT_VERSION}.${keyId}.${context}`, 'utf8');
}

function parse(ciphertext: string): { keyId: string; sealed: Buffer } {
  const parts = ciphertext.split('.');
  const [version, keyId, payload] = parts;
  if (parts.length !== 3 || version !== FORMAT_VERSION || keyId === undefined || payload === undefined) {
    throw new DecryptionError('not a v1 ciphertext');
  }
  if (!KEY_ID_PATTERN.test(keyId) || !/^[A-Za-z0-9_-]+$/.test(payload))
    throw new DecryptionError('not a v1 ciphertext');
  const sealed = Buffer.from(payload, 'base64url');
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new DecryptionError('ciphertext too short');
  return { keyId, sealed };
}

/** SHA-256 hex of a high-entropy secret (session tokens): no key needed, a 32-byte token cannot be guessed. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A URL-safe random token of `bytes` random bytes. */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
