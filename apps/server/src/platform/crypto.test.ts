import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config.js';
import { DataCipher, DecryptionError, KeyRingError, parseKeyRing, sha256Hex } from './crypto.js';

const key = () => randomBytes(32).toString('base64');
const indexKey = randomBytes(32);

describe('data encryption', () => {
  it('round-trips text, including Chinese, and never repeats a ciphertext', () => {
    const cipher = new DataCipher(parseKeyRing(`k1:${key()}`), indexKey);
    const first = cipher.encrypt('王小明 11010519491231002X');
    const second = cipher.encrypt('王小明 11010519491231002X');
    expect(first).not.toBe(second);
    expect(first).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/);
    expect(cipher.decrypt(first)).toBe('王小明 11010519491231002X');
  });

  it('binds a ciphertext to its context: moved to another row it does not decrypt', () => {
    const cipher = new DataCipher(parseKeyRing(`k1:${key()}`), indexKey);
    const sealed = cipher.encrypt('secret', 'customer:a:name');
    expect(cipher.decrypt(sealed, 'customer:a:name')).toBe('secret');
    expect(() => cipher.decrypt(sealed, 'customer:b:name')).toThrow(DecryptionError);
  });

  it('refuses tampered, truncated and foreign ciphertexts', () => {
    const cipher = new DataCipher(parseKeyRing(`k1:${key()}`), indexKey);
    const sealed = cipher.encrypt('secret');
    const payload = Buffer.from(sealed.split('.')[2]!, 'base64url');
    payload[payload.length - 1]! ^= 1;
    expect(() => cipher.decrypt(`v1.k1.${payload.toString('base64url')}`)).toThrow(DecryptionError);
    expect(() => cipher.decrypt('v1.k1.AAAA')).toThrow(DecryptionError);
    expect(() => cipher.decrypt('plain text')).toThrow(DecryptionError);
    const other = new DataCipher(parseKeyRing(`k2:${key()}`), indexKey);
    expect(() => other.decrypt(sealed)).toThrow(/not in the key ring/);
    const sameIdOtherKey = new DataCipher(parseKeyRing(`k1:${key()}`), indexKey);
    expect(() => sameIdOtherKey.decrypt(sealed)).toThrow(DecryptionError);
  });

  it('keeps old data readable after a rotation and re-encrypts it under the new key', () => {
    const oldKey = key();
    const before = new DataCipher(parseKeyRing(`k1:${oldKey}`), indexKey);
    const sealed = before.encrypt('440524188001010014', 'ctx');
    const after = new DataCipher(parseKeyRing(`k2:${key()},k1:${oldKey}`), indexKey);
    expect(after.currentKeyId).toBe('k2');
    expect(after.decrypt(sealed, 'ctx')).toBe('440524188001010014');
    expect(after.needsReencryption(sealed)).toBe(true);
    const moved = after.reencrypt(sealed, 'ctx');
    expect(moved.startsWith('v1.k2.')).toBe(true);
    expect(after.needsReencryption(moved)).toBe(false);
    expect(after.reencrypt(moved, 'ctx')).toBe(moved);
    expect(after.decrypt(moved, 'ctx')).toBe('440524188001010014');
  });

  it('rejects malformed key rings', () => {
    expect(() => parseKeyRing('')).toThrow(KeyRingError);
    expect(() => parseKeyRing('nokey')).toThrow(KeyRingError);
    expect(() => parseKeyRing(`k1:${randomBytes(16).toString('base64')}`)).toThrow(/32 bytes/);
    expect(() => parseKeyRing(`k1:${key()},k1:${key()}`)).toThrow(/twice/);
    expect(() => parseKeyRing(`bad id:${key()}`)).toThrow(KeyRingError);
  });

  it('computes blind indexes that are stable, keyed and separated by purpose', () => {
    const cipher = new DataCipher(parseKeyRing(`k1:${key()}`), indexKey);
    const rotated = new DataCipher(parseKeyRing(`k2:${key()}`), indexKey);
    const index = cipher.blindIndex('id_number', '11010519491231002X');
    expect(index).toMatch(/^[0-9a-f]{64}$/);
    expect(rotated.blindIndex('id_number', '11010519491231002X')).toBe(index);
    expect(cipher.blindIndex('phone', '11010519491231002X')).not.toBe(index);
    expect(
      new DataCipher(parseKeyRing(`k1:${key()}`), randomBytes(32)).blindIndex('id_number', '11010519491231002X'),
    ).not.toBe(index);
    expect(cipher.matchesBlindIndex('id_number', '11010519491231002X', index)).toBe(true);
    expect(cipher.matchesBlindIndex('id_number', '110105194912310021', index)).toBe(false);
    expect(sha256Hex('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

describe('encryption keys in the configuration', () => {
  it('uses the development keys outside production and builds a working cipher from them', () => {
    const cipher = DataCipher.fromConfig(loadConfig({}));
    expect(cipher.decrypt(cipher.encrypt('x'))).toBe('x');
  });

  it('refuses to start in production without keys of its own', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(ConfigError);
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/DATA_ENCRYPTION_KEYS must be set/);
    expect(() => loadConfig({ NODE_ENV: 'production', DATA_ENCRYPTION_KEYS: `k1:${key()}` })).toThrow(
      /DATA_INDEX_KEY must be set/,
    );
    // (Production needs other secrets too; the key ring itself is what is checked here.)
    const config = { DATA_ENCRYPTION_KEYS: `k2:${key()}, k1:${key()}`, DATA_INDEX_KEY: key() };
    expect(() => loadConfig({ ...config })).not.toThrow();
    expect(DataCipher.fromConfig(config).currentKeyId).toBe('k2');
  });

  it('names a malformed key ring without echoing it', () => {
    const secret = `k1:${randomBytes(16).toString('base64')}`;
    try {
      loadConfig({ DATA_ENCRYPTION_KEYS: secret });
      expect.unreachable();
    } catch (error) {
      expect(String(error)).toMatch(/DATA_ENCRYPTION_KEYS must be comma-separated/);
      expect(String(error)).not.toContain(secret);
    }
  });
});
