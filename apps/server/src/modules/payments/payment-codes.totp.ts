/**
 * Customer-presented payment codes (付款码): the 18-digit format and its time-based one-time password.
 * The OTP is RFC 6238 TOTP (HOTP of RFC 4226 over the time step) so the phone derives it offline from
 * the enrolled secret; the web app computes the same thing with Web Crypto (apps/web/src/lib/paycode.ts).
 *
 *   28 | 12345678 | 87654321
 *   prefix (like UnionPay/Alipay codes, 25–30) | device index (one enrolment) | TOTP (8 digits, 60 s)
 */
import { createHmac } from 'node:crypto';

export const PAYMENT_CODE_PREFIX = '28';
export const PAYMENT_CODE_LENGTH = 18;
export const DEVICE_INDEX_DIGITS = 8;
export const OTP_DIGITS = 8;
export const OTP_STEP_SECONDS = 60;
export const OTP_ALGORITHM = 'sha1' as const;
export const SECRET_BYTES = 20;

export type OtpAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** RFC 4226 HOTP: HMAC of the 8-byte big-endian counter, dynamic truncation, `digits` decimal digits. */
export function hotp(secret: Buffer, counter: bigint, digits: number, algorithm: OtpAlgorithm): string {
  if (digits < 6 || digits > 10) throw new RangeError('digits must be 6 to 10');
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(counter);
  const mac = createHmac(algorithm, secret).update(message).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  const binary = mac.readUInt32BE(offset) & 0x7fffffff;
  return String(BigInt(binary) % 10n ** BigInt(digits)).padStart(digits, '0');
}

/** The time step a moment falls in. */
export function timeStep(timeMs: number, stepSeconds = OTP_STEP_SECONDS): bigint {
  return BigInt(Math.floor(timeMs / 1000 / stepSeconds));
}

/** RFC 6238 TOTP at a moment. */
export function totp(
  secret: Buffer,
  timeMs: number,
  options: { digits?: number; stepSeconds?: number; algorithm?: OtpAlgorithm } = {},
): string {
  return hotp(
    secret,
    timeStep(timeMs, options.stepSeconds ?? OTP_STEP_SECONDS),
    options.digits ?? OTP_DIGITS,
    options.algorithm ?? OTP_ALGORITHM,
  );
}

/** The 18-digit code a device shows at a moment. */
export function paymentCode(deviceIndex: string, secret: Buffer, timeMs: number): string {
  return `${PAYMENT_CODE_PREFIX}${deviceIndex}${totp(secret, timeMs)}`;
}

export interface ParsedPaymentCode {
  deviceIndex: string;
  otp: string;
}

/** Splits a scanned or typed code (spaces and dashes allowed between groups); null when it is not one. */
export function parsePaymentCode(text: string): ParsedPaymentCode | null {
  const digits = text.replace(/[\s-]/g, '');
  if (digits.length !== PAYMENT_CODE_LENGTH || !/^\d+$/.test(digits)) return null;
  if (!digits.startsWith(PAYMENT_CODE_PREFIX)) return null;
  const indexEnd = PAYMENT_CODE_PREFIX.length + DEVICE_INDEX_DIGITS;
  return { deviceIndex: digits.slice(PAYMENT_CODE_PREFIX.length, indexEnd), otp: digits.slice(indexEnd) };
}
