/**
 * Callback signatures: `x-bank-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * Dependency-free (node:crypto only) so the Yika server can import it to verify callbacks.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-bank-signature';
export const SIGNATURE_TOLERANCE_SECONDS = 300;
const HEADER_LENGTH_MAX = 1_024;

function hmacHex(secret: string, t: number, body: string | Uint8Array): string {
  return createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex');
}

/** The header value for a callback body signed at `t` (unix seconds). */
export function signCallback(secret: string, body: string | Uint8Array, t: number): string {
  return `t=${t},v1=${hmacHex(secret, t, body)}`;
}

/**
 * True when the header carries a `v1` that matches the raw body (exactly the bytes received) and its `t`
 * is within `toleranceSeconds` of `nowSeconds`. Several `v1` entries are allowed (secret rotation).
 */
export function verifyCallbackSignature(
  secret: string,
  header: string | undefined | null,
  rawBody: string | Uint8Array,
  nowSeconds: number,
  toleranceSeconds: number = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  if (typeof header !== 'string' || header.length > HEADER_LENGTH_MAX) return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of header.split(',')) {
    const [key, value, ...rest] = part.trim().split('=');
    if (value === undefined || rest.length > 0) return false;
    if (key === 't') {
      if (!/^\d{1,12}$/.test(value)) return false;
      t = Number(value);
    } else if (key === 'v1') {
      candidates.push(value);
    }
  }
  if (t === undefined || candidates.length === 0) return false;
  if (Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, t, rawBody), 'hex');
  let matched = false;
  for (const candidate of candidates) {
    if (!/^[0-9a-f]{64}$/i.test(candidate)) continue;
    // Compare every candidate in constant time; no early exit on a match.
    if (timingSafeEqual(Buffer.from(candidate, 'hex'), expected)) matched = true;
  }
  return matched;
}
