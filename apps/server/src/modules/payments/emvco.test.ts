import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { buildYikaMpm, crc16CcittFalse, EmvcoError, formatAmount, parseMpm, YIKA_GUID } from './emvco.js';

function withCrc(body: string): string {
  const payload = `${body}6304`;
  return payload + crc16CcittFalse(payload).toString(16).toUpperCase().padStart(4, '0');
}

function problemOf(payload: string): EmvcoError {
  try {
    parseMpm(payload);
  } catch (error) {
    expect(error).toBeInstanceOf(EmvcoError);
    return error as EmvcoError;
  }
  throw new Error(`expected ${payload} to be refused`);
}

describe('CRC-16/CCITT-FALSE', () => {
  it('matches the reference check value and known values', () => {
    expect(crc16CcittFalse('123456789')).toBe(0x29b1);
    expect(crc16CcittFalse('')).toBe(0xffff);
    expect(crc16CcittFalse('A')).toBe(0xb915);
  });
});

describe('parsing any EMVCo merchant-presented payload', () => {
  const emvcoExample =
    '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';

  it('accepts the example of the EMVCo specification, with nested templates and another language', () => {
    const parsed = parseMpm(emvcoExample);
    expect(parsed.pointOfInitiation).toBe('dynamic');
    expect(parsed.merchantAccounts.map((account) => account.globallyUniqueId)).toEqual([
      'D15600000000',
      'D15600000001',
    ]);
    expect(parsed).toMatchObject({
      merchantCategoryCode: '4111',
      currency: '156',
      amount: '23.72',
      countryCode: 'CN',
      merchantName: 'BEST TRANSPORT',
      merchantCity: 'BEIJING',
    });
    expect(parsed.additionalData).toMatchObject({ '03': '1234', '07': 'A6008667' });
    expect(parsed.objects.find((object) => object.id === '64')?.children?.map((child) => child.value)).toEqual([
      'ZH',
      '最佳运输',
      '北京',
    ]);
  });

  /** One data object, length computed. */
  const t = (id: string, value: string) => `${id}${String(value.length).padStart(2, '0')}${value}`;
  const yika = t('26', t('00', 'cn.yika.pay'));
  const tail = t('52', '5812') + t('53', '156') + t('58', 'CN') + t('59', 'Yika1') + t('60', 'BEIJING');
  const valid = withCrc(t('00', '01') + t('01', '11') + yika + tail);

  it.each([
    ['a wrong CRC', valid.slice(0, -4) + '0000', '63', /CRC is 0000/],
    ['no CRC at the end', withCrc(t('00', '01') + yika + tail).slice(0, -8), '63', /must end with the CRC/],
    ['a payload not starting with 00', withCrc(t('01', '11') + t('00', '01') + yika + tail), '00', /must start/],
    ['a payload format indicator other than 01', withCrc(t('00', '02') + yika + tail), '00', /expected "01"/],
    ['a length longer than what remains', withCrc(t('00', '01') + '2699'), '26', /only/],
    ['a non-digit ID', withCrc(t('00', '01') + 'AB0211'), 'payload', /not two digits/],
    ['a non-digit length', withCrc(t('00', '01') + '01X111'), '01', /length "X1"/],
    ['a zero length', withCrc(t('00', '01') + '0100'), '01', /length is 00/],
    ['a duplicated ID', withCrc(t('00', '01') + t('01', '11') + t('01', '11') + yika + tail), '01', /twice/],
    ['a broken nested template', withCrc(t('00', '01') + t('26', '0011cn.y') + tail), '26.00', /only/],
    [
      'a template without its unique identifier',
      withCrc(t('00', '01') + t('26', t('01', '1234')) + tail),
      '26.00',
      /globally unique identifier/,
    ],
    ['no merchant account information', withCrc(t('00', '01') + tail), '02-51', /at least one/],
    [
      'a missing merchant name',
      withCrc(t('00', '01') + yika + t('52', '5812') + t('53', '156') + t('58', 'CN') + t('60', 'BEIJING')),
      '59',
      /missing/,
    ],
    [
      'a merchant name over 25 characters',
      withCrc(
        t('00', '01') +
          yika +
          t('52', '5812') +
          t('53', '156') +
          t('58', 'CN') +
          t('59', 'A'.repeat(26)) +
          t('60', 'BEIJING'),
      ),
      '59',
      /at most 25/,
    ],
    [
      'a three-letter country',
      withCrc(
        t('00', '01') +
          yika +
          t('52', '5812') +
          t('53', '156') +
          t('58', 'CHN') +
          t('59', 'Yika1') +
          t('60', 'BEIJING'),
      ),
      '58',
      /2 upper-case/,
    ],
    [
      'a non-numeric currency',
      withCrc(
        t('00', '01') + yika + t('52', '5812') + t('53', 'CNY') + t('58', 'CN') + t('59', 'Yika1') + t('60', 'BEIJING'),
      ),
      '53',
      /3 digits/,
    ],
    [
      'a three-digit MCC',
      withCrc(
        t('00', '01') + yika + t('52', '581') + t('53', '156') + t('58', 'CN') + t('59', 'Yika1') + t('60', 'BEIJING'),
      ),
      '52',
      /4 digits/,
    ],
    ['a negative amount', withCrc(t('00', '01') + t('01', '12') + yika + t('54', '-1.00') + tail), '54', /decimal/],
    [
      'a zero amount',
      withCrc(t('00', '01') + t('01', '12') + yika + t('54', '0.00') + tail),
      '54',
      /greater than zero/,
    ],
    [
      'a dynamic code without an amount',
      withCrc(t('00', '01') + t('01', '12') + yika + tail),
      '54',
      /must carry an amount/,
    ],
    [
      'an unknown point of initiation',
      withCrc(t('00', '01') + t('01', '13') + yika + tail),
      '01',
      /11 \(static\) or 12/,
    ],
    [
      'a payload over 512 characters',
      withCrc(
        t('00', '01') +
          yika +
          tail +
          t('62', t('05', 'x'.repeat(95))).repeat(1) +
          t('80', 'y'.repeat(99)) +
          t('81', 'y'.repeat(99)) +
          t('82', 'y'.repeat(99)) +
          t('83', 'y'.repeat(99)),
      ),
      'payload',
      /more than 512/,
    ],
  ])('refuses %s, naming the data object', (_case, payload, path, message) => {
    const problem = problemOf(payload);
    expect(problem.path).toBe(path);
    expect(problem.message).toMatch(message);
  });

  it('accepts the valid payload the refusals above are variations of', () => {
    expect(parseMpm(valid).merchantName).toBe('Yika1');
  });
});

