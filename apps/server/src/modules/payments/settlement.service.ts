/**
 * T+1 merchant settlement. For each merchant and business date (settlement.dates.ts) a batch lists every
 * ledger posting on the merchant's settlement account in the date's window — payments, fees, refunds, the
 * fee share refunds give back, and earlier payouts — ties their sum to the account's change in the ledger
 * (refusing to settle if they differ), and pays the net out to the merchant's verified bank card: a pending
 * ledger transfer (settlement account → bank clearing) and a bank credit, posted on the bank's success,
 * voided on failure and retried on the next run. Net ≤ 0, or no verified card yet, is carried forward to
 * the next date (the file says so), so the merchant is never paid twice nor paid money refunded meanwhile.
 * Each batch stores its reconciliation file (settlement.file.ts) with its SHA-256; `verify()` proves the
 * stored files still tie to the ledger. Knows nothing of HTTP.
 */
import type { Database, SqlExecutor } from '@yika/db';
import {
  accountIdFor,
  invariant,
  isUuid,
  newId,
  TransferFlags,
  transferId,
  type Ledger,
  type Transfer,
  type TransferInput,
} from '@yika/ledger';
import type { BankGateway, BankPaymentOutcome } from '../../platform/bank.js';
import type { DataCipher } from '../../platform/crypto.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { appendEvent } from '../../platform/outbox.js';
import { CNY, type MerchantsService } from '../merchants/index.js';
import { PaymentTransferCode } from './payments.service.js';
import {
  addDays,
  businessDateOf,
  businessDateWindow,
  formatLocal,
  latestSettleableDate,
  settlementDueAt,
  type BusinessCalendar,
} from './settlement.dates.js';
import {
  BOM,
  buildFile,
  lineSign,
  parseFile,
  sha256OfFile,
  totalsOf,
  yuan,
  type FileLine,
  type FilePayout,
  type FileTotals,
} from './settlement.file.js';

export const SettlementTransferCode = {
  /** A payout to the merchant's bank card: a hold, then its post or void. */
  payout: 205,
} as const;

/** The wallet's bank clearing account (wallet/chart.ts): money in flight to and from the bank. */
export const BANK_CLEARING_ACCOUNT_ID = accountIdFor('system', 'bank-clearing.CNY');

/** Limits of one job run and of one window. */
export const SETTLEMENT_MERCHANTS_PER_RUN_MAX = 200;
export const SETTLEMENT_DATES_PER_RUN_MAX = 31;
export const PAYOUTS_PER_RUN_MAX = 100;
export const WINDOW_TRANSFERS_MAX = 100_000;
export const PAYOUT_ATTEMPTS_MAX = 5;
export const BATCH_LIST_LIMIT_MAX = 366;
const LEDGER_PAGE = 500;
const LOOKUP_CHUNK = 1_000;

export class SettlementError extends DomainError {}

const problem = (code: string, status: number, title: string, detail: string) =>
  new SettlementError({ code, status, title, detail });

export type SettlementStatus = 'pending' | 'paid' | 'failed' | 'empty';

export interface SettlementView {
  id: string;
  merchantId: string;
  businessDate: string;
  windowStart: string;
  windowEnd: string;
  gross: number;
  refunds: number;
  fees: number;
  net: number;
  carriedIn: number;
  payoutAmount: number;
  carriedOut: number;
  status: SettlementStatus;
  cardLast4: string | null;
  failureReason: string | null;
  paidAt: string | null;
  paymentCount: number;
  refundCount: number;
  fileSha256: string;
  createdAt: string;
}

export interface SettlementAccountView {
  id: string;
  last4: string;
  holderName: string;
  verifiedAt: string;
}

interface BatchRow {
  id: string;
  merchant_id: string;
  business_date: string;
  window_start_us: string | number;
  window_end_us: string | number;
  gross: string | number;
  refunds: string | number;
  fees: string | number;
  net: string | number;
  carried_in: string | number;
  payout_amount: string | number;
  carried_out: string | number;
  payment_count: number;
  refund_count: number;
  status: SettlementStatus;
  settlement_account_id: string | null;
  card_last4: string | null;
  failure_reason: string | null;
  payout_attempts: number;
  paid_at: Date | string | null;
  file_csv: string;
  file_sha256: string;
  created_at: Date | string;
}

interface PayoutRow {
  id: string;
  batch_id: string;
  amount: string | number;
  hold_transfer_id: string;
  status: 'processing' | 'succeeded' | 'failed';
}

interface AccountRow {
  id: string;
  merchant_id: string;
  bank_token_enc: string;
  holder_name_enc: string;
  last4: string;
  verified_at: Date | string;
}

const BATCH_COLUMNS = `id, merchant_id, to_char(business_date, 'YYYY-MM-DD') as business_date, window_start_us, window_end_us,
  gross, refunds, fees, net, carried_in, payout_amount, carried_out, payment_count, refund_count, status,
  settlement_account_id, card_last4, failure_reason, payout_attempts, paid_at, file_csv, file_sha256, created_at`;
const BATCH_SELECT = `select ${BATCH_COLUMNS} from settlement_batches`;

export interface SettlementServiceOptions {
  db: Database;
  ledger: Ledger;
  merchants: MerchantsService;
  bank: BankGateway;
  cipher: DataCipher;
  calendar: BusinessCalendar;
  /** Where the bank posts payout outcomes. */
  callbackUrl: () => string;
  /** A date is settled this long after its cut-off. */
  graceMs?: number;
  /** A payout is asked about once its callback is this late. */
  pollAfterMs?: number;
  /** A payout the bank never received fails after this. */
  deadlineMs?: number;
  now?: () => Date;
}

