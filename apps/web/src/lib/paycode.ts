/**
 * The payment code (付款码) on the phone: the enrolment kept in localStorage, and the code computed
 * locally with Web Crypto, so it is shown offline. Same algorithm as the server
 * (apps/server/src/modules/payments/payment-codes.totp.ts): "28" + 8-digit device index + RFC 6238 TOTP
 * (HMAC-SHA1, 60 s, 8 digits).
 */

export const PREFIX = '28';
export const STEP_SECONDS = 60;
export const OTP_DIGITS = 8;
const STORAGE_KEY = 'yika.paycode.v1';

export interface StoredEnrolment {
  /** Whose enrolment: another customer signing in on this browser never shows it. */
  customerId: string;
  deviceIndex: string;
  /** Hex HMAC key, as the server returned it once. */
  secret: string;
}

function isEnrolment(value: unknown): value is StoredEnrolment {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    typeof record.customerId === 'string' &&
    typeof record.deviceIndex === 'string' &&
    /^\d{8}$/.test(record.deviceIndex) &&
    typeof record.secret === 'string' &&
    /^[0-9a-f]{40}$/.test(record.secret)
  );
}

export function loadEnrolment(customerId: string): StoredEnrolment | null {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? 'null');
    return isEnrolment(parsed) && parsed.customerId === customerId ? parsed : null;
  } catch {
    return null;
  }
}

export function saveEnrolment(enrolment: StoredEnrolment): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(enrolment));
}

export function forgetEnrolment(): void {
  localStorage.removeItem(STORAGE_KEY);
}

function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length / 2);
  for (let index = 0; index < bytes.length; index += 1)
    bytes[index] = parseInt(hex.slice(index * 2, index * 2 + 2), 16);
  return bytes;
}

export function stepOf(timeMs: number): number {
  return Math.floor(timeMs / 1000 / STEP_SECONDS);
}

/** Seconds until the code changes. */
export function secondsLeft(timeMs: number): number {
  return STEP_SECONDS - (Math.floor(timeMs / 1000) % STEP_SECONDS);
}

/** RFC 4226 HOTP with Web Crypto's HMAC-SHA1. */
export async function hotp(secretHex: string, counter: number, digits = OTP_DIGITS): Promise<string> {
  const key = await crypto.subtle.importKey('raw', hexToBytes(secretHex), { name: 'HMAC', hash: 'SHA-1' }, false, [
    'sign',
  ]);
  const message = new DataView(new ArrayBuffer(8));
  // Steps fit in 53 bits; split into the two 32-bit halves of the big-endian counter.
  message.setUint32(0, Math.floor(counter / 2 ** 32));
  message.setUint32(4, counter >>> 0);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, message.buffer));
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = new DataView(mac.buffer).getUint32(offset) & 0x7fffffff;
  return String(binary % 10 ** digits).padStart(digits, '0');
}

/** The 18-digit code at a moment. */
export async function paymentCodeAt(enrolment: StoredEnrolment, timeMs: number): Promise<string> {
  return `${PREFIX}${enrolment.deviceIndex}${await hotp(enrolment.secret, stepOf(timeMs))}`;
}

/** Groups for reading aloud or typing: 28 1234 5678 8765 4321. */
export function groupCode(code: string): string {
  return [code.slice(0, 2), code.slice(2, 6), code.slice(6, 10), code.slice(10, 14), code.slice(14)].join(' ');
}

/** Shown until tapped: only the prefix and the first digits, so a bystander cannot read the code. */
export function maskCode(code: string): string {
  return `${code.slice(0, 2)} ${code.slice(2, 6)} **** **** ****`;
}
