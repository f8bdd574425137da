/**
 * npm run bench:risk — latency of one risk decision with 50 active rules and a warm history.
 *
 * A first RiskService evaluates and records 100,000 past events (10,000 customers, 20,000 devices, 30 days)
 * into `risk_events` on PGlite (files in a temporary directory), through the same path live traffic takes.
 * A second service starts on that database and warms its history from `risk_events` (the start-up path).
 * Then 100,000 new
 * evaluations are timed one by one, with `record()` after each as the wallet will call it, the batching
 * writer running in between. Prints a table, writes docs/performance.md, ends with one line of JSON.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { migrate, openDatabase } from '@yika/db';
// The risk module is not exported by @yika/server yet (it is wired in by the lead); its front door is index.ts.
// eslint-disable-next-line no-restricted-imports
import {
  riskMigrations,
  RiskService,
  type RiskEvent,
  type RiskEventKind,
  type RiskRuleSetInput,
} from '../apps/server/src/modules/risk/index.js';
import { percentile, tables, writePerformanceSection } from './report.js';

const quick = process.argv.includes('--quick');
const CUSTOMERS = 10_000;
const DEVICES = 20_000;
const HISTORY_EVENTS = quick ? 20_000 : 100_000;
const HISTORY_DAYS = 30;
const EVALUATIONS = quick ? 20_000 : 100_000;
const WARM_UP_EVALUATIONS = 5_000;
const MERCHANTS = 500;
const IPS = 5_000;
const DAY_MS = 86_400_000;

/** mulberry32: the same traffic on every run. */
function generator(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
const random = generator(20261125);
const pick = (count: number) => Math.floor(random() * count);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());

const paying: RiskEventKind[] = ['withdrawal', 'p2p_transfer', 'qr_payment', 'code_payment'];
const everything: RiskEventKind[] = [...paying, 'top_up', 'refund'];

/** 50 rules: every condition type, in the proportions a bank's set might have. */
function fiftyRules(): RiskRuleSetInput {
  const rules: RiskRuleSetInput['rules'] = [];
  const reason = (code: string) => ({ code, text: { 'zh-CN': `风险提示 ${code}`, en: `Risk notice ${code}` } });
  const add = (
    id: string,
    when: RiskRuleSetInput['rules'][number]['when'],
    decision: 'allow' | 'challenge' | 'review' | 'deny',
    appliesTo = paying,
  ) => rules.push({ id, name: id, appliesTo, when, decision, reason: reason(id) });
  const listFields = [
    ['blocked_phones', 'phone'],
    ['blocked_phones', 'counterpartyPhone'],
    ['blocked_devices', 'deviceId'],
    ['blocked_cards', 'cardFingerprint'],
    ['blocked_merchants', 'merchantId'],
    ['blocked_ips', 'ip'],
  ] as const;
  listFields.forEach(([list, field], index) => add(`list_${index}`, { type: 'list', list, field }, 'deny', everything));
  [1_000_000, 2_000_000, 5_000_000, 10_000_000].forEach((atLeast, index) =>
    add(`amount_${index}`, { type: 'amount', atLeast }, index < 2 ? 'challenge' : 'review'),
  );
  const dimensions = ['customer', 'device', 'ip', 'card', 'merchant', 'counterparty'] as const;
  const windows = [60, 3_600, 86_400] as const;
  let velocity = 0;
  for (const dimension of dimensions) {
    for (const windowSeconds of windows) {
      const measure = (['count', 'amount', 'attempts'] as const)[velocity % 3]!;
      const atLeast = measure === 'amount' ? 500_000 * (windowSeconds / 60) ** 0.5 : 5 * (windowSeconds / 60) ** 0.4;
      add(
        `velocity_${velocity++}`,
        { type: 'velocity', dimension, measure, windowSeconds, atLeast: Math.ceil(atLeast) },
        'challenge',
      );
    }
  }
  for (let index = 0; index < 3; index += 1) {
    add(`new_device_${index}`, { type: 'new_device', amountAtLeast: 100_000 * (index + 1) ** 2 }, 'challenge');
    add(`new_payee_${index}`, { type: 'new_payee', amountAtLeast: 200_000 * (index + 1) ** 2 }, 'challenge', [
      'p2p_transfer',
    ]);
    add(
      `unusual_hour_${index}`,
      { type: 'unusual_hour', minObservations: 10 + 5 * index, shareBelow: 0.03, amountAtLeast: 50_000 * (index + 1) },
      'challenge',
    );
    add(
      `outlier_${index}`,
      {
        type: 'amount_outlier',
        zScoreAtLeast: 3 + index,
        minObservations: 8,
        coldStartAmountAtLeast: 1_000_000 * (index + 1),
      },
      index === 2 ? 'review' : 'challenge',
    );
  }
  for (let index = 0; index < 6; index += 1) {
    add(
      `composite_${index}`,
      {
        type: 'all',
        conditions: [
          {
            type: 'any',
            conditions: [
              { type: 'account_class', classes: ['I'] },
              { type: 'new_device', amountAtLeast: 10_000 },
            ],
          },
          { type: 'amount', atLeast: 50_000 * (index + 1) },
          { type: 'not', condition: { type: 'list', list: 'trusted_payees', field: 'counterpartyId' } },
          { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 86_400, atLeast: 3 + index },
        ],
      },
      index % 2 === 0 ? 'challenge' : 'review',
    );
  }
  rules.push({
    id: 'trusted_payee',
    name: 'trusted payee',
    appliesTo: paying,
    when: { type: 'list', list: 'trusted_payees', field: 'counterpartyId' },
    decision: 'allow',
    effect: 'soften',
    reason: reason('trusted_payee'),
  });
  while (rules.length < 50)
    add(
      `amount_band_${rules.length}`,
      { type: 'amount', atLeast: 20_000 * rules.length, below: 25_000 * rules.length },
      'allow',
    );
  const numbered = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  return {
    lists: {
      blocked_phones: numbered('+8613', 1_000),
      blocked_devices: numbered('blocked-device', 1_000),
      blocked_cards: numbered('card', 1_000).map((card) => `${card}-blocked`),
      blocked_merchants: numbered('merchant', 5).map((merchant) => `${merchant}-blocked`),
      blocked_ips: numbered('10.0.0', 100),
      trusted_payees: numbered('customer', 50),
    },
    rules,
  };
}

