/**
 * What the engine remembers, in memory and bounded: sliding-window series per key (customer, device, IP,
 * card, merchant, counterparty; per event kind) and a profile per customer (recent amounts, hours of
 * activity, devices and payees seen). Warm-up from `risk_events` and live traffic go through the same two
 * calls, `noteAttempt` and `noteCompleted`, so a warmed engine decides as a live one would.
 */
import { outgoingKinds, type RiskEventKind, type VelocityDimension } from './risk.rules.js';

/** What the wallet tells the engine about one money movement. Amounts are fen. */
export interface RiskEvent {
  kind: RiskEventKind;
  customerId: string;
  amount: bigint;
  currency: string;
  /** When the customer asked; windows and hours are measured on this. Defaults to the service clock. */
  occurredAt?: Date | undefined;
  /** The customer's payment-account class, for `account_class` rules. */
  accountClass?: 'I' | 'II' | 'III' | undefined;
  /** The customer's own mobile number (E.164), for blocked-phone lists. */
  phone?: string | undefined;
  deviceId?: string | undefined;
  ip?: string | undefined;
  /** A card's blind index (the same card under any customer), for top-ups and withdrawals. */
  cardFingerprint?: string | undefined;
  merchantId?: string | undefined;
  /** The other customer of a transfer or payment request (payee), or of a refund (payer). */
  counterpartyId?: string | undefined;
  counterpartyPhone?: string | undefined;
  /** The customer already gave a second factor for this payment: a challenge is then satisfied. */
  stepUpVerified?: boolean | undefined;
}

/** An event with its time fixed: what the state and the engine work on. */
export interface TimedEvent extends RiskEvent {
  occurredAtMs: number;
}

export interface RiskStateLimits {
  /** Keys with sliding-window series, per dimension (a customer, a device, an IP, …). */
  seriesMax: number;
  /** Customers with a profile. */
  profilesMax: number;
  /** Entries kept in one series: a busier key saturates (counts stop growing, older entries drop first). */
  seriesEntriesMax: number;
  /** Recent outgoing amounts kept per customer for the outlier rule. */
  amountHistoryMax: number;
  /** Devices and payees remembered per customer. */
  knownPerCustomerMax: number;
}

export const defaultStateLimits: RiskStateLimits = {
  seriesMax: 500_000,
  profilesMax: 200_000,
  seriesEntriesMax: 2_000,
  amountHistoryMax: 100,
  knownPerCustomerMax: 50,
};

/**
 * A bounded map that evicts the least recently used entry, approximately: CLOCK ("second chance"). A read
 * only sets a flag, so the hot path never reorders a large Map (deleting and re-adding leaves tombstones,
 * and the rehash that clears them is a multi-millisecond pause on a table of 100,000s of keys). At
 * eviction, entries read since they were last passed go to the back instead of out.
 */
export class BoundedLru<K, V> {
  readonly #entries = new Map<K, { value: V; referenced: boolean }>();
  #evicted = 0;
  constructor(readonly maxEntries: number) {
    if (!(Number.isInteger(maxEntries) && maxEntries > 0))
      throw new RangeError('maxEntries must be a positive integer');
  }
  get size(): number {
    return this.#entries.size;
  }
  get evicted(): number {
    return this.#evicted;
  }
  get(key: K): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    entry.referenced = true;
    return entry.value;
  }
  /** Looks without counting as a use (evaluation reads; recorded activity keeps a key alive). */
  peek(key: K): V | undefined {
    return this.#entries.get(key)?.value;
  }
  delete(key: K): void {
    this.#entries.delete(key);
  }
  getOrCreate(key: K, create: () => V): V {
    const existing = this.get(key);
    if (existing !== undefined) return existing;
    const value = create();
    if (this.#entries.size >= this.maxEntries) this.#evictOne();
    this.#entries.set(key, { value, referenced: false });
    return value;
  }
  #evictOne(): void {
    // Each step clears a flag or evicts, so this ends within size + 1 steps.
    for (const [key, entry] of this.#entries) {
      this.#entries.delete(key);
      if (!entry.referenced) {
        this.#evicted += 1;
        return;
      }
      entry.referenced = false;
      this.#entries.set(key, entry);
    }
  }
}

/**
 * Timestamps (and amounts) of one key, oldest first, with running sums so a window's count and amount are
 * two binary searches. Entries older than the longest window are pruned as new ones arrive.
 */