describe("Yika's own codes", () => {
  const merchant = fc.record({
    merchantId: fc.stringMatching(/^[A-Za-z0-9]{1,24}$/),
    mcc: fc.stringMatching(/^\d{4}$/),
    merchantName: fc.stringMatching(/^[A-Za-z0-9 .&-]{1,25}$/),
    merchantCity: fc.stringMatching(/^[A-Za-z ]{1,15}$/),
  });

  it('round-trips static and dynamic codes through the parser (property)', () => {
    fc.assert(
      fc.property(
        merchant,
        fc.option(fc.bigInt({ min: 1n, max: 99_999_999_999n }), { nil: undefined }),
        fc.option(fc.stringMatching(/^[A-Za-z0-9]{1,25}$/), { nil: undefined }),
        (input, amountMinor, orderReference) => {
          const payload = buildYikaMpm({
            ...input,
            ...(amountMinor === undefined ? {} : { amountMinor, orderReference: orderReference ?? 'order' }),
          });
          const parsed = parseMpm(payload);
          expect(parsed.merchantAccounts[0]).toMatchObject({
            id: '26',
            globallyUniqueId: YIKA_GUID,
            fields: { '01': input.merchantId },
          });
          expect(parsed).toMatchObject({
            merchantCategoryCode: input.mcc,
            merchantName: input.merchantName,
            merchantCity: input.merchantCity,
            currency: '156',
            countryCode: 'CN',
          });
          expect(parsed.pointOfInitiation).toBe(amountMinor === undefined ? 'static' : 'dynamic');
          expect(parsed.amount).toBe(amountMinor === undefined ? null : formatAmount(amountMinor));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses any single changed character (property)', () => {
    fc.assert(
      fc.property(merchant, fc.nat(), fc.integer({ min: 33, max: 126 }), (input, position, code) => {
        const payload = buildYikaMpm(input);
        const index = position % payload.length;
        const replacement = String.fromCharCode(code);
        fc.pre(
          payload[index] !== replacement &&
            !(payload[index]!.toUpperCase() === replacement.toUpperCase() && index >= payload.length - 4),
        );
        const changed = payload.slice(0, index) + replacement + payload.slice(index + 1);
        expect(() => parseMpm(changed)).toThrow(EmvcoError);
      }),
      { numRuns: 500 },
    );
  });

  it('formats fen as EMVCo decimal amounts', () => {
    expect(formatAmount(1n)).toBe('0.01');
    expect(formatAmount(1250n)).toBe('12.50');
    expect(formatAmount(10_000n)).toBe('100.00');
    expect(() => formatAmount(0n)).toThrow(RangeError);
  });
});