export interface RunReport {
  settled: number;
  paidOut: number;
  polled: number;
  retried: number;
  failures: string[];
}

export class SettlementService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #merchants: MerchantsService;
  readonly #bank: BankGateway;
  readonly #cipher: DataCipher;
  readonly #calendar: BusinessCalendar;
  readonly #callbackUrl: () => string;
  readonly #graceMs: number;
  readonly #pollAfterMs: number;
  readonly #deadlineMs: number;
  readonly #now: () => Date;

  constructor(options: SettlementServiceOptions) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#merchants = options.merchants;
    this.#bank = options.bank;
    this.#cipher = options.cipher;
    this.#calendar = options.calendar;
    this.#callbackUrl = options.callbackUrl;
    this.#graceMs = options.graceMs ?? 60_000;
    this.#pollAfterMs = options.pollAfterMs ?? 5_000;
    this.#deadlineMs = options.deadlineMs ?? 120_000;
    this.#now = options.now ?? (() => new Date());
  }

  get calendar(): BusinessCalendar {
    return this.#calendar;
  }

  // ---- the settlement card ----

  /** Step 1: the bank checks the card and sends a code to the phone it holds for it. */
  async startAccountVerification(
    merchantId: string,
    input: { cardNumber: string; holderName: string; phone: string },
  ): Promise<{ verificationId: string; last4: string; expiresAt: string }> {
    const digits = input.cardNumber.replace(/[\s-]/g, '');
    if (!/^\d{12,19}$/.test(digits)) {
      throw problem('card_number_invalid', 422, 'Invalid card number', 'A card number has 12 to 19 digits.');
    }
    await this.#merchants.get(merchantId);
    const id = newId();
    const started = await this.#bank.startCardVerification({
      requestId: id,
      cardNumber: digits,
      holderName: input.holderName,
      phone: input.phone,
    });
    await this.#db.query(
      `insert into merchant_settlement_verifications (id, merchant_id, bank_verification_id, card_number_enc, holder_name_enc, last4, status, expires_at)
       values ($1, $2, $3, $4, $5, $6, 'pending', $7)`,
      [
        id,
        merchantId,
        started.verificationId,
        this.#cipher.encrypt(digits, `settlement-card:${id}`),
        this.#cipher.encrypt(input.holderName, `settlement-holder:${id}`),
        digits.slice(-4),
        started.expiresAt,
      ],
    );
    return { verificationId: id, last4: digits.slice(-4), expiresAt: new Date(started.expiresAt).toISOString() };
  }

  /** Step 2: the bank's code; the card becomes the merchant's settlement card (replacing any earlier one). */
  async confirmAccountVerification(
    merchantId: string,
    verificationId: string,
    code: string,
  ): Promise<SettlementAccountView> {
    const { rows } = isUuid(verificationId)
      ? await this.#db.query<{
          bank_verification_id: string;
          card_number_enc: string;
          holder_name_enc: string;
          last4: string;
        }>(
          `select * from merchant_settlement_verifications where id = $1 and merchant_id = $2 and status = 'pending'`,
          [verificationId, merchantId],
        )
      : { rows: [] };
    const verification = rows[0];
    if (!verification) throw new NotFoundError('No such card verification in progress.');
    const confirmed = await this.#bank.confirmCardVerification(verification.bank_verification_id, code);
    const digits = this.#cipher.decrypt(verification.card_number_enc, `settlement-card:${verificationId}`);
    const holder = this.#cipher.decrypt(verification.holder_name_enc, `settlement-holder:${verificationId}`);
    const id = newId();
    await this.#db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended($1, 0))`, [`settlement-card:${merchantId}`]);
      const claimed = await tx.query(
        `update merchant_settlement_verifications set status = 'confirmed' where id = $1 and status = 'pending'`,
        [verificationId],
      );
      if (claimed.affectedRows === 0) return; // confirmed concurrently: that request bound the card
      await tx.query(
        `update merchant_settlement_accounts set status = 'replaced', replaced_at = now() where merchant_id = $1 and status = 'active'`,
        [merchantId],
      );
      await tx.query(
        `insert into merchant_settlement_accounts (id, merchant_id, card_number_enc, bank_token_enc, holder_name_enc, last4, status)
         values ($1, $2, $3, $4, $5, $6, 'active')`,
        [
          id,
          merchantId,
          this.#cipher.encrypt(digits, `settlement-card:${id}`),
          this.#cipher.encrypt(confirmed.cardToken, `settlement-token:${id}`),
          this.#cipher.encrypt(holder, `settlement-holder:${id}`),
          verification.last4,
        ],
      );
    });
    const account = await this.account(merchantId);
    invariant(account !== null, 'a confirmed settlement card is active');
    return account;
  }

  async account(merchantId: string): Promise<SettlementAccountView | null> {
    const row = await this.#activeAccount(this.#db, merchantId);
    if (!row) return null;
    return {
      id: row.id,
      last4: row.last4,
      holderName: maskName(this.#cipher.decrypt(row.holder_name_enc, `settlement-holder:${row.id}`)),
      verifiedAt: new Date(row.verified_at).toISOString(),
    };
  }

  async #activeAccount(executor: SqlExecutor, merchantId: string): Promise<AccountRow | undefined> {
    const { rows } = await executor.query<AccountRow>(
      `select * from merchant_settlement_accounts where merchant_id = $1 and status = 'active'`,
      [merchantId],
    );
    return rows[0];
  }

  // ---- the job ----

  /** One run of the background job: payouts first (poll, retry), then every due business date. */
  async run(): Promise<RunReport> {
    const report: RunReport = { settled: 0, paidOut: 0, polled: 0, retried: 0, failures: [] };
    report.polled = await this.pollPayouts();
    report.retried = await this.retryFailedPayouts();
    const latest = latestSettleableDate(this.#calendar, this.#now().getTime(), this.#graceMs);
    // Merchants with a date to settle: their last batch is older than `latest`, or they have none yet and
    // took a payment before `latest` closed (so merchants with only today's payments take no place).
    const { rows } = await this.#db.query<{ merchant_id: string; last_date: string | null }>(
      `select p.merchant_id, to_char(b.last_date, 'YYYY-MM-DD') as last_date
       from (select merchant_id, min(created_at) as first_at from merchant_payments group by merchant_id) p
       left join (select merchant_id, max(business_date) as last_date from settlement_batches group by merchant_id) b
         on b.merchant_id = p.merchant_id
       where (b.last_date is null and p.first_at < $3) or b.last_date < $1::date
       order by p.merchant_id limit $2`,
      [latest, SETTLEMENT_MERCHANTS_PER_RUN_MAX, new Date(businessDateWindow(this.#calendar, latest).endMs)],
    );
    for (const row of rows) {
      try {
        let date = row.last_date ? addDays(row.last_date, 1) : await this.#firstDate(row.merchant_id);
        for (let step = 0; date !== null && date <= latest && step < SETTLEMENT_DATES_PER_RUN_MAX; step += 1) {
          const batch = await this.settle(row.merchant_id, date);
          report.settled += 1;
          if (batch.status === 'pending') report.paidOut += 1;
          date = addDays(date, 1);
        }
      } catch (error) {
        report.failures.push(`merchant ${row.merchant_id}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    // Loud: the job logs a failed run as an error; the other merchants were settled all the same.
    if (report.failures.length > 0) throw new Error(`settlement failed for ${report.failures.join('; ')}`);
    return report;
  }

  /** The business date of the merchant's first payment: where its batches begin. */
  async #firstDate(merchantId: string): Promise<string | null> {
    const { rows } = await this.#db.query<{ gross_transfer_id: string }>(
      `select gross_transfer_id from merchant_payments where merchant_id = $1 order by created_at, id limit 1`,
      [merchantId],
    );
    if (!rows[0]) return null;
    const [transfer] = await this.#ledger.lookupTransfers([rows[0].gross_transfer_id]);
    if (!transfer) return null;
    return businessDateOf(this.#calendar, Math.floor(transfer.timestamp / 1000));
  }

  /**
   * Settles one merchant's business date: idempotent (an existing batch is returned), serialised per
   * merchant, and contiguous (a window starts where the previous batch's ended). The ledger is read before
   * the transaction (a closed window does not change); the transaction re-checks what the batch was built
   * on and writes the batch and its payout hold, or gives up for the next run if another process raced it.
   */
  async settle(merchantId: string, date: string): Promise<SettlementView> {
    const existing = await this.#batchOf(this.#db, merchantId, date);
    if (existing) return batchView(existing);
    // An open window would miss later postings (and the payout hold itself would fall inside it).
    const dueAt = settlementDueAt(this.#calendar, date, this.#graceMs);
    if (this.#now().getTime() < dueAt) {
      throw problem(
        'settlement_not_due',
        409,
        'Not due yet',
        `Business date ${date} can be settled from ${new Date(dueAt).toISOString()}.`,
      );
    }
    const settlementAccount = this.#merchants.settlementAccountId(merchantId);
    const previous = await this.#previousBatch(this.#db, merchantId, date);
    const window = businessDateWindow(this.#calendar, date);
    const startUs = previous ? Number(previous.window_end_us) : window.startMs * 1000;
    const endUs = window.endMs * 1000;
    invariant(endUs > startUs, `settlement window of ${merchantId} ${date} is empty or reversed`);
    const lines = await this.#windowLines(settlementAccount, startUs, endUs);
    const totals = totalsOf(lines);
    await this.#assertTiesToLedger(settlementAccount, startUs, endUs, totals, `${merchantId} ${date}`);
    const carriedIn = previous ? BigInt(previous.carried_out) : 0n;
    const due = carriedIn + totals.net;
    const account = await this.#activeAccount(this.#db, merchantId);
    let payoutAmount = 0n;
    if (due > 0n && account) {
      const [ledgerAccount] = await this.#ledger.lookupAccounts([settlementAccount]);
      const available = ledgerAccount
        ? ledgerAccount.creditsPosted - ledgerAccount.debitsPosted - ledgerAccount.debitsPending
        : 0n;
      // Refunds since the cut-off may have spent part of it: the rest is carried forward.
      payoutAmount = available < due ? (available > 0n ? available : 0n) : due;
    }
    const id = newId();
    const payoutId = payoutAmount > 0n ? newId() : null;
    const merchant = await this.#merchants.get(merchantId);
    const payout: FilePayout = payoutId
      ? {
          kind: 'requested',
          holdTransferId: transferId(payoutId, 'settlement.hold'),
          card: `**** ${account!.last4}`,
          amount: payoutAmount,
        }
      : { kind: 'carried_forward', holdTransferId: null, card: null, amount: 0n };
    const csv = buildFile({
      merchantId,
      merchantName: merchant.displayName,
      businessDate: date,
      timeZone: this.#calendar.timeZone,
      cutoff: this.#calendar.cutoff,
      windowStartUs: startUs,
      windowEndUs: endUs,
      currency: CNY.code,
      lines,
      totals,
      carriedIn,
      payout,
      carriedOut: due - payoutAmount,
      note: noteFor(due, payoutAmount, account !== undefined),
    });
    const created = await this.#db.transaction(async (tx) => {
      await tx.query(`select pg_advisory_xact_lock(hashtextextended($1, 0))`, [`settlement:${merchantId}`]);
      const raced = await this.#batchOf(tx, merchantId, date);
      if (raced) return { row: raced, payoutId: null };
      const previousNow = await this.#previousBatch(tx, merchantId, date);
      const accountNow = await this.#activeAccount(tx, merchantId);
      if (previousNow?.id !== previous?.id || accountNow?.id !== account?.id) {
        throw new Error(`settlement of ${merchantId} ${date} changed while it was prepared; the next run retries`);
      }
      const { rows } = await tx.query<BatchRow>(
        `insert into settlement_batches (id, merchant_id, business_date, window_start_us, window_end_us, gross, refunds, fees, net,
           carried_in, payout_amount, carried_out, payment_count, refund_count, status, settlement_account_id, card_last4,
           payout_attempts, file_csv, file_sha256)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
         returning ${BATCH_COLUMNS}`,
        [
          id,
          merchantId,
          date,
          String(startUs),
          String(endUs),
          totals.payments.amount.toString(),
          totals.refunds.amount.toString(),
          totals.fees.toString(),
          totals.net.toString(),
          carriedIn.toString(),
          payoutAmount.toString(),
          (due - payoutAmount).toString(),
          totals.payments.count,
          totals.refunds.count,
          payoutId ? 'pending' : 'empty',
          payoutId ? account!.id : null,
          payoutId ? account!.last4 : null,
          payoutId ? 1 : 0,
          // Stored without the BOM (drivers may strip a leading BOM when decoding text); served with it.
          csv.slice(BOM.length),
          sha256OfFile(csv),
        ],
      );
      if (payoutId) await this.#holdPayout(tx, { payoutId, batchId: id, merchantId, amount: payoutAmount });
      return { row: rows[0]!, payoutId };
    });
    if (created.payoutId) await this.#sendPayout(created.payoutId).catch(() => undefined);
    return batchView(created.row);
  }

  async #batchOf(executor: SqlExecutor, merchantId: string, date: string): Promise<BatchRow | undefined> {
    const { rows } = await executor.query<BatchRow>(`${BATCH_SELECT} where merchant_id = $1 and business_date = $2`, [
      merchantId,
      date,
    ]);
    return rows[0];
  }

  async #previousBatch(executor: SqlExecutor, merchantId: string, date: string): Promise<BatchRow | undefined> {
    const { rows } = await executor.query<BatchRow>(
      `${BATCH_SELECT} where merchant_id = $1 and business_date < $2 order by business_date desc limit 1`,
      [merchantId, date],
    );
    return rows[0];
  }

  /** Every transfer on the account with a timestamp in [startUs, endUs), oldest first, as file lines. */
  async #windowLines(accountId: string, startUs: number, endUs: number): Promise<FileLine[]> {
    const transfers = await this.#windowTransfers(accountId, startUs, endUs);
    const paymentIds = [
      ...new Set(transfers.map((t) => t.metadata?.paymentId).filter((id): id is string => isUuid(id))),
    ];
    const orders = new Map<string, string | null>();
    for (let index = 0; index < paymentIds.length; index += LOOKUP_CHUNK) {
      const { rows } = await this.#db.query<{ id: string; order_id: string | null }>(
        `select id, order_id from merchant_payments where id = any($1::uuid[])`,
        [paymentIds.slice(index, index + LOOKUP_CHUNK)],
      );
      for (const row of rows) orders.set(row.id, row.order_id);
    }
    return transfers.map((transfer) => lineOf(transfer, accountId, orders));
  }

  /** Reads the window through the ledger's history pages (newest first, cursor = timestamp), bounded. */
  async #windowTransfers(accountId: string, startUs: number, endUs: number): Promise<Transfer[]> {
    const found: Transfer[] = [];
    // The ledger's cursor is the timestamp of the last row seen (accountTransfers): start just below the end.
    let cursor: string | null = Buffer.from(`t:${endUs}`).toString('base64url');
    while (cursor !== null) {
      const page = await this.#ledger.accountTransfers(accountId, { cursor, limit: LEDGER_PAGE });
      for (const transfer of page.transfers) {
        if (transfer.timestamp < startUs) return found.reverse();
        found.push(transfer);
      }
      if (found.length > WINDOW_TRANSFERS_MAX) {
        throw new Error(`more than ${WINDOW_TRANSFERS_MAX} transfers in one settlement window of ${accountId}`);
      }
      cursor = page.nextCursor;
    }
    return found.reverse();
  }

  /** The file's ledger change must equal the account's posted change over the window, to the fen. */
  async #assertTiesToLedger(
    accountId: string,
    startUs: number,
    endUs: number,
    totals: FileTotals,
    what: string,
  ): Promise<bigint> {
    const balances = await this.#ledger.postedBalancesAt(accountId, [startUs - 1, endUs - 1]);
    const change = (balances.get(endUs - 1) ?? 0n) - (balances.get(startUs - 1) ?? 0n);
    invariant(
      change === totals.ledgerChange,
      `settlement ${what}: lines sum to ${totals.ledgerChange} fen but the ledger account changed by ${change} fen`,
    );
    return change;
  }

  async #holdPayout(
    tx: SqlExecutor,
    input: { payoutId: string; batchId: string; merchantId: string; amount: bigint },
  ): Promise<void> {
    const holdId = transferId(input.payoutId, 'settlement.hold');
    await tx.query(
      `insert into settlement_payouts (id, batch_id, amount, hold_transfer_id, status, deadline_at)
       values ($1, $2, $3, $4, 'processing', now() + ($5 || ' milliseconds')::interval)`,
      [input.payoutId, input.batchId, input.amount.toString(), holdId, String(this.#deadlineMs)],
    );
    const transfer: TransferInput = {
      id: holdId,
      debitAccountId: this.#merchants.settlementAccountId(input.merchantId),
      creditAccountId: BANK_CLEARING_ACCOUNT_ID,
      amount: input.amount,
      ledger: CNY.ledger,
      code: SettlementTransferCode.payout,
      // No timeout: a payout hold is released only by the bank's answer, never by a timer.
      flags: TransferFlags.pending,
      metadata: { batchId: input.batchId, payoutId: input.payoutId },
    };
    const [result] = await this.#ledger.createTransfers(tx, [transfer]);
    if (result?.result === 'ok' || result?.result === 'exists') return;
    // Refunds took the money between the balance read and the hold: this run gives up, the next retries.
    throw new Error(`payout hold ${holdId} refused by the ledger: ${result?.result ?? 'no result'}`);
  }

  async #sendPayout(payoutId: string): Promise<void> {
    const { rows } = await this.#db.query<PayoutRow & { settlement_account_id: string }>(
      `select p.*, b.settlement_account_id from settlement_payouts p join settlement_batches b on b.id = p.batch_id where p.id = $1`,
      [payoutId],
    );
    const payout = rows[0];
    if (!payout || payout.status !== 'processing') return;
    const { rows: accounts } = await this.#db.query<AccountRow>(
      `select * from merchant_settlement_accounts where id = $1`,
      [payout.settlement_account_id],
    );
    const account = accounts[0];
    invariant(account !== undefined, `payout ${payoutId} names a settlement card that does not exist`);
    await this.#bank.requestPayment({
      requestId: payoutId,
      kind: 'credit',
      cardToken: this.#cipher.decrypt(account.bank_token_enc, `settlement-token:${account.id}`),
      amount: BigInt(payout.amount),
      currency: CNY.code,
      callbackUrl: this.#callbackUrl(),
    });
  }

  /**
   * Applies the bank's outcome to a payout: posts the hold (paid, `settlement.completed`) or voids it
   * (failed, retried by the next run). Idempotent: a final payout is left alone.
   */
  async applyBankOutcome(outcome: BankPaymentOutcome): Promise<'applied' | 'ignored'> {
    if (outcome.status === 'processing' || !isUuid(outcome.requestId)) return 'ignored';
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<PayoutRow>(`select * from settlement_payouts where id = $1 for update`, [
        outcome.requestId,
      ]);
      const payout = rows[0];
      if (!payout || payout.status !== 'processing') return 'ignored';
      if (BigInt(outcome.amount) !== BigInt(payout.amount) || outcome.kind !== 'credit') {
        throw problem(
          'bank_outcome_mismatch',
          409,
          'Bank outcome does not match the payout',
          `The bank's outcome for payout ${payout.id} names another amount or direction; it was not applied.`,
        );
      }
      const { rows: batches } = await tx.query<BatchRow>(`${BATCH_SELECT} where id = $1 for update`, [payout.batch_id]);
      const batch = batches[0]!;
      const succeeded = outcome.status === 'succeeded';
      const [result] = await this.#ledger.createTransfers(tx, [
        {
          id: transferId(payout.id, succeeded ? 'settlement.post' : 'settlement.void'),
          pendingId: payout.hold_transfer_id,
          flags: succeeded ? TransferFlags.postPending : TransferFlags.voidPending,
          metadata: { batchId: payout.batch_id, payoutId: payout.id },
        },
      ]);
      if (result?.result !== 'ok' && result?.result !== 'exists') {
        throw new Error(`payout ${payout.id}: ledger refused the ${succeeded ? 'post' : 'void'}: ${result?.result}`);
      }
      const reason = succeeded ? null : (outcome.reason ?? 'bank_failed');
      await tx.query(
        `update settlement_payouts set status = $2, failure_reason = $3, bank_reference = $4, updated_at = now(), completed_at = now()
         where id = $1`,
        [payout.id, succeeded ? 'succeeded' : 'failed', reason, outcome.bankReference ?? null],
      );
      const { rows: updated } = await tx.query<BatchRow>(
        `update settlement_batches set status = $2, failure_reason = $3, paid_at = case when $2 = 'paid' then now() end, updated_at = now()
         where id = $1 returning ${BATCH_COLUMNS}`,
        [batch.id, succeeded ? 'paid' : 'failed', reason],
      );
      if (succeeded) {
        await appendEvent(tx, {
          type: 'settlement.completed',
          subject: `merchant:${batch.merchant_id}`,
          payload: { settlement: batchView(updated[0]!), bankReference: outcome.bankReference ?? null },
        });
      }
      return 'applied';
    });
  }

  /** Payouts whose callback is late: asks the bank, applies a final answer, resends a request it never got. */
  async pollPayouts(limit = PAYOUTS_PER_RUN_MAX): Promise<number> {
    const { rows } = await this.#db.query<PayoutRow & { deadline_passed: boolean }>(
      `select *, deadline_at < now() as deadline_passed from settlement_payouts
       where status = 'processing' and updated_at <= now() - ($2 || ' milliseconds')::interval
       order by updated_at limit $1`,
      [Math.min(limit, PAYOUTS_PER_RUN_MAX), String(this.#pollAfterMs)],
    );
    let applied = 0;
    for (const payout of rows) {
      const outcome = await this.#bank.paymentStatus(payout.id).catch(() => undefined);
      if (outcome === undefined) continue; // bank unreachable: next run
      if (outcome === null) {
        if (payout.deadline_passed) {
          const failed = {
            requestId: payout.id,
            kind: 'credit',
            status: 'failed',
            reason: 'bank_not_received',
            amount: Number(payout.amount),
            currency: CNY.code,
          } as const;
          if ((await this.applyBankOutcome(failed)) === 'applied') applied += 1;
        } else {
          await this.#sendPayout(payout.id).catch(() => undefined);
        }
        continue;
      }
      if ((await this.applyBankOutcome(outcome)) === 'applied') applied += 1;
    }
    await this.#db.query(
      `update settlement_payouts set updated_at = now() where id = any($1::uuid[]) and status = 'processing'`,
      [rows.map((payout) => payout.id)],
    );
    return applied;
  }

  /** Failed payouts get a new attempt (a new hold, a new bank request), up to PAYOUT_ATTEMPTS_MAX. */
  async retryFailedPayouts(limit = PAYOUTS_PER_RUN_MAX): Promise<number> {
    const { rows } = await this.#db.query<{ id: string }>(
      `select id from settlement_batches where status = 'failed' and payout_attempts < $2 order by updated_at limit $1`,
      [Math.min(limit, PAYOUTS_PER_RUN_MAX), PAYOUT_ATTEMPTS_MAX],
    );
    let retried = 0;
    for (const { id } of rows) {
      const payoutId = await this.retryPayout(id, false).catch(() => null);
      if (payoutId) retried += 1;
    }
    return retried;
  }

  /** A new attempt for a failed batch; `force` lets operations go past PAYOUT_ATTEMPTS_MAX. */
  async retryPayout(batchId: string, force: boolean): Promise<string | null> {
    const payoutId = newId();
    const started = await this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<BatchRow>(`${BATCH_SELECT} where id = $1 for update`, [batchId]);
      const batch = rows[0];
      if (!batch || batch.status !== 'failed') return false;
      if (!force && batch.payout_attempts >= PAYOUT_ATTEMPTS_MAX) return false;
      const account = await this.#activeAccount(tx, batch.merchant_id);
      if (!account) return false;
      await tx.query(
        `update settlement_batches set status = 'pending', failure_reason = null, payout_attempts = payout_attempts + 1,
           settlement_account_id = $2, card_last4 = $3, updated_at = now() where id = $1`,
        [batchId, account.id, account.last4],
      );
      await this.#holdPayout(tx, {
        payoutId,
        batchId,
        merchantId: batch.merchant_id,
        amount: BigInt(batch.payout_amount),
      });
      return true;
    });
    if (!started) return null;
    await this.#sendPayout(payoutId).catch(() => undefined);
    return payoutId;
  }

  // ---- reading ----

  async list(merchantId: string, limit = 30): Promise<SettlementView[]> {
    const { rows } = await this.#db.query<BatchRow>(
      `${BATCH_SELECT} where merchant_id = $1 order by business_date desc limit $2`,
      [merchantId, Math.min(Math.max(Math.trunc(limit), 1), BATCH_LIST_LIMIT_MAX)],
    );
    return rows.map(batchView);
  }

  async get(merchantId: string, batchId: string): Promise<SettlementView> {
    return batchView(await this.#batch(merchantId, batchId));
  }

  async file(merchantId: string, batchId: string): Promise<{ filename: string; csv: string; sha256: string }> {
    const batch = await this.#batch(merchantId, batchId);
    return {
      filename: `yika-settlement-${batch.business_date}-${batch.merchant_id}.csv`,
      csv: `${BOM}${batch.file_csv}`,
      sha256: batch.file_sha256,
    };
  }

  async #batch(merchantId: string, batchId: string): Promise<BatchRow> {
    const { rows } = isUuid(batchId)
      ? await this.#db.query<BatchRow>(`${BATCH_SELECT} where id = $1 and merchant_id = $2`, [batchId, merchantId])
      : { rows: [] };
    if (!rows[0]) throw new NotFoundError('No such settlement.');
    return rows[0];
  }

  // ---- the check ----

  /**
   * Re-reads every stored file (or those of one business date) and ties it to the ledger: hash, header,
   * every line against its transfer, no transfer of the window missing, totals, carried amounts, payout.
   */
  async verify(options: { date?: string } = {}): Promise<{ batches: number; mismatches: string[] }> {
    const mismatches: string[] = [];
    let batches = 0;
    let after = { date: '1970-01-01', merchantId: '00000000-0000-0000-0000-000000000000' };
    for (;;) {
      const { rows } = await this.#db.query<BatchRow>(
        `${BATCH_SELECT} where ($1::date is null or business_date = $1::date)
           and (business_date, merchant_id) > ($2::date, $3::uuid)
         order by business_date, merchant_id limit 200`,
        [options.date ?? null, after.date, after.merchantId],
      );
      for (const batch of rows) {
        batches += 1;
        const problemFound = await this.#verifyBatch(batch).catch(
          (error: unknown) => `check failed: ${error instanceof Error ? error.message : String(error)}`,
        );
        if (problemFound)
          mismatches.push(`batch ${batch.id} (merchant ${batch.merchant_id}, ${batch.business_date}): ${problemFound}`);
      }
      const last = rows.at(-1);
      if (!last) break;
      after = { date: last.business_date, merchantId: last.merchant_id };
    }
    return { batches, mismatches };
  }

  /** The first mismatch of one batch, or null when its file ties. */
  async #verifyBatch(batch: BatchRow): Promise<string | null> {
    const text = `${BOM}${batch.file_csv}`;
    if (sha256OfFile(text) !== batch.file_sha256) return 'the file differs from its SHA-256';
    const file = parseFile(text);
    const startUs = Number(batch.window_start_us);
    const endUs = Number(batch.window_end_us);
    if (file.merchantId !== batch.merchant_id || file.businessDate !== batch.business_date) {
      return 'the file names another merchant or date';
    }
    if (file.windowStartUs !== startUs || file.windowEndUs !== endUs) return 'the file names another window';
    const account = this.#merchants.settlementAccountId(batch.merchant_id);
    const ledgerLines = await this.#windowLines(account, startUs, endUs);
    const expected = new Map(ledgerLines.map((line) => [line.transferId, line]));
    const seen = new Set<string>();
    for (const line of file.lines) {
      const truth = expected.get(line.transferId);
      const at = `row ${line.row} (${line.type} ${line.transferId})`;
      if (!truth) {
        const [transfer] = isUuid(line.transferId) ? await this.#ledger.lookupTransfers([line.transferId]) : [];
        return transfer ? `${at}: the transfer is not on the account in the window` : `${at}: no such ledger transfer`;
      }
      if (seen.has(line.transferId)) return `${at}: listed twice`;
      seen.add(line.transferId);
      if (truth.type !== line.type) return `${at}: the ledger transfer is a ${truth.type}`;
      if (truth.amount !== line.amount) return `${at}: amount ${line.amount} fen, the ledger says ${truth.amount}`;
      if (yuan(line.amount) !== line.amountYuan) return `${at}: ${line.amountYuan} yuan is not ${line.amount} fen`;
      if (truth.timestampUs !== line.timestampUs) return `${at}: time differs from the ledger's`;
      if ((truth.paymentId ?? null) !== line.paymentId || (truth.refundId ?? null) !== line.refundId) {
        return `${at}: payment or refund id differs from the transfer's`;
      }
    }
    for (const line of ledgerLines) {
      if (!seen.has(line.transferId)) {
        return `ledger transfer ${line.transferId} (${line.type}, ${line.amount} fen at ${formatLocal(Math.floor(line.timestampUs / 1000), this.#calendar.timeZone)}) is missing from the file`;
      }
    }
    const totals = totalsOf(file.lines);
    const written: [string, bigint, number | null][] = [
      ['payments', totals.payments.amount, totals.payments.count],
      ['refunds', totals.refunds.amount, totals.refunds.count],
      ['fees', totals.fees, null],
      ['net', totals.net, null],
      ['earlier_payouts_posted', totals.earlierPayoutsPosted.amount, totals.earlierPayoutsPosted.count],
      ['ledger_change', totals.ledgerChange, null],
    ];
    for (const [name, amount, count] of written) {
      const total = file.totals.get(name);
      if (!total) return `total ${name} is missing`;
      if (total.amount !== amount || total.count !== count) {
        return `total ${name} says ${total.amount} fen (${total.count ?? '-'}), the lines sum to ${amount} (${count ?? '-'})`;
      }
    }
    const columns: [string, bigint][] = [
      ['gross', BigInt(batch.gross)],
      ['refunds', BigInt(batch.refunds)],
      ['fees', BigInt(batch.fees)],
      ['net', BigInt(batch.net)],
    ];
    const fromLines: Record<string, bigint> = {
      gross: totals.payments.amount,
      refunds: totals.refunds.amount,
      fees: totals.fees,
      net: totals.net,
    };
    for (const [name, value] of columns) {
      if (fromLines[name] !== value)
        return `the batch's ${name} (${value}) differs from the file's (${fromLines[name]})`;
    }
    try {
      await this.#assertTiesToLedger(account, startUs, endUs, totals, batch.id);
    } catch (error) {
      return error instanceof Error ? error.message : String(error);
    }
    return this.#verifyCarriedAndPayout(batch, file.carriedIn, file.payout, file.carriedOut, totals.net);
  }

  async #verifyCarriedAndPayout(
    batch: BatchRow,
    carriedIn: bigint,
    payout: FilePayout,
    carriedOut: bigint,
    net: bigint,
  ): Promise<string | null> {
    const { rows } = await this.#db.query<{ carried_out: string }>(
      `select carried_out::text from settlement_batches where merchant_id = $1 and business_date < $2 order by business_date desc limit 1`,
      [batch.merchant_id, batch.business_date],
    );
    const previousOut = BigInt(rows[0]?.carried_out ?? 0);
    if (carriedIn !== previousOut) return `carried in ${carriedIn} fen, the previous batch carried out ${previousOut}`;
    if (carriedIn !== BigInt(batch.carried_in) || carriedOut !== BigInt(batch.carried_out)) {
      return "carried amounts differ from the batch's";
    }
    if (payout.amount !== BigInt(batch.payout_amount))
      return `payout ${payout.amount} fen, the batch says ${batch.payout_amount}`;
    if (carriedIn + net - payout.amount !== carriedOut) return 'carried in + net − payout is not carried out';
    if (payout.kind === 'carried_forward')
      return payout.amount === 0n ? null : 'a carried-forward payout has an amount';
    const { rows: payouts } = await this.#db.query<PayoutRow>(
      `select * from settlement_payouts where batch_id = $1 order by created_at limit 1`,
      [batch.id],
    );
    if (payouts[0]?.hold_transfer_id !== payout.holdTransferId) return 'the payout line names another hold';
    const [hold] = payout.holdTransferId ? await this.#ledger.lookupTransfers([payout.holdTransferId]) : [];
    if (!hold) return `payout hold ${payout.holdTransferId} is not in the ledger`;
    const account = this.#merchants.settlementAccountId(batch.merchant_id);
    if (
      hold.amount !== payout.amount ||
      hold.debitAccountId !== account ||
      hold.creditAccountId !== BANK_CLEARING_ACCOUNT_ID ||
      (hold.flags & TransferFlags.pending) === 0
    ) {
      return `payout hold ${hold.id} differs from the payout line`;
    }
    return null;
  }
}