/** A customer's habits: a typical amount and hour, a main device and a spare one. */
function trafficEvent(at: number): RiskEvent {
  // Skewed: some customers are far busier than others.
  const customer = Math.floor(random() ** 2 * CUSTOMERS);
  const typicalFen = 1_000 * (1 + (customer % 50));
  const kindRoll = random();
  const kind: RiskEventKind =
    kindRoll < 0.35
      ? 'qr_payment'
      : kindRoll < 0.55
        ? 'code_payment'
        : kindRoll < 0.8
          ? 'p2p_transfer'
          : kindRoll < 0.92
            ? 'top_up'
            : kindRoll < 0.98
              ? 'withdrawal'
              : 'refund';
  const amount = BigInt(Math.max(1, Math.round(typicalFen * Math.exp(gaussian() * 0.6 + (random() < 0.01 ? 4 : 0)))));
  const devicePerCustomer = DEVICES / CUSTOMERS;
  const event: RiskEvent = {
    kind,
    customerId: `customer-${customer}`,
    amount,
    currency: 'CNY',
    occurredAt: new Date(at),
    accountClass: customer % 10 === 0 ? 'I' : customer % 3 === 0 ? 'III' : 'II',
    phone: `+86139${String(customer).padStart(8, '0')}`,
    deviceId: `device-${customer * devicePerCustomer + (random() < 0.9 ? 0 : 1 + pick(devicePerCustomer - 1))}`,
    ip: `198.51.${pick(IPS) >> 8}.${pick(256)}`,
  };
  if (kind === 'qr_payment' || kind === 'code_payment' || kind === 'refund')
    event.merchantId = `merchant-${Math.floor(random() ** 3 * MERCHANTS)}`;
  if (kind === 'p2p_transfer') {
    const payee = (customer + 1 + pick(20)) % CUSTOMERS;
    event.counterpartyId = `customer-${payee}`;
    event.counterpartyPhone = `+86139${String(payee).padStart(8, '0')}`;
  }
  if (kind === 'top_up' || kind === 'withdrawal') event.cardFingerprint = `card-${customer}`;
  return event;
}

/** Past times: on a customer's usual hours mostly (their id picks the hour), spread over the last 30 days. */
function pastTime(end: number, index: number): number {
  return end - HISTORY_DAYS * DAY_MS + Math.floor((index / HISTORY_EVENTS) * HISTORY_DAYS * DAY_MS);
}

// PGlite on files in a temporary directory: an in-memory PGlite holds its files in ArrayBuffers that grow
// with every write, and the GC work that causes in this shared heap would be measured as engine latency.
const dataDir = await mkdtemp(join(tmpdir(), 'yika-bench-risk-'));
const db = await openDatabase({ dataDir });
await migrate(db, riskMigrations);
let clock = Date.parse('2026-11-25T04:00:00Z');
const now = () => new Date(clock);
const end = clock;

// 1. History: evaluated and recorded by a live service, as the wallet will do, into risk_events.
clock = end - HISTORY_DAYS * DAY_MS;
const writerOfHistory = new RiskService({ db, now, writer: { queueMax: HISTORY_EVENTS * 2 } });
await writerOfHistory.start();
const draft = await writerOfHistory.saveDraft(fiftyRules(), 'bench');
await writerOfHistory.activate(draft.version, 'bench');
let began = performance.now();
for (let index = 0; index < HISTORY_EVENTS; index += 1) {
  clock = pastTime(end, index);
  const evaluation = writerOfHistory.evaluate(trafficEvent(clock));
  await writerOfHistory.record(evaluation.evaluationId, evaluation.decision === 'deny' ? 'failed' : 'completed');
}
await writerOfHistory.stop();
const historySeconds = (performance.now() - began) / 1000;
console.error(`history: ${HISTORY_EVENTS} events evaluated and stored in ${historySeconds.toFixed(1)} s`);

