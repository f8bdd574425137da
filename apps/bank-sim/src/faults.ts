/**
 * Fault injection: the knobs that make the simulated bank misbehave on purpose, and the seeded
 * randomness that decides which payments they hit (seeded so tests are deterministic).
 */

export interface Faults {
  /** Delay before a payment's outcome and its callback. */
  latencyMs: number;
  /** Share (0–1) of payments that fail with `bank_error`. */
  failureRate: number;
  /** Share (0–1) of payments that stay `processing` for `timeoutMs`, then fail with `bank_timeout`. */
  timeoutRate: number;
  timeoutMs: number;
  /** Share (0–1) of payments whose callback is never sent. */
  dropCallbackRate: number;
  /** Extra copies of each callback. */
  duplicateCallbacks: number;
  /** Share (0–1) of callbacks first sent with a wrong signature, then once correctly. */
  badSignatureRate: number;
  /** Hold each callback back by a random delay, so callbacks of payments close in time arrive shuffled. */
  reorder: boolean;
}

export const LATENCY_MS_MAX = 600_000;
export const TIMEOUT_MS_MAX = 3_600_000;
export const DUPLICATE_CALLBACKS_MAX = 10;

export const DEFAULT_FAULTS: Readonly<Faults> = {
  latencyMs: 50,
  failureRate: 0,
  timeoutRate: 0,
  timeoutMs: 60_000,
  dropCallbackRate: 0,
  duplicateCallbacks: 0,
  badSignatureRate: 0,
  reorder: false,
};

type FaultKind = { type: 'rate' } | { type: 'integer'; max: number } | { type: 'boolean' };

/** Every fault with its kind: one table drives the env parser, the option check and the JSON schema. */
export const FAULT_KINDS: Readonly<Record<keyof Faults, FaultKind>> = {
  latencyMs: { type: 'integer', max: LATENCY_MS_MAX },
  failureRate: { type: 'rate' },
  timeoutRate: { type: 'rate' },
  timeoutMs: { type: 'integer', max: TIMEOUT_MS_MAX },
  dropCallbackRate: { type: 'rate' },
  duplicateCallbacks: { type: 'integer', max: DUPLICATE_CALLBACKS_MAX },
  badSignatureRate: { type: 'rate' },
  reorder: { type: 'boolean' },
};

export const FAULT_NAMES = Object.keys(FAULT_KINDS) as (keyof Faults)[];

function kindSchema(kind: FaultKind): Record<string, unknown> {
  switch (kind.type) {
    case 'rate':
      return { type: 'number', minimum: 0, maximum: 1 };
    case 'integer':
      return { type: 'integer', minimum: 0, maximum: kind.max };
    case 'boolean':
      return { type: 'boolean' };
  }
}

/** JSON schema of a partial update (`PUT /admin/faults`); unknown names are refused so typos show. */
export const faultsPatchSchema = {
  type: 'object',
  additionalProperties: false,
  properties: Object.fromEntries(FAULT_NAMES.map((name) => [name, kindSchema(FAULT_KINDS[name])])),
};

export const faultsSchema = { ...faultsPatchSchema, required: FAULT_NAMES };

/** Describes why a value is not valid for a fault, or returns null if it is. */
export function faultValueProblem(name: keyof Faults, value: unknown): string | null {
  const kind = FAULT_KINDS[name];
  switch (kind.type) {
    case 'rate':
      return typeof value === 'number' && value >= 0 && value <= 1 ? null : 'must be a number between 0 and 1';
    case 'integer':
      return Number.isInteger(value) && (value as number) >= 0 && (value as number) <= kind.max
        ? null
        : `must be an integer between 0 and ${kind.max}`;
    case 'boolean':
      return typeof value === 'boolean' ? null : 'must be true or false';
  }
}

/** What the fault rolls decided for one payment, drawn when the bank accepts it. */
export interface PaymentFaultRolls {
  timeout: boolean;
  fail: boolean;
  dropCallback: boolean;
  badSignature: boolean;
}

/** Always draws four numbers, whatever the rates, so one payment's rolls never shift the next one's. */
export function rollPaymentFaults(faults: Faults, random: () => number): PaymentFaultRolls {
  const timeout = random() < faults.timeoutRate;
  const fail = random() < faults.failureRate;
  const dropCallback = random() < faults.dropCallbackRate;
  const badSignature = random() < faults.badSignatureRate;
  return { timeout, fail, dropCallback, badSignature };
}

/** mulberry32: a tiny seeded generator of numbers in [0, 1); plenty for fault injection, not for secrets. */
export function createRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
