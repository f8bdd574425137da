/**
 * The per-merchant reconciliation file of a settlement batch: CSV, UTF-8 with a BOM (so Excel reads the
 * Chinese merchant name), one record per row, the record kind in the first cell. Pure: builds and parses.
 *
 *   file,Yika settlement reconciliation,v1
 *   merchant,<id>,<display name>
 *   business_date,<YYYY-MM-DD>
 *   time_zone,<IANA zone>,cutoff,<HH:MM>
 *   window_local,<start>,<end>        (local ISO 8601 with offset; start inclusive, end exclusive)
 *   window_utc,<start>,<end>
 *   window_ledger_us,<start>,<end>    (ledger timestamps, microseconds since the epoch)
 *   currency,CNY
 *   type,transfer_id,payment_id,refund_id,order_id,batch_id,time_local,time_utc,timestamp_us,amount_yuan,amount_fen
 *   payment|fee|refund|refund_fee,…   amount signed from the merchant's view (payment +, fee −, refund −, refund_fee +)
 *   payout_hold|payout_post|payout_void,…  earlier batches' payouts moving in this window (unsigned; not in the totals)
 *   held|released,…                     money held for a risk review and released unposted (unsigned; not in the
 *                                       totals: a held payment counts as a payment line when it is posted)
 *   total,<payments|refunds|fees|net|earlier_payouts_posted|ledger_change>,<count>,<yuan>,<fen>
 *   carried_in,<yuan>,<fen>
 *   payout,<requested|carried_forward>,<hold transfer id>,<card>,<yuan>,<fen>
 *   carried_out,<yuan>,<fen>
 *   note,<text>
 *
 * `ledger_change` is the change of the merchant's settlement account over the window, posted:
 * net − earlier_payouts_posted. `carried_out` = carried_in + net − payout.
 */
import { createHash } from 'node:crypto';
import { formatLocal } from './settlement.dates.js';

export const FILE_VERSION = 'v1';
/** Byte order mark: Excel then reads the file as UTF-8. */
export const BOM = '\uFEFF';

export const MONEY_LINE_TYPES = ['payment', 'fee', 'refund', 'refund_fee'] as const;
export const PAYOUT_LINE_TYPES = ['payout_hold', 'payout_post', 'payout_void'] as const;
/** Money held for a risk review (a pending transfer) and its release unposted (void or expiry): no posted effect. */
export const HOLD_LINE_TYPES = ['held', 'released'] as const;
export type MoneyLineType = (typeof MONEY_LINE_TYPES)[number];
export type PayoutLineType = (typeof PAYOUT_LINE_TYPES)[number];
export type HoldLineType = (typeof HOLD_LINE_TYPES)[number];
export type LineType = MoneyLineType | PayoutLineType | HoldLineType;

export const LINE_COLUMNS = [
  'type',
  'transfer_id',
  'payment_id',
  'refund_id',
  'order_id',
  'batch_id',
  'time_local',
  'time_utc',
  'timestamp_us',
  'amount_yuan',
  'amount_fen',
] as const;

export interface FileLine {
  type: LineType;
  transferId: string;
  paymentId: string | null;
  refundId: string | null;
  orderId: string | null;
  batchId: string | null;
  timestampUs: number;
  /** Signed for money lines (merchant's view), the transfer's amount for payout lines. */
  amount: bigint;
}

export interface FileTotals {
  payments: { count: number; amount: bigint };
  refunds: { count: number; amount: bigint };
  fees: bigint;
  net: bigint;
  earlierPayoutsPosted: { count: number; amount: bigint };
  ledgerChange: bigint;
}

export interface FilePayout {
  kind: 'requested' | 'carried_forward';
  holdTransferId: string | null;
  card: string | null;
  amount: bigint;
}

export interface SettlementFile {
  merchantId: string;
  merchantName: string;
  businessDate: string;
  timeZone: string;
  cutoff: string;
  windowStartUs: number;
  windowEndUs: number;
  currency: string;
  lines: FileLine[];
  totals: FileTotals;
  carriedIn: bigint;
  payout: FilePayout;
  carriedOut: bigint;
  note: string;
}

/** Fen as yuan with two decimals: -12345n → "-123.45". */
export function yuan(fen: bigint): string {
  const sign = fen < 0n ? '-' : '';
  const abs = fen < 0n ? -fen : fen;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
}

