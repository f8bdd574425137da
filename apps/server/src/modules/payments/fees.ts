/** Merchant fee arithmetic (MDR). Pure; amounts are bigint fen, rates are basis points. */

/** n / d rounded half-up (half away from zero for the non-negative values used here). */
function divideHalfUp(numerator: bigint, denominator: bigint): bigint {
  if (numerator < 0n || denominator <= 0n) throw new RangeError('divideHalfUp takes a non-negative numerator');
  return (numerator * 2n + denominator) / (denominator * 2n);
}

/** The fee on a payment: gross × bps / 10 000, rounded half-up to the fen. */
export function feeFor(gross: bigint, feeRateBps: number): bigint {
  if (!Number.isInteger(feeRateBps) || feeRateBps < 0 || feeRateBps > 10_000) throw new RangeError('bad fee rate');
  return divideHalfUp(gross * BigInt(feeRateBps), 10_000n);
}

/**
 * The part of the fee a refund gives back to the merchant. The fee refunded in total after this refund is
 * fee × (refunded in total) / gross, rounded half-up; this refund's share is the difference from what was
 * refunded before. So the shares never add up to more than the fee, and a full refund returns it exactly.
 */
export function refundFeeShare(input: {
  gross: bigint;
  fee: bigint;
  refundedBefore: bigint;
  feeRefundedBefore: bigint;
  amount: bigint;
}): bigint {
  const refundedAfter = input.refundedBefore + input.amount;
  if (input.amount <= 0n || refundedAfter > input.gross) throw new RangeError('refund out of range');
  const feeRefundedAfter = divideHalfUp(input.fee * refundedAfter, input.gross);
  const share = feeRefundedAfter - input.feeRefundedBefore;
  return share < 0n ? 0n : share;
}
