/** Mainland mobile numbers: 11 digits starting 1[3-9]. The server also accepts other E.164 numbers. */
export function normalizePhone(input: string): string | null {
  const digits = input.replace(/[\s-]/g, '');
  if (/^1[3-9]\d{9}$/.test(digits)) return `+86${digits}`;
  if (/^\+861[3-9]\d{9}$/.test(digits)) return digits;
  if (/^\+[1-9]\d{6,14}$/.test(digits)) return digits;
  return null;
}

/** "+8613800138000" → "138 0013 8000" for display. */
export function displayPhone(e164: string): string {
  const local = e164.startsWith('+86') ? e164.slice(3) : e164;
  return /^\d{11}$/.test(local) ? `${local.slice(0, 3)} ${local.slice(3, 7)} ${local.slice(7)}` : e164;
}
