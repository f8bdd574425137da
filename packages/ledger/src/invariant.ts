/** A programmer error or broken invariant: never an expected outcome. Crashes the batch loudly. */
export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

export function invariant(condition: boolean, message: string): asserts condition {
  if (!condition) throw new InvariantViolation(message);
}
