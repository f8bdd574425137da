import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import {
  ageOn,
  maskName,
  normalizePhone,
  parseResidentId,
  residentIdCheckCharacter,
  weakPinReason,
} from './identity.rules.js';

const today = new Date('2026-11-25T00:00:00Z');

describe('mobile numbers', () => {
  it('accepts mainland mobiles with or without +86 and other countries in E.164', () => {
    expect(normalizePhone('+8613800138000')).toBe('+8613800138000');
    expect(normalizePhone('13800138000')).toBe('+8613800138000');
    expect(normalizePhone('138 0013 8000')).toBe('+8613800138000');
    expect(normalizePhone('008619912345678')).toBe('+8619912345678');
    expect(normalizePhone('+14155550100')).toBe('+14155550100');
    expect(normalizePhone('+85291234567')).toBe('+85291234567');
  });

  it('refuses +86 numbers that are not mainland mobiles, and anything that is not E.164', () => {
    for (const bad of [
      '+8612800138000',
      '+861380013800',
      '+86138001380001',
      '+860101234567',
      '12800138000',
      'abc',
      '+0123456789',
      '+1234',
      '+1234567890123456',
      '',
    ]) {
      expect(normalizePhone(bad), bad).toBeNull();
    }
  });
});

describe('resident ID numbers (GB 11643)', () => {
  it('computes the check character of the two examples in GB 11643-1999', () => {
    expect(residentIdCheckCharacter('11010519491231002')).toBe('X');
    expect(residentIdCheckCharacter('44052418800101001')).toBe('4');
  });

  it('parses valid numbers, with a lower-case x too', () => {
    expect(parseResidentId('11010519491231002X', today)).toEqual({
      number: '11010519491231002X',
      birthDate: { year: 1949, month: 12, day: 31 },
    });
    expect(parseResidentId('11010519491231002x', today)).toMatchObject({ number: '11010519491231002X' });
  });

  it('names what is wrong: format, check character, birth date', () => {
    expect(parseResidentId('1101051949123100', today)).toBe('format');
    expect(parseResidentId('01010519491231002X', today)).toBe('format');
    expect(parseResidentId('11010519491231002Y', today)).toBe('format');
    expect(parseResidentId('110105194912310021', today)).toBe('check_character');
    const withCheck = (first17: string) => first17 + residentIdCheckCharacter(first17);
    expect(parseResidentId(withCheck('11010519490231002'), today)).toBe('birth_date'); // 31 February
    expect(parseResidentId(withCheck('11010520301231002'), today)).toBe('birth_date'); // in the future
    expect(parseResidentId(withCheck('11010518991231002'), today)).toBe('birth_date'); // before 1900
    expect(parseResidentId(withCheck('11010520000229002'), today)).toMatchObject({ birthDate: { month: 2, day: 29 } });
  });

  it('counts age in whole years, the day before a birthday included', () => {
    expect(ageOn({ year: 2010, month: 11, day: 25 }, today)).toBe(16);
    expect(ageOn({ year: 2010, month: 11, day: 26 }, today)).toBe(15);
    expect(ageOn({ year: 1949, month: 12, day: 31 }, today)).toBe(76);
  });
});

describe('weak PINs', () => {
  it('refuses repeated digits, sequences and patterns', () => {
    expect(weakPinReason('111111', {})).toBe('repeated');
    expect(weakPinReason('123456', {})).toBe('sequence');
    expect(weakPinReason('012345', {})).toBe('sequence');
    expect(weakPinReason('987654', {})).toBe('sequence');
    expect(weakPinReason('543210', {})).toBe('sequence');
    expect(weakPinReason('123123', {})).toBe('pattern');
    expect(weakPinReason('121212', {})).toBe('pattern');
    expect(weakPinReason('112233', {})).toBe('pattern');
    expect(weakPinReason('285714', {})).toBeNull();
  });

  it('refuses the birthday, the end of the ID number and the end of the phone number', () => {
    const facts = {
      birthDate: { year: 1949, month: 12, day: 31 },
      idNumber: '11010519491231002X',
      phone: '+8613800138000',
    };
    expect(weakPinReason('491231', facts)).toBe('birthday');
    expect(weakPinReason('123149', facts)).toBe('birthday');
    expect(weakPinReason('311249', facts)).toBe('birthday');
    expect(weakPinReason('194912', facts)).toBe('birthday');
    expect(weakPinReason('31002X'.replace('X', '0'), { idNumber: '110105194912310020' })).toBe('id_number');
    expect(weakPinReason('138000', facts)).toBe('phone');
    expect(weakPinReason('285714', facts)).toBeNull();
  });
});

describe('masked names', () => {
  it('shows only the last character', () => {
    expect(maskName('李明')).toBe('*明');
    expect(maskName('王小明')).toBe('**明');
    expect(maskName('欧阳小明')).toBe('***明');
    expect(maskName('明')).toBe('*');
  });
});

describe('TOTP as configured (RFC 6238 appendix B reference vectors)', () => {
  const secrets = {
    sha1: new TextEncoder().encode('12345678901234567890'),
    sha256: new TextEncoder().encode('12345678901234567890123456789012'),
    sha512: new TextEncoder().encode('1234567890123456789012345678901234567890123456789012345678901234'),
  };
  const vectors: [number, string, string, string][] = [
    [59, '94287082', '46119246', '90693936'],
    [1111111109, '07081804', '68084774', '25091201'],
    [1111111111, '14050471', '67062674', '99943326'],
    [1234567890, '89005924', '91819424', '93441116'],
    [2000000000, '69279037', '90698825', '38618901'],
    [20000000000, '65353130', '77737706', '47863826'],
  ];
  it.each(vectors)('at T=%i', async (epoch, sha1, sha256, sha512) => {
    const common = { epoch, period: 30, digits: 8 as const };
    expect(await generate({ ...common, secret: secrets.sha1, algorithm: 'sha1' })).toBe(sha1);
    expect(await generate({ ...common, secret: secrets.sha256, algorithm: 'sha256' })).toBe(sha256);
    expect(await generate({ ...common, secret: secrets.sha512, algorithm: 'sha512' })).toBe(sha512);
  });
});
