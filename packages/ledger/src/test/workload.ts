/**
 * A deterministic mixed workload for concurrency and crash tests: payments from many cold wallets to a few
 * hot merchant accounts (each with its fee as a linked transfer), wallet-to-wallet transfers, refunds, and
 * reservations that are posted. Ids derive from (worker, sequence), so a rerun resubmits the same transfers.
 */
import { transferId } from '../ids.js';
import type { Ledger } from '../ledger.js';
import { TransferFlags as F, type TransferInput, type TransferResult } from '../types.js';
import { CNY } from './fixtures.js';

export interface WorkloadAccounts {
  hot: string[];
  cold: string[];
  fee: string;
}

export interface WorkloadPlan {
  worker: number;
  /** Transfers this worker submits in all (a chain or a reservation counts each of its transfers). */
  transfers: number;
  /** Submissions in flight at once. */
  concurrency: number;
  seed: number;
}

/** mulberry32: small, fast, deterministic. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One step is a few submissions made one after the other (a reservation, then its post). */
export type WorkloadStep = TransferInput[][];

/** The steps of one worker, in order. */
export function planSteps(accounts: WorkloadAccounts, plan: WorkloadPlan): WorkloadStep[] {
  const next = random(plan.seed);
  const pick = <T>(items: T[]) => items[Math.floor(next() * items.length)]!;
  const steps: WorkloadStep[] = [];
  let sequence = 0;
  const id = () => transferId(`workload:${plan.worker}`, String(sequence++));
  const base = { ledger: CNY, code: 1 };
  while (sequence < plan.transfers) {
    const roll = next();
    const amount = BigInt(1 + Math.floor(next() * 2_000));
    const wallet = pick(accounts.cold);
    if (roll < 0.55) {
      // A payment and its fee, atomically.
      const merchant = pick(accounts.hot);
      steps.push([
        [
          { ...base, id: id(), debitAccountId: wallet, creditAccountId: merchant, amount, flags: F.linked },
          {
            ...base,
            id: id(),
            debitAccountId: merchant,
            creditAccountId: accounts.fee,
            amount: amount / 100n + 1n,
            code: 2,
          },
        ],
      ]);
    } else if (roll < 0.8) {
      let payee = pick(accounts.cold);
      if (payee === wallet) payee = accounts.cold[(accounts.cold.indexOf(wallet) + 1) % accounts.cold.length]!;
      steps.push([[{ ...base, id: id(), debitAccountId: wallet, creditAccountId: payee, amount }]]);
    } else if (roll < 0.9) {
      const refund = {
        ...base,
        id: id(),
        debitAccountId: pick(accounts.hot),
        creditAccountId: wallet,
        amount: amount / 4n + 1n,
        code: 3,
      };
      steps.push([[refund]]);
    } else {
      const hold = {
        ...base,
        id: id(),
        debitAccountId: wallet,
        creditAccountId: pick(accounts.hot),
        amount,
        flags: F.pending,
        timeoutSeconds: 3600,
      };
      steps.push([[hold], [{ id: id(), pendingId: hold.id, flags: F.postPending, amount: amount / 2n + 1n }]]);
    }
  }
  return steps;
}

export interface Acknowledged {
  input: TransferInput;
  result: TransferResult;
}

/** Runs the steps with `concurrency` in flight; reports each result as soon as it is acknowledged. */
export async function runWorkload(
  ledger: Pick<Ledger, 'submit'>,
  steps: WorkloadStep[],
  concurrency: number,
  onAcknowledged: (acknowledged: Acknowledged[]) => void,
): Promise<void> {
  let cursor = 0;
  const lane = async () => {
    while (cursor < steps.length) {
      for (const submission of steps[cursor++]!) {
        const results = await ledger.submit(submission);
        onAcknowledged(submission.map((input, index) => ({ input, result: results[index]! })));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
}
