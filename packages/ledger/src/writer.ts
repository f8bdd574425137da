/**
 * The batching writer: transfers submitted in the same tick are written in one database transaction.
 * One batch is in flight at a time; what arrives meanwhile forms the next batch. A submission is never
 * split across batches, so a linked chain always stays whole.
 */
import { isRetryableConflict, pgErrorCode, type Database } from '@yika/db';
import { executeBatch } from './engine.js';
import { BATCH_TRANSFERS_MAX, type TransferInput, type TransferResult } from './types.js';

interface Submission {
  transfers: readonly TransferInput[];
  resolve: (results: TransferResult[]) => void;
  reject: (error: unknown) => void;
}

export interface WriterOptions {
  /** Most transfers in one database transaction. */
  batchTransfersMax?: number;
  /** Attempts of a batch that lost a race to a concurrent writer (deadlock, duplicate key) before giving up. */
  conflictRetriesMax?: number;
}

export class BatchWriter {
  readonly #db: Database;
  readonly #batchTransfersMax: number;
  readonly #conflictRetriesMax: number;
  #queue: Submission[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;

  constructor(db: Database, options: WriterOptions = {}) {
    this.#db = db;
    this.#batchTransfersMax = options.batchTransfersMax ?? BATCH_TRANSFERS_MAX;
    this.#conflictRetriesMax = options.conflictRetriesMax ?? 8;
  }

  submit(transfers: readonly TransferInput[]): Promise<TransferResult[]> {
    if (this.#closed) return Promise.reject(new Error('ledger writer is closed'));
    if (transfers.length === 0) return Promise.resolve([]);
    if (transfers.length > this.#batchTransfersMax) {
      return Promise.reject(new RangeError(`at most ${this.#batchTransfersMax} transfers per submission`));
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({ transfers, resolve, reject });
      this.#flushing ??= this.#flushLoop();
    });
  }

  /** Stops taking submissions and waits until everything queued is written. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
  }

  async #flushLoop(): Promise<void> {
    // Let the current tick's submissions join the first batch.
    await new Promise<void>((resolve) => setImmediate(resolve));
    try {
      while (this.#queue.length > 0) await this.#writeBatch(this.#takeBatch());
    } finally {
      this.#flushing = null;
    }
  }

  #takeBatch(): Submission[] {
    const batch: Submission[] = [];
    let count = 0;
    while (this.#queue.length > 0 && count + this.#queue[0]!.transfers.length <= this.#batchTransfersMax) {
      const submission = this.#queue.shift()!;
      count += submission.transfers.length;
      batch.push(submission);
    }
    return batch;
  }

  async #writeBatch(batch: Submission[]): Promise<void> {
    const segments = batch.map((submission) => submission.transfers);
    // Optimistic first: most batches hold only new ids. A stored one shows up as a unique violation.
    let mode = { assumeNew: true };
    for (let attempt = 1; ; attempt += 1) {
      try {
        const results = await this.#db.transaction((tx) => executeBatch(tx, segments, mode));
        batch.forEach((submission, index) => submission.resolve(results[index]!));
        return;
      } catch (error) {
        if (mode.assumeNew && pgErrorCode(error) === UNIQUE_VIOLATION) {
          mode = { assumeNew: false };
          attempt -= 1;
          continue;
        }
        if (isRetryableConflict(error) && attempt < this.#conflictRetriesMax) {
          await sleep(Math.min(100, 2 ** attempt) * Math.random());
          continue;
        }
        // Nothing of the batch was written (the transaction rolled back): every caller learns it failed.
        for (const submission of batch) submission.reject(error);
        return;
      }
    }
  }
}

const UNIQUE_VIOLATION = '23505';

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