// 2. A fresh service warms from risk_events: the start-up path.
clock = end;
const service = new RiskService({ db, now });
began = performance.now();
await service.start();
const warmUpSeconds = (performance.now() - began) / 1000;
const rulesActive = service.activeRules().ruleSet.rules.filter((rule) => rule.enabled).length;
console.error(`warm-up: ${warmUpSeconds.toFixed(2)} s, ${JSON.stringify(service.stats())}`);

// 3. Timed: one evaluate() at a time, record() after each, the writer flushing in between.
async function run(
  count: number,
): Promise<{ latencies: Float64Array; seconds: number; decided: Record<string, number> }> {
  const latencies = new Float64Array(count);
  const decided: Record<string, number> = {};
  const started = performance.now();
  for (let index = 0; index < count; index += 1) {
    clock += 36; // 100,000 evaluations in an hour of traffic
    const event = trafficEvent(clock);
    const begun = performance.now();
    const evaluation = service.evaluate(event);
    latencies[index] = performance.now() - begun;
    decided[evaluation.decision] = (decided[evaluation.decision] ?? 0) + 1;
    await service.record(evaluation.evaluationId, evaluation.decision === 'allow' ? 'completed' : 'failed');
    // A server does I/O between requests: let timers and the writer run, as they would.
    if (index % 100 === 99) await new Promise((resolve) => setImmediate(resolve));
  }
  return { latencies, seconds: (performance.now() - started) / 1000, decided };
}
await run(WARM_UP_EVALUATIONS); // JIT and caches
const measured = await run(EVALUATIONS);
await service.stop();
const latencyValues = Array.from(measured.latencies);
const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
const figures = {
  p50Ms: round(percentile(latencyValues, 50), 4),
  p99Ms: round(percentile(latencyValues, 99), 4),
  p999Ms: round(percentile(latencyValues, 99.9), 4),
  maxMs: round(Math.max(...latencyValues), 3),
  evaluationsPerSecond: Math.round(EVALUATIONS / (latencyValues.reduce((sum, value) => sum + value, 0) / 1000)),
  withRecordPerSecond: Math.round(EVALUATIONS / measured.seconds),
};
const stats = service.stats();
// The heap the engine's history keeps alive: collect garbage first (the npm script has no --expose-gc).
setFlagsFromString('--expose-gc');
(runInNewContext('gc') as () => void)();
const heapMb = Math.round(process.memoryUsage().heapUsed / 1_048_576);
await db.close();
await rm(dataDir, { recursive: true, force: true });

const table = tables(
  [
    'rules',
    'history events',
    'evaluations',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'max ms',
    'evaluate()/s',
    'with record()/s',
  ],
  [
    [
      rulesActive,
      HISTORY_EVENTS,
      EVALUATIONS,
      figures.p50Ms,
      figures.p99Ms,
      figures.p999Ms,
      figures.maxMs,
      figures.evaluationsPerSecond,
      figures.withRecordPerSecond,
    ],
  ],
);
const decisionsLine = Object.entries(measured.decided)
  .map(([decision, count]) => `${decision} ${count}`)
  .join(', ');
console.log(table.text);
console.log(`decisions: ${decisionsLine}; warm-up ${warmUpSeconds.toFixed(2)} s; heap ${heapMb} MB`);
writePerformanceSection(
  'risk',
  `## Risk engine (\`npm run bench:risk\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${process.platform}/${process.arch}, Node ${process.version}. ${rulesActive} active
rules (lists, amounts, velocity per customer / device / IP / card / merchant / counterparty over 1 min, 1 h and 24 h,
new device, new payee, unusual hour, amount outlier, composites, a trusted-payee softener). History: ${HISTORY_EVENTS.toLocaleString('en')}
events of ${CUSTOMERS.toLocaleString('en')} customers on ${DEVICES.toLocaleString('en')} devices over ${HISTORY_DAYS} days, evaluated and
recorded into \`risk_events\` (PGlite, files in a temporary directory), then a fresh service warmed from that table in ${warmUpSeconds.toFixed(2)} s.
Latency is one synchronous \`evaluate()\` (no database access), timed ${EVALUATIONS.toLocaleString('en')} times with \`record()\`
after each and the batching writer running in between; *evaluate()/s* is one core's throughput of
\`evaluate()\` alone, *with record()/s* includes recording and writing every event. Target: p99 under 2 ms.

${table.markdown}

Decisions in the timed run: ${decisionsLine}. In memory afterwards: ${stats.series.toLocaleString('en')} window series,
${stats.profiles.toLocaleString('en')} customer profiles; ${heapMb} MB of JavaScript heap live after a full collection (the
whole process, PGlite's JavaScript side included).`,
);
console.log(
  JSON.stringify({
    bench: 'risk',
    rules: rulesActive,
    historyEvents: HISTORY_EVENTS,
    customers: CUSTOMERS,
    devices: DEVICES,
    evaluations: EVALUATIONS,
    warmUpSeconds: round(warmUpSeconds, 2),
    ...figures,
    decisions: measured.decided,
    series: stats.series,
    profiles: stats.profiles,
    eventsDropped: stats.eventsDropped,
    heapMb,
  }),
);