export class EventSeries {
  #times: number[] = [];
  /** cumulative[i] = fen of entries 0..i (a float: exact below 2^53 fen, 90 trillion yuan). */
  #cumulative: number[] = [];
  #head = 0;

  get length(): number {
    return this.#times.length - this.#head;
  }

  add(timeMs: number, amount: number, keepFromMs: number, entriesMax: number): void {
    // Late arrivals (recorded after newer events) are placed in order; the sums after them are rebuilt.
    let index = this.#times.length;
    while (index > this.#head && this.#times[index - 1]! > timeMs) index -= 1;
    const before = index > 0 ? this.#cumulative[index - 1]! : 0;
    this.#times.splice(index, 0, timeMs);
    this.#cumulative.splice(index, 0, before + amount);
    for (let later = index + 1; later < this.#cumulative.length; later += 1) this.#cumulative[later]! += amount;
    this.#prune(keepFromMs, entriesMax);
  }

  #prune(keepFromMs: number, entriesMax: number): void {
    while (this.#head < this.#times.length && this.#times[this.#head]! < keepFromMs) this.#head += 1;
    if (this.length > entriesMax) this.#head = this.#times.length - entriesMax;
    // Compact once the dead prefix is as long as the live part, so pruning stays amortised O(1).
    if (this.#head > 32 && this.#head * 2 >= this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#cumulative = this.#cumulative.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Count and fen of entries with time in [fromMs, toMs]. */
  window(fromMs: number, toMs: number): { count: number; amount: number } {
    const start = this.#lowerBound(fromMs);
    const end = this.#upperBound(toMs);
    if (end <= start) return { count: 0, amount: 0 };
    const before = start > 0 ? this.#cumulative[start - 1]! : 0;
    return { count: end - start, amount: this.#cumulative[end - 1]! - before };
  }

  #lowerBound(timeMs: number): number {
    let low = this.#head;
    let high = this.#times.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#times[middle]! < timeMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #upperBound(timeMs: number): number {
    let low = this.#head;
    let high = this.#times.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#times[middle]! <= timeMs) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** Median and MAD of log amounts: the centre and spread the outlier rule compares with. */
export interface AmountStatistics {
  observations: number;
  medianLog: number;
  madLog: number;
}

/** One customer's own history: what "usual" means for them. */
export class CustomerProfile {
  /** ln(fen) of the latest outgoing amounts, a ring. */
  readonly #amountLogs: Float64Array;
  #amountCount = 0;
  #amountNext = 0;
  #statistics: AmountStatistics | null = null;
  /** Completed events per local hour of day. */
  readonly hourCounts = new Uint32Array(24);
  hourTotal = 0;
  readonly devices: BoundedLru<string, true>;
  readonly payees: BoundedLru<string, true>;

  constructor(limits: RiskStateLimits) {
    this.#amountLogs = new Float64Array(limits.amountHistoryMax);
    this.devices = new BoundedLru(limits.knownPerCustomerMax);
    this.payees = new BoundedLru(limits.knownPerCustomerMax);
  }

  addAmount(amount: number): void {
    this.#amountLogs[this.#amountNext] = Math.log(Math.max(1, amount));
    this.#amountNext = (this.#amountNext + 1) % this.#amountLogs.length;
    this.#amountCount = Math.min(this.#amountCount + 1, this.#amountLogs.length);
    this.#statistics = null;
  }

  /** Computed on first use after a change, then cached: a sort of at most `amountHistoryMax` numbers. */
  amountStatistics(): AmountStatistics {
    if (this.#statistics) return this.#statistics;
    const logs = Array.from(this.#amountLogs.subarray(0, this.#amountCount)).sort((a, b) => a - b);
    const medianLog = median(logs);
    const deviations = logs.map((value) => Math.abs(value - medianLog)).sort((a, b) => a - b);
    this.#statistics = { observations: logs.length, medianLog, madLog: median(deviations) };
    return this.#statistics;
  }
}

function median(sorted: readonly number[]): number {
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The keys of an event's velocity series, per dimension (absent values have no series). */
export function dimensionValue(event: RiskEvent, dimension: VelocityDimension): string | undefined {
  switch (dimension) {
    case 'customer':
      return event.customerId;
    case 'device':
      return event.deviceId;
    case 'ip':
      return event.ip;
    case 'card':
      return event.cardFingerprint;
    case 'merchant':
      return event.merchantId;
    case 'counterparty':
      return event.counterpartyId;
  }
}

const allDimensions: readonly VelocityDimension[] = ['customer', 'device', 'ip', 'card', 'merchant', 'counterparty'];
const kindIndex: Readonly<Record<RiskEventKind, number>> = {
  top_up: 0,
  withdrawal: 1,
  p2p_transfer: 2,
  qr_payment: 3,
  code_payment: 4,
  refund: 5,
};
const KINDS = 6;

/** One key's series: attempts for each event kind, then completed for each. */
type SeriesSlots = (EventSeries | undefined)[];

function slotOf(measure: 'attempts' | 'completed', kind: RiskEventKind): number {
  return (measure === 'attempts' ? 0 : KINDS) + kindIndex[kind];
}

export class RiskState {
  readonly limits: RiskStateLimits;
  /** Per dimension, the value's series (the map is keyed by the event's own string: no key is built per look-up). */
  readonly series: Readonly<Record<VelocityDimension, BoundedLru<string, SeriesSlots>>>;
  readonly profiles: BoundedLru<string, CustomerProfile>;
  #keepMs: number;
  readonly #utcOffsetMs: number;

  constructor(options: { limits?: Partial<RiskStateLimits>; keepSeconds: number; utcOffsetMinutes: number }) {
    this.limits = { ...defaultStateLimits, ...options.limits };
    const keys = () => new BoundedLru<string, SeriesSlots>(this.limits.seriesMax);
    this.series = {
      customer: keys(),
      device: keys(),
      ip: keys(),
      card: keys(),
      merchant: keys(),
      counterparty: keys(),
    };
    this.profiles = new BoundedLru(this.limits.profilesMax);
    this.#keepMs = options.keepSeconds * 1000;
    this.#utcOffsetMs = options.utcOffsetMinutes * 60_000;
  }

  /** A new rule set may look further back; entries already pruned are not brought back. */
  set keepSeconds(seconds: number) {
    this.#keepMs = seconds * 1000;
  }

  localHour(timeMs: number): number {
    return Math.floor((timeMs + this.#utcOffsetMs) / 3_600_000) % 24;
  }

  /** Every evaluated event, refused or not: feeds the `attempts` measure. */
  noteAttempt(event: TimedEvent): void {
    this.#addToSeries('attempts', event);
  }

  /** Money that moved: feeds `count` and `amount` velocity and the customer's own history. */
  noteCompleted(event: TimedEvent): void {
    this.#addToSeries('completed', event);
    const profile = this.profiles.getOrCreate(event.customerId, () => new CustomerProfile(this.limits));
    if (outgoingKinds.includes(event.kind)) profile.addAmount(Number(event.amount));
    profile.hourCounts[this.localHour(event.occurredAtMs)]! += 1;
    profile.hourTotal += 1;
    if (event.deviceId !== undefined) profile.devices.getOrCreate(event.deviceId, () => true);
    if (event.counterpartyId !== undefined && outgoingKinds.includes(event.kind)) {
      profile.payees.getOrCreate(event.counterpartyId, () => true);
    }
  }

  #addToSeries(measure: 'attempts' | 'completed', event: TimedEvent): void {
    const amount = Number(event.amount);
    const keepFromMs = event.occurredAtMs - this.#keepMs;
    for (const dimension of allDimensions) {
      const value = dimensionValue(event, dimension);
      if (value === undefined) continue;
      const slots = this.series[dimension].getOrCreate(value, () => []);
      const series = (slots[slotOf(measure, event.kind)] ??= new EventSeries());
      series.add(event.occurredAtMs, amount, keepFromMs, this.limits.seriesEntriesMax);
    }
  }

  /** Count and fen for one key over the given kinds in [fromMs, toMs]. */
  window(
    measure: 'attempts' | 'completed',
    dimension: VelocityDimension,
    kinds: readonly RiskEventKind[],
    value: string,
    fromMs: number,
    toMs: number,
  ): { count: number; amount: number } {
    let count = 0;
    let amount = 0;
    const slots = this.series[dimension].peek(value);
    if (slots === undefined) return { count, amount };
    for (const kind of kinds) {
      const found = slots[slotOf(measure, kind)]?.window(fromMs, toMs);
      if (found) {
        count += found.count;
        amount += found.amount;
      }
    }
    return { count, amount };
  }
}
