/** The phone's code equals the server's: RFC 4226 / RFC 6238 vectors through Web Crypto. */
import { describe, expect, it } from 'vitest';
import { groupCode, hotp, maskCode, paymentCodeAt, secondsLeft, stepOf } from './paycode.js';

const seedHex = Buffer.from('12345678901234567890').toString('hex');

describe('payment code on the phone', () => {
  it('gives the RFC 4226 HOTP values', async () => {
    const expected = [
      '755224',
      '287082',
      '359152',
      '969429',
      '338314',
      '254676',
      '287922',
      '162583',
      '399871',
      '520489',
    ];
    for (const [counter, value] of expected.entries()) expect(await hotp(seedHex, counter, 6)).toBe(value);
  });

  it('gives the RFC 6238 SHA-1 values (8 digits; the RFC steps are 30 s, so the counter is given)', async () => {
    const vectors: [number, string][] = [
      [59, '94287082'],
      [1111111109, '07081804'],
      [1234567890, '89005924'],
      [20000000000, '65353130'],
    ];
    for (const [seconds, value] of vectors) expect(await hotp(seedHex, Math.floor(seconds / 30))).toBe(value);
  });

  it('builds 18 digits from prefix, device index and the minute’s OTP, grouped and masked', async () => {
    const enrolment = { customerId: 'c', deviceIndex: '01234567', secret: seedHex };
    const code = await paymentCodeAt(enrolment, 59_000);
    expect(code).toBe(`2801234567${await hotp(seedHex, 0)}`);
    expect(code).toHaveLength(18);
    expect(await paymentCodeAt(enrolment, 119_999)).not.toBe(await paymentCodeAt(enrolment, 120_000));
    expect(stepOf(120_000)).toBe(2);
    expect(secondsLeft(125_000)).toBe(55);
    expect(groupCode('281234567887654321')).toBe('28 1234 5678 8765 4321');
    expect(maskCode('281234567887654321')).toBe('28 1234 **** **** ****');
  });
});