/** A transfer on the merchant's settlement account as a file line; anything unexpected stops settlement. */
function lineOf(transfer: Transfer, accountId: string, orders: Map<string, string | null>): FileLine {
  const metadata = transfer.metadata ?? {};
  const text = (value: unknown) => (isUuid(value) ? value : null);
  const paymentId = text(metadata.paymentId);
  const base = {
    transferId: transfer.id,
    paymentId,
    refundId: text(metadata.refundId),
    orderId: paymentId ? (orders.get(paymentId) ?? null) : null,
    batchId: text(metadata.batchId),
    timestampUs: transfer.timestamp,
  };
  const credit = transfer.creditAccountId === accountId;
  const isMoneyCode = (Object.values(PaymentTransferCode) as number[]).includes(transfer.code);
  // A payment or refund held for a risk review is pending until posted (then it counts, as the post) or
  // released by a void or the expiry sweep: neither the hold nor the release moves posted money.
  if (isMoneyCode && transfer.flags & TransferFlags.pending) return { ...base, type: 'held', amount: transfer.amount };
  if (isMoneyCode && transfer.flags & TransferFlags.voidPending) {
    return { ...base, type: 'released', amount: transfer.amount };
  }
  const money = (type: FileLine['type'] & ('payment' | 'fee' | 'refund' | 'refund_fee')): FileLine => ({
    ...base,
    type,
    amount: lineSign(type) * transfer.amount,
  });
  switch (transfer.code) {
    case PaymentTransferCode.merchantPayment:
      if (credit) return money('payment');
      break;
    case PaymentTransferCode.merchantFee:
      if (!credit) return money('fee');
      break;
    case PaymentTransferCode.refund:
      if (!credit) return money('refund');
      break;
    case PaymentTransferCode.refundFee:
      if (credit) return money('refund_fee');
      break;
    case SettlementTransferCode.payout:
      if (credit) break;
      if (transfer.flags & TransferFlags.pending) return { ...base, type: 'payout_hold', amount: transfer.amount };
      if (transfer.flags & TransferFlags.postPending) return { ...base, type: 'payout_post', amount: transfer.amount };
      if (transfer.flags & TransferFlags.voidPending) return { ...base, type: 'payout_void', amount: transfer.amount };
      break;
  }
  invariant(false, `unexpected transfer ${transfer.id} (code ${transfer.code}) on settlement account ${accountId}`);
}

