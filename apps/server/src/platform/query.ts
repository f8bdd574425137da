/**
 * Integer query parameters. `z.coerce.number()` also takes `0x10`, `1e3`, ` 7 ` and an empty string (as 0);
 * a bank's API takes plain decimal digits only and refuses the rest as invalid input.
 */
import { z } from 'zod';

export function queryInteger(min: number, max: number) {
  return z.preprocess(
    (value) => (typeof value === 'string' && /^-?\d{1,16}$/.test(value) ? Number(value) : value),
    z.number().int().min(min).max(max),
  );
}
