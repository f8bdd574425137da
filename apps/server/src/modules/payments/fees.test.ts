/** Fee arithmetic: half-up to the fen, and refunds that give the fee back in proportion without losing or inventing a fen. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { feeFor, refundFeeShare } from './fees.js';

describe('merchant fee (gross × bps / 10000, half-up to the fen)', () => {
  it('rounds half-up at exactly half a fen and to nearest otherwise', () => {
    expect(feeFor(1_000n, 5)).toBe(1n); // 0.5 → 1
    expect(feeFor(999n, 5)).toBe(0n); // 0.4995 → 0
    expect(feeFor(1_001n, 50)).toBe(5n); // 5.005 → 5
    expect(feeFor(1_234n, 38)).toBe(5n); // 4.6892 → 5
    expect(feeFor(10_000n, 60)).toBe(60n); // exact
    expect(feeFor(3_000n, 0)).toBe(0n);
    expect(feeFor(3_000n, 10_000)).toBe(3_000n);
  });

  it('refuses a rate outside 0..10000 basis points', () => {
    expect(() => feeFor(100n, -1)).toThrow(RangeError);
    expect(() => feeFor(100n, 10_001)).toThrow(RangeError);
    expect(() => feeFor(100n, 1.5)).toThrow(RangeError);
  });

  it('rounds exactly half a fen up: 1 fen at 50% is a fee of 1 fen', () => {
    expect(feeFor(1n, 5_000)).toBe(1n);
  });

  it('never exceeds the gross and is within half a fen of the exact fee', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 10n ** 11n }), fc.integer({ min: 0, max: 10_000 }), (gross, bps) => {
        const fee = feeFor(gross, bps);
        expect(fee >= 0n && fee <= gross).toBe(true);
        // Half-up: the fee is at most half a fen above the exact fee, and less than half a fen below it
        // (−5000 < fee × 10000 − gross × bps ≤ 5000, scaled); exactly half rounds up.
        const error = fee * 10_000n - gross * BigInt(bps);
        expect(error > -5_000n && error <= 5_000n).toBe(true);
      }),
    );
  });
});

describe('refund fee shares', () => {
  it('returns the whole fee on a full refund and nothing above it along the way', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 9n }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.integer({ min: 1, max: 1_000 }), { minLength: 1, maxLength: 12 }),
        (gross, bps, weights) => {
          const fee = feeFor(gross, bps);
          // Split the gross into refunds in proportion to the weights, the last taking what is left.
          const total = weights.reduce((sum, weight) => sum + weight, 0);
          const parts: bigint[] = [];
          let left = gross;
          for (const [index, weight] of weights.entries()) {
            const part = index === weights.length - 1 ? left : (gross * BigInt(weight)) / BigInt(total);
            if (part > 0n) parts.push(part);
            left -= part;
          }
          let refunded = 0n;
          let feeRefunded = 0n;
          for (const amount of parts) {
            const share = refundFeeShare({
              gross,
              fee,
              refundedBefore: refunded,
              feeRefundedBefore: feeRefunded,
              amount,
            });
            expect(share >= 0n && share <= amount).toBe(true);
            refunded += amount;
            feeRefunded += share;
            expect(feeRefunded <= fee).toBe(true);
          }
          expect(refunded).toBe(gross);
          expect(feeRefunded).toBe(fee);
        },
      ),
    );
  });

  it('refuses a refund above what is left of the payment', () => {
    expect(() =>
      refundFeeShare({ gross: 100n, fee: 1n, refundedBefore: 60n, feeRefundedBefore: 1n, amount: 41n }),
    ).toThrow(RangeError);
  });

  it('gives back half the fee, rounded half-up, for half the payment', () => {
    // gross 1001, fee 5 (50 bps): half is 500.5 → refund 500 returns 5 × 500 / 1001 = 2.497 → 2, then the rest 3.
    const first = refundFeeShare({ gross: 1_001n, fee: 5n, refundedBefore: 0n, feeRefundedBefore: 0n, amount: 500n });
    expect(first).toBe(2n);
    expect(refundFeeShare({ gross: 1_001n, fee: 5n, refundedBefore: 500n, feeRefundedBefore: 2n, amount: 501n })).toBe(
      3n,
    );
  });
});