function noteFor(due: bigint, payout: bigint, hasAccount: boolean): string {
  if (payout > 0n && payout === due) return 'Net paid out to the settlement card.';
  if (payout > 0n)
    return `Refunds since the cut-off left ${yuan(payout)} yuan to pay out; the rest is carried forward.`;
  if (due > 0n && !hasAccount) return 'No verified settlement card yet: the net is carried forward to the next date.';
  if (due > 0n) return 'Refunds since the cut-off spent the net: it is carried forward to the next date.';
  if (due < 0n)
    return 'Refunds exceeded payments: the amount owed is carried forward and netted against the next date.';
  return 'Nothing to pay out.';
}

function maskName(name: string): string {
  const chars = [...name];
  if (chars.length <= 1) return '*';
  return `${'*'.repeat(chars.length - 1)}${chars.at(-1)!}`;
}

function batchView(row: BatchRow): SettlementView {
  return {
    id: row.id,
    merchantId: row.merchant_id,
    businessDate: row.business_date,
    windowStart: new Date(Math.floor(Number(row.window_start_us) / 1000)).toISOString(),
    windowEnd: new Date(Math.floor(Number(row.window_end_us) / 1000)).toISOString(),
    gross: Number(row.gross),
    refunds: Number(row.refunds),
    fees: Number(row.fees),
    net: Number(row.net),
    carriedIn: Number(row.carried_in),
    payoutAmount: Number(row.payout_amount),
    carriedOut: Number(row.carried_out),
    status: row.status,
    cardLast4: row.card_last4,
    failureReason: row.failure_reason,
    paidAt: row.paid_at ? new Date(row.paid_at).toISOString() : null,
    paymentCount: row.payment_count,
    refundCount: row.refund_count,
    fileSha256: row.file_sha256,
    createdAt: new Date(row.created_at).toISOString(),
  };
}
