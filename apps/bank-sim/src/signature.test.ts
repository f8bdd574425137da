import { describe, expect, it } from 'vitest';
import * as fromPackage from '@yika/bank-sim/signature';
import { signCallback, verifyCallbackSignature } from './signature.js';

const SECRET = 'secret';
const BODY = '{"requestId":"r1","status":"succeeded"}';
const T = 1_800_000_000;

describe('callback signatures', () => {
  it('round-trips: what signCallback signs, verifyCallbackSignature accepts', () => {
    const header = signCallback(SECRET, BODY, T);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(verifyCallbackSignature(SECRET, header, BODY, T)).toBe(true);
    expect(verifyCallbackSignature(SECRET, header, Buffer.from(BODY), T)).toBe(true);
  });

  it('is HMAC-SHA256 over "<t>.<body>"', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', SECRET).update(`${T}.${BODY}`).digest('hex');
    expect(signCallback(SECRET, BODY, T)).toBe(`t=${T},v1=${expected}`);
  });

  it('accepts a clock difference up to the tolerance, and not beyond', () => {
    const header = signCallback(SECRET, BODY, T);
    expect(verifyCallbackSignature(SECRET, header, BODY, T + 300)).toBe(true);
    expect(verifyCallbackSignature(SECRET, header, BODY, T - 300)).toBe(true);
    expect(verifyCallbackSignature(SECRET, header, BODY, T + 301)).toBe(false);
    expect(verifyCallbackSignature(SECRET, header, BODY, T + 20, 10)).toBe(false);
  });

  it('refuses another body, another secret, or a malformed header', () => {
    const header = signCallback(SECRET, BODY, T);
    expect(verifyCallbackSignature(SECRET, header, BODY.replace('succeeded', 'failed'), T)).toBe(false);
    expect(verifyCallbackSignature('other', header, BODY, T)).toBe(false);
    expect(verifyCallbackSignature(SECRET, undefined, BODY, T)).toBe(false);
    expect(verifyCallbackSignature(SECRET, '', BODY, T)).toBe(false);
    expect(verifyCallbackSignature(SECRET, header.replace(/^t=\d+/, `t=${T + 1}`), BODY, T)).toBe(false);
    expect(verifyCallbackSignature(SECRET, `v1=${header.split('v1=')[1]}`, BODY, T)).toBe(false);
    expect(verifyCallbackSignature(SECRET, `t=${T},v1=zz`, BODY, T)).toBe(false);
  });

  it('accepts any matching v1 among several (secret rotation)', () => {
    const good = signCallback(SECRET, BODY, T).split('v1=')[1];
    const old = signCallback('old', BODY, T).split('v1=')[1];
    expect(verifyCallbackSignature(SECRET, `t=${T},v1=${old},v1=${good}`, BODY, T)).toBe(true);
  });
});

describe('the package entry for the Yika server', () => {
  it('exports the helpers from @yika/bank-sim/signature, without Fastify', () => {
    expect(fromPackage.verifyCallbackSignature(SECRET, fromPackage.signCallback(SECRET, BODY, T), BODY, T)).toBe(true);
  });
});
