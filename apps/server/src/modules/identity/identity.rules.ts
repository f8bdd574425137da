/**
 * Pure rules of identity: phone numbers, resident ID numbers (GB 11643), weak PINs and masked names.
 * No I/O; the service calls these and turns a `false`/reason into a domain error.
 */

/** Mainland mobile numbers: 1[3-9] and nine more digits. */
const MAINLAND_MOBILE = /^1[3-9]\d{9}$/;
/** E.164: a country code that does not start with 0, at most 15 digits in all. */
const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * Normalises a mobile number to E.164, or returns null. Spaces and dashes are ignored; an 11-digit
 * mainland number without a country code is taken as +86. +86 numbers must be mainland mobiles.
 */
export function normalizePhone(input: string): string | null {
  const compact = input.replace(/[\s-]/g, '');
  if (MAINLAND_MOBILE.test(compact)) return `+86${compact}`;
  const withPlus = compact.startsWith('00') ? `+${compact.slice(2)}` : compact;
  if (!E164.test(withPlus)) return null;
  if (withPlus.startsWith('+86')) return MAINLAND_MOBILE.test(withPlus.slice(3)) ? withPlus : null;
  return withPlus;
}

/** Shows the last four digits only: `+86 *** **** 8000`. */
export function maskPhone(phone: string): string {
  return `${phone.slice(0, phone.startsWith('+86') ? 3 : 2)}******${phone.slice(-4)}`;
}

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
const ID_CHECK_CHARACTERS = '10X98765432';

/** GB 11643-1999 check character of the first 17 digits of a resident ID number. */
export function residentIdCheckCharacter(first17: string): string {
  if (!/^\d{17}$/.test(first17)) throw new RangeError('expected 17 digits');
  let sum = 0;
  for (let index = 0; index < 17; index += 1) sum += Number(first17[index]) * ID_WEIGHTS[index]!;
  return ID_CHECK_CHARACTERS[sum % 11]!;
}

export type ResidentIdProblem = 'format' | 'check_character' | 'birth_date';

export interface ResidentId {
  /** Upper-case, 18 characters. */
  number: string;
  birthDate: { year: number; month: number; day: number };
}

/** Parses an 18-character resident ID number; `today` bounds the birth date. */
export function parseResidentId(input: string, today: Date): ResidentId | ResidentIdProblem {
  const number = input.trim().toUpperCase();
  if (!/^[1-9]\d{16}[\dX]$/.test(number)) return 'format';
  if (residentIdCheckCharacter(number.slice(0, 17)) !== number[17]) return 'check_character';
  const year = Number(number.slice(6, 10));
  const month = Number(number.slice(10, 12));
  const day = Number(number.slice(12, 14));
  const date = new Date(Date.UTC(year, month - 1, day));
  const valid = date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
  if (!valid || year < 1900 || date.getTime() > today.getTime()) return 'birth_date';
  return { number, birthDate: { year, month, day } };
}

/** Whole years between a birth date and `today` (UTC calendar). */
export function ageOn(birthDate: ResidentId['birthDate'], today: Date): number {
  const years = today.getUTCFullYear() - birthDate.year;
  const beforeBirthday =
    today.getUTCMonth() + 1 < birthDate.month ||
    (today.getUTCMonth() + 1 === birthDate.month && today.getUTCDate() < birthDate.day);
  return beforeBirthday ? years - 1 : years;
}

/** Every character but the last is masked: "李明" → "*明", "王小明" → "**明". */
export function maskName(name: string): string {
  const characters = Array.from(name.trim());
  if (characters.length <= 1) return '*';
  return `${'*'.repeat(characters.length - 1)}${characters[characters.length - 1]!}`;
}

/** Names as written on a resident ID: Chinese characters (with · for minorities' names) or Latin letters. */
export function isPlausibleName(name: string): boolean {
  const trimmed = name.trim();
  const length = Array.from(trimmed).length;
  return length >= 2 && length <= 30 && /^[\p{Script=Han}\p{Letter}·• .'-]+$/u.test(trimmed);
}

export type WeakPinReason = 'repeated' | 'sequence' | 'pattern' | 'birthday' | 'id_number' | 'phone';

const two = (value: number) => String(value).padStart(2, '0');

/** Why a 6-digit PIN is too easy to guess, or null when it is acceptable. */
export function weakPinReason(
  pin: string,
  facts: { birthDate?: ResidentId['birthDate'] | undefined; idNumber?: string | undefined; phone?: string | undefined },
): WeakPinReason | null {
  if (/^(\d)\1{5}$/.test(pin)) return 'repeated';
  if ('01234567890'.includes(pin) || '09876543210'.includes(pin)) return 'sequence';
  // abcabc, ababab, aabbcc: the patterns people pick when told "not 111111".
  if (/^(\d{3})\1$/.test(pin) || /^(\d{2})\1\1$/.test(pin) || /^(\d)\1(\d)\2(\d)\3$/.test(pin)) return 'pattern';
  if (facts.birthDate) {
    const { year, month, day } = facts.birthDate;
    const yy = two(year % 100);
    const mm = two(month);
    const dd = two(day);
    if ([`${yy}${mm}${dd}`, `${mm}${dd}${yy}`, `${dd}${mm}${yy}`, `${year}${mm}`.slice(0, 6)].includes(pin)) {
      return 'birthday';
    }
  }
  if (facts.idNumber && facts.idNumber.slice(-6) === pin) return 'id_number';
  if (facts.phone && facts.phone.slice(-6) === pin) return 'phone';
  return null;
}