/** The signed effect of a money line on the merchant's settlement account. */
export function lineSign(type: MoneyLineType): 1n | -1n {
  return type === 'payment' || type === 'refund_fee' ? 1n : -1n;
}

/** Totals from the lines: the only way they are computed, for the batch and for the check alike. */
export function totalsOf(lines: readonly FileLine[]): FileTotals {
  let gross = 0n;
  let refunds = 0n;
  let fees = 0n;
  let payments = 0;
  let refundCount = 0;
  let earlier = 0n;
  let earlierCount = 0;
  for (const line of lines) {
    if (line.type === 'payment') {
      gross += line.amount;
      payments += 1;
    } else if (line.type === 'refund') {
      refunds -= line.amount;
      refundCount += 1;
    } else if (line.type === 'fee' || line.type === 'refund_fee') {
      fees -= line.amount;
    } else if (line.type === 'payout_post') {
      earlier += line.amount;
      earlierCount += 1;
    }
  }
  const net = gross - refunds - fees;
  return {
    payments: { count: payments, amount: gross },
    refunds: { count: refundCount, amount: refunds },
    fees,
    net,
    earlierPayoutsPosted: { count: earlierCount, amount: earlier },
    ledgerChange: net - earlier,
  };
}

/** RFC 4180 quoting, and a leading apostrophe against spreadsheet formula injection in text. */
export function csvCell(value: string | number | null): string {
  if (value === null) return '';
  let text = String(value);
  if (typeof value === 'string' && /^[=+\-@\t\r]/.test(text) && !/^-\d/.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function row(cells: readonly (string | number | null)[]): string {
  return cells.map(csvCell).join(',');
}

function microsToIso(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString();
}

export function buildFile(file: SettlementFile): string {
  const { totals } = file;
  const startMs = Math.floor(file.windowStartUs / 1000);
  const endMs = Math.floor(file.windowEndUs / 1000);
  const rows: string[] = [
    row(['file', 'Yika settlement reconciliation', FILE_VERSION]),
    row(['merchant', file.merchantId, file.merchantName]),
    row(['business_date', file.businessDate]),
    row(['time_zone', file.timeZone, 'cutoff', file.cutoff]),
    row(['window_local', formatLocal(startMs, file.timeZone), formatLocal(endMs, file.timeZone)]),
    row(['window_utc', new Date(startMs).toISOString(), new Date(endMs).toISOString()]),
    row(['window_ledger_us', String(file.windowStartUs), String(file.windowEndUs)]),
    row(['currency', file.currency]),
    row([...LINE_COLUMNS]),
  ];
  for (const line of file.lines) {
    rows.push(
      row([
        line.type,
        line.transferId,
        line.paymentId,
        line.refundId,
        line.orderId,
        line.batchId,
        formatLocal(Math.floor(line.timestampUs / 1000), file.timeZone),
        microsToIso(line.timestampUs),
        String(line.timestampUs),
        yuan(line.amount),
        line.amount.toString(),
      ]),
    );
  }
  const total = (name: string, count: number | null, amount: bigint) =>
    row(['total', name, count, yuan(amount), amount.toString()]);
  rows.push(
    total('payments', totals.payments.count, totals.payments.amount),
    total('refunds', totals.refunds.count, totals.refunds.amount),
    total('fees', null, totals.fees),
    total('net', null, totals.net),
    total('earlier_payouts_posted', totals.earlierPayoutsPosted.count, totals.earlierPayoutsPosted.amount),
    total('ledger_change', null, totals.ledgerChange),
    row(['carried_in', yuan(file.carriedIn), file.carriedIn.toString()]),
    row([
      'payout',
      file.payout.kind,
      file.payout.holdTransferId,
      file.payout.card,
      yuan(file.payout.amount),
      file.payout.amount.toString(),
    ]),
    row(['carried_out', yuan(file.carriedOut), file.carriedOut.toString()]),
    row(['note', file.note]),
  );
  return `${BOM}${rows.join('\r\n')}\r\n`;
}

export function sha256OfFile(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Splits one CSV row (RFC 4180 quoting); the apostrophe guard is undone. */
function parseRow(text: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quoted) {
      if (char === '"' && text[index + 1] === '"') {
        cell += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells.map((value) => (/^'[=+\-@\t\r]/.test(value) ? value.slice(1) : value));
}

export class FileFormatError extends Error {
  override name = 'FileFormatError';
}

const FEN_PATTERN = /^-?\d{1,19}$/;

function fen(value: string | undefined, what: string): bigint {
  if (value === undefined || !FEN_PATTERN.test(value)) throw new FileFormatError(`${what}: not an amount of fen`);
  return BigInt(value);
}

function integer(value: string | undefined, what: string): number {
  if (value === undefined || !/^\d{1,17}$/.test(value)) throw new FileFormatError(`${what}: not an integer`);
  return Number(value);
}

/** What the check reads back from a stored file: header, lines, totals and payout, as written. */
export interface ParsedFile {
  merchantId: string;
  businessDate: string;
  windowStartUs: number;
  windowEndUs: number;
  currency: string;
  lines: (FileLine & { row: number; amountYuan: string })[];
  totals: Map<string, { count: number | null; amount: bigint; row: number }>;
  carriedIn: bigint;
  payout: FilePayout;
  carriedOut: bigint;
}

const LINE_TYPES = new Set<string>([...MONEY_LINE_TYPES, ...PAYOUT_LINE_TYPES, ...HOLD_LINE_TYPES]);

/** Parses a file this module built; anything else is a `FileFormatError` naming the row. */
export function parseFile(text: string): ParsedFile {
  if (!text.startsWith(BOM)) throw new FileFormatError('row 1: no UTF-8 byte order mark');
  const rows = text.slice(1).split('\r\n');
  if (rows.at(-1) === '') rows.pop();
  const parsed: Partial<ParsedFile> & { lines: ParsedFile['lines']; totals: ParsedFile['totals'] } = {
    lines: [],
    totals: new Map(),
  };
  let payout: FilePayout | undefined;
  let carriedIn: bigint | undefined;
  let carriedOut: bigint | undefined;
  rows.forEach((raw, index) => {
    const at = `row ${index + 1}`;
    const cells = parseRow(raw);
    const kind = cells[0] ?? '';
    if (index === 0) {
      if (kind !== 'file' || cells[2] !== FILE_VERSION) throw new FileFormatError(`${at}: not a ${FILE_VERSION} file`);
    } else if (kind === 'merchant') parsed.merchantId = cells[1];
    else if (kind === 'business_date') parsed.businessDate = cells[1];
    else if (kind === 'window_ledger_us') {
      parsed.windowStartUs = integer(cells[1], at);
      parsed.windowEndUs = integer(cells[2], at);
    } else if (kind === 'currency') parsed.currency = cells[1];
    else if (LINE_TYPES.has(kind)) {
      if (cells.length !== LINE_COLUMNS.length) throw new FileFormatError(`${at}: ${cells.length} cells`);
      parsed.lines.push({
        row: index + 1,
        type: kind as LineType,
        transferId: cells[1]!,
        paymentId: cells[2] || null,
        refundId: cells[3] || null,
        orderId: cells[4] || null,
        batchId: cells[5] || null,
        timestampUs: integer(cells[8], `${at} timestamp_us`),
        amountYuan: cells[9]!,
        amount: fen(cells[10], `${at} amount_fen`),
      });
    } else if (kind === 'total') {
      parsed.totals.set(cells[1] ?? '', {
        count: cells[2] ? integer(cells[2], `${at} count`) : null,
        amount: fen(cells[4], `${at} amount_fen`),
        row: index + 1,
      });
    } else if (kind === 'carried_in') carriedIn = fen(cells[2], at);
    else if (kind === 'carried_out') carriedOut = fen(cells[2], at);
    else if (kind === 'payout') {
      if (cells[1] !== 'requested' && cells[1] !== 'carried_forward') throw new FileFormatError(`${at}: payout kind`);
      payout = { kind: cells[1], holdTransferId: cells[2] || null, card: cells[3] || null, amount: fen(cells[5], at) };
    }
  });
  const { merchantId, businessDate, windowStartUs, windowEndUs, currency } = parsed;
  if (
    merchantId === undefined ||
    businessDate === undefined ||
    windowStartUs === undefined ||
    windowEndUs === undefined ||
    currency === undefined ||
    payout === undefined ||
    carriedIn === undefined ||
    carriedOut === undefined
  ) {
    throw new FileFormatError('a header, payout or carried row is missing');
  }
  return {
    merchantId,
    businessDate,
    windowStartUs,
    windowEndUs,
    currency,
    lines: parsed.lines,
    totals: parsed.totals,
    carriedIn,
    payout,
    carriedOut,
  };
}
