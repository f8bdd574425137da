/**
 * The risk engine on a real database (PGlite in memory, or PostgreSQL with TEST_DATABASE_URL): each
 * condition type and decision, reasons in both languages, windows that slide with the clock, the
 * customer's own history (hours, amounts), lists and trusted payees, rule validation, versions and
 * dry-run, bounded memory, and warm-up from `risk_events` deciding as the live history did.
 */
import { randomUUID } from 'node:crypto';
import { migrate, type Database } from '@yika/db';
import { openTestDatabase } from '@yika/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  RiskRulesInvalidError,
  RiskService,
  defaultRuleSet,
  parseRuleSet,
  riskMigrations,
  type RiskEvent,
  type RiskRuleSetInput,
  type RiskServiceOptions,
} from './index.js';

let db: Database;
/** The injected clock: tests move it to slide windows. 2026-11-25 02:00 UTC is 10:00 in Shanghai. */
let clock = Date.parse('2026-11-25T02:00:00Z');
const now = () => new Date(clock);
const services: RiskService[] = [];

beforeAll(async () => {
  db = await openTestDatabase();
  await migrate(db, riskMigrations);
});

afterAll(async () => {
  for (const service of services) await service.stop();
  await db?.close();
});

const text = (code: string) => ({ 'zh-CN': `中文：${code} {windowCount}`, en: `English: ${code} {windowCount}` });

type RuleInput = RiskRuleSetInput['rules'][number];
function rule(id: string, when: RuleInput['when'], decision: RuleInput['decision'], extra: Partial<RuleInput> = {}) {
  return {
    id,
    name: id,
    appliesTo: ['p2p_transfer', 'withdrawal', 'qr_payment', 'top_up'],
    when,
    decision,
    reason: { code: id, text: text(id) },
    ...extra,
  } satisfies RuleInput;
}

async function serviceWith(
  rules: RuleInput[],
  lists: Record<string, string[]> = {},
  options: Partial<RiskServiceOptions> = {},
): Promise<RiskService> {
  const service = new RiskService({ db, now, ...options });
  services.push(service);
  await service.start();
  const { version } = await service.saveDraft({ lists, rules }, 'tester');
  await service.activate(version, 'tester');
  return service;
}

function event(customerId: string, amount: number, extra: Partial<RiskEvent> = {}): RiskEvent {
  return { kind: 'p2p_transfer', customerId, amount: BigInt(amount), currency: 'CNY', ...extra };
}

/** Evaluates and, when allowed, records the money as moved: what the wallet will do. */
async function pay(service: RiskService, input: RiskEvent) {
  const evaluation = service.evaluate(input);
  await service.record(evaluation.evaluationId, evaluation.decision === 'allow' ? 'completed' : 'failed');
  return evaluation;
}

describe('conditions', () => {
  it('amount: hits at the threshold, with reasons in zh-CN and en', async () => {
    const service = await serviceWith([rule('big', { type: 'amount', atLeast: 10_000 }, 'review')]);
    const customer = randomUUID();
    expect(service.evaluate(event(customer, 9_999)).decision).toBe('allow');
    const held = service.evaluate(event(customer, 10_000));
    expect(held.decision).toBe('review');
    expect(held.reasons).toEqual([
      {
        code: 'big',
        ruleId: 'big',
        text: { 'zh-CN': '中文：big {windowCount}', en: 'English: big {windowCount}' },
        figures: { amountFen: 10_000 },
      },
    ]);
    expect(held.evaluationId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('account class: only the classes named', async () => {
    const service = await serviceWith([rule('class_one', { type: 'account_class', classes: ['I'] }, 'challenge')]);
    const customer = randomUUID();
    expect(service.evaluate(event(customer, 100, { accountClass: 'I' })).decision).toBe('challenge');
    expect(service.evaluate(event(customer, 100, { accountClass: 'II' })).decision).toBe('allow');
    expect(service.evaluate(event(customer, 100)).decision).toBe('allow');
  });

  it('velocity count: the window slides with the clock, and refused payments do not count', async () => {
    const service = await serviceWith([
      rule(
        'three_a_minute',
        { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 60, atLeast: 3 },
        'challenge',
      ),
    ]);
    const customer = randomUUID();
    expect((await pay(service, event(customer, 100))).decision).toBe('allow');
    clock += 20_000;
    // Evaluated but never completed: not money that moved.
    await service.record(service.evaluate(event(customer, 100)).evaluationId, 'failed');
    expect((await pay(service, event(customer, 100))).decision).toBe('allow');
    clock += 20_000;
    const third = service.evaluate(event(customer, 100));
    expect(third.decision).toBe('challenge');
    expect(third.reasons[0]!.figures).toEqual({ windowCount: 3, windowSeconds: 60, dimension: 'customer' });
    expect(third.reasons[0]!.text.en).toBe('English: three_a_minute 3');
    // 61 s after the first payment it has left the window.
    clock += 21_000;
    expect(service.evaluate(event(customer, 100)).decision).toBe('allow');
  });

  it('velocity amount counts the payment being judged, per window', async () => {
    const service = await serviceWith([
      rule(
        'hour_amount',
        { type: 'velocity', dimension: 'customer', measure: 'amount', windowSeconds: 3_600, atLeast: 50_000 },
        'review',
      ),
    ]);
    const customer = randomUUID();
    await pay(service, event(customer, 30_000));
    clock += 1_800_000;
    const second = service.evaluate(event(customer, 20_000));
    expect(second.decision).toBe('review');
    expect(second.reasons[0]!.figures.windowAmountFen).toBe(50_000);
    clock += 1_800_001;
    expect(service.evaluate(event(customer, 20_000)).decision).toBe('allow');
  });

  it('velocity attempts counts every evaluation, completed or not', async () => {
    const service = await serviceWith([
      rule(
        'attempts',
        { type: 'velocity', dimension: 'customer', measure: 'attempts', windowSeconds: 60, atLeast: 3 },
        'deny',
      ),
    ]);
    const customer = randomUUID();
    expect(service.evaluate(event(customer, 1)).decision).toBe('allow');
    expect(service.evaluate(event(customer, 1)).decision).toBe('allow');
    expect(service.evaluate(event(customer, 1)).decision).toBe('deny');
  });

  it.each([
    ['device', { deviceId: 'device-x' }],
    ['ip', { ip: '203.0.113.9' }],
    ['card', { cardFingerprint: 'card-x' }],
    ['merchant', { merchantId: 'merchant-x' }],
    ['counterparty', { counterpartyId: 'payee-x' }],
  ] as const)('velocity per %s: shared across customers', async (dimension, fields) => {
    const service = await serviceWith([
      rule('shared', { type: 'velocity', dimension, measure: 'count', windowSeconds: 3_600, atLeast: 3 }, 'review'),
    ]);
    const salt = randomUUID();
    const keyed = Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, `${value}-${salt}`]));
    await pay(service, event(randomUUID(), 100, keyed));
    await pay(service, event(randomUUID(), 100, keyed));
    expect(service.evaluate(event(randomUUID(), 100, keyed)).decision).toBe('review');
    expect(service.evaluate(event(randomUUID(), 100)).decision).toBe('allow');
  });

  it('velocity counts only the kinds asked for', async () => {
    const service = await serviceWith([
      rule(
        'withdrawals',
        {
          type: 'velocity',
          dimension: 'customer',
          measure: 'count',
          windowSeconds: 3_600,
          atLeast: 2,
          kinds: ['withdrawal'],
        },
        'challenge',
      ),
    ]);
    const customer = randomUUID();
    await pay(service, event(customer, 100));
    expect(service.evaluate(event(customer, 100, { kind: 'withdrawal' })).decision).toBe('allow');
    await pay(service, event(customer, 100, { kind: 'withdrawal' }));
    expect(service.evaluate(event(customer, 100, { kind: 'withdrawal' })).decision).toBe('challenge');
  });

  it('new device and new payee with a large amount', async () => {
    const service = await serviceWith([
      rule('new_device', { type: 'new_device', amountAtLeast: 10_000 }, 'challenge'),
      rule('new_payee', { type: 'new_payee', amountAtLeast: 50_000 }, 'review'),
    ]);
    const customer = randomUUID();
    const device = randomUUID();
    const payee = randomUUID();
    expect(service.evaluate(event(customer, 9_999, { deviceId: device })).decision).toBe('allow');
    expect(service.evaluate(event(customer, 10_000, { deviceId: device })).decision).toBe('challenge');
    await pay(service, event(customer, 100, { deviceId: device, counterpartyId: payee }));
    expect(service.evaluate(event(customer, 10_000, { deviceId: device })).decision).toBe('allow');
    expect(service.evaluate(event(customer, 50_000, { deviceId: device, counterpartyId: randomUUID() })).decision).toBe(
      'review',
    );
    expect(service.evaluate(event(customer, 50_000, { deviceId: device, counterpartyId: payee })).decision).toBe(
      'allow',
    );
  });

  it('unusual hour: from the customer’s own history, in Shanghai time', async () => {
    const service = await serviceWith([
      rule(
        'odd_hour',
        { type: 'unusual_hour', minObservations: 10, shareBelow: 0.05, amountAtLeast: 1_000 },
        'challenge',
      ),
    ]);
    const customer = randomUUID();
    const tenAm = Date.parse('2026-11-20T02:00:00Z');
    for (let day = 0; day < 9; day += 1) {
      await pay(service, event(customer, 500, { occurredAt: new Date(tenAm + day * 86_400_000) }));
    }
    const threeAm = new Date(Date.parse('2026-11-25T19:00:00Z'));
    // Nine observations: too few to call any hour unusual.
    expect(service.evaluate(event(customer, 5_000, { occurredAt: threeAm })).decision).toBe('allow');
    await pay(service, event(customer, 500, { occurredAt: new Date(tenAm + 9 * 86_400_000) }));
    const odd = service.evaluate(event(customer, 5_000, { occurredAt: threeAm }));
    expect(odd.decision).toBe('challenge');
    expect(odd.reasons[0]!.figures).toEqual({ hour: 3, hourShare: 0, observations: 10 });
    expect(
      service.evaluate(event(customer, 5_000, { occurredAt: new Date(Date.parse('2026-11-25T03:10:00Z')) })).decision,
    ).toBe('allow');
    expect(service.evaluate(event(customer, 999, { occurredAt: threeAm })).decision).toBe('allow');
  });

  it('amount outlier: a cold start falls back to an amount; a warm history flags a clear outlier only', async () => {
    const service = await serviceWith([
      rule(
        'outlier',
        { type: 'amount_outlier', zScoreAtLeast: 4, minObservations: 10, coldStartAmountAtLeast: 100_000 },
        'challenge',
      ),
    ]);
    const customer = randomUUID();
    const cold = service.evaluate(event(customer, 100_000));
    expect(cold.decision).toBe('challenge');
    expect(cold.reasons[0]!.figures).toEqual({ amountFen: 100_000, coldStart: true, observations: 0 });
    expect(service.evaluate(event(customer, 99_999)).decision).toBe('allow');
    for (const amount of [8_000, 9_000, 10_000, 11_000, 12_000, 9_500, 10_500, 10_000, 9_800, 10_200]) {
      await pay(service, event(customer, amount));
    }
    expect(service.evaluate(event(customer, 15_000)).decision).toBe('allow');
    expect(service.evaluate(event(customer, 99_999)).decision).toBe('challenge');
    const outlier = service.evaluate(event(customer, 500_000));
    expect(outlier.decision).toBe('challenge');
    expect(outlier.reasons[0]!.figures).toMatchObject({
      amountFen: 500_000,
      typicalAmountFen: 10_000,
      observations: 10,
    });
    expect(Number(outlier.reasons[0]!.figures.zScore)).toBeGreaterThan(4);
  });

  it('lists block; trusted payees soften only what they name; hard rules are never softened', async () => {
    const trusted = randomUUID();
    const blockedDevice = randomUUID();
    const service = await serviceWith(
      [
        rule('blocked', { type: 'list', list: 'blocked_devices', field: 'deviceId' }, 'deny', { hard: true }),
        rule('new_payee', { type: 'new_payee', amountAtLeast: 1 }, 'challenge'),
        rule('big', { type: 'amount', atLeast: 100_000 }, 'review'),
        rule('trusted', { type: 'list', list: 'trusted', field: 'counterpartyId' }, 'allow', {
          effect: 'soften',
          softens: ['new_payee', 'blocked'],
        }),
      ],
      { blocked_devices: [blockedDevice], trusted: [trusted] },
    );
    const customer = randomUUID();
    expect(service.evaluate(event(customer, 100, { counterpartyId: randomUUID() })).decision).toBe('challenge');
    const softened = service.evaluate(event(customer, 100, { counterpartyId: trusted }));
    expect(softened.decision).toBe('allow');
    expect(softened.reasons).toEqual([]);
    expect(softened.ruleHits.map((hit) => [hit.ruleId, hit.effectiveDecision])).toEqual([
      ['new_payee', 'allow'],
      ['trusted', 'allow'],
    ]);
    expect(service.evaluate(event(customer, 100_000, { counterpartyId: trusted })).decision).toBe('review');
    expect(service.evaluate(event(customer, 100, { counterpartyId: trusted, deviceId: blockedDevice })).decision).toBe(
      'deny',
    );
  });

  it('composite all / any / not', async () => {
    const service = await serviceWith([
      rule(
        'combo',
        {
          type: 'all',
          conditions: [
            { type: 'amount', atLeast: 1_000 },
            {
              type: 'any',
              conditions: [
                { type: 'account_class', classes: ['I'] },
                { type: 'amount', atLeast: 100_000 },
              ],
            },
            { type: 'not', condition: { type: 'account_class', classes: ['III'] } },
          ],
        },
        'review',
      ),
    ]);
    const customer = randomUUID();
    expect(service.evaluate(event(customer, 1_000, { accountClass: 'I' })).decision).toBe('review');
    expect(service.evaluate(event(customer, 999, { accountClass: 'I' })).decision).toBe('allow');
    expect(service.evaluate(event(customer, 1_000, { accountClass: 'II' })).decision).toBe('allow');
    expect(service.evaluate(event(customer, 100_000, { accountClass: 'II' })).decision).toBe('review');
    expect(service.evaluate(event(customer, 100_000, { accountClass: 'III' })).decision).toBe('allow');
  });
});

describe('decisions', () => {
  it('the strongest decision wins and the customer sees only its reasons; the analyst sees every hit', async () => {
    const service = await serviceWith([
      rule('c', { type: 'amount', atLeast: 1 }, 'challenge'),
      rule('r', { type: 'amount', atLeast: 100 }, 'review'),
      rule('d', { type: 'amount', atLeast: 10_000 }, 'deny'),
      rule('a', { type: 'amount', atLeast: 1 }, 'allow'),
    ]);
    const customer = randomUUID();
    const cases = [
      [0, 'allow'],
      [1, 'challenge'],
      [100, 'review'],
      [10_000, 'deny'],
    ] as const;
    for (const [amount, decision] of cases) {
      const result = service.evaluate(event(customer, amount));
      expect(result.decision).toBe(decision);
      if (decision !== 'allow') expect(result.reasons.map((reason) => reason.ruleId)).toEqual([decision[0]]);
    }
    const denied = service.evaluate(event(customer, 10_000));
    expect(denied.ruleHits.map((hit) => hit.ruleId)).toEqual(['c', 'r', 'd', 'a']);
    expect(denied.version).toBe(service.activeRules().version);
    expect(denied.evaluatedAt).toEqual(now());
  });

  it('a challenge is satisfied when the second factor was already given; review and deny are not', async () => {
    const service = await serviceWith([
      rule('c', { type: 'amount', atLeast: 1 }, 'challenge'),
      rule('r', { type: 'amount', atLeast: 100 }, 'review'),
    ]);
    const satisfied = service.evaluate(event(randomUUID(), 1, { stepUpVerified: true }));
    expect(satisfied).toMatchObject({ decision: 'allow', challengeSatisfied: true });
    expect(satisfied.reasons.map((reason) => reason.code)).toEqual(['c']);
    expect(service.evaluate(event(randomUUID(), 100, { stepUpVerified: true })).decision).toBe('review');
  });

  it('rules apply only to their event kinds, and disabled rules not at all', async () => {
    const service = await serviceWith([
      rule('top_ups', { type: 'amount', atLeast: 1 }, 'deny', { appliesTo: ['top_up'] }),
      rule('off', { type: 'amount', atLeast: 1 }, 'deny', { enabled: false }),
    ]);
    expect(service.evaluate(event(randomUUID(), 100, { kind: 'top_up' })).decision).toBe('deny');
    expect(service.evaluate(event(randomUUID(), 100)).decision).toBe('allow');
  });

  it('the default rule set is valid and has reasons in both languages', () => {
    const ruleSet = parseRuleSet(defaultRuleSet);
    expect(ruleSet.rules.length).toBeGreaterThanOrEqual(10);
    for (const item of ruleSet.rules) {
      expect(item.reason.text['zh-CN']).toMatch(/\p{Script=Han}/u);
      expect(item.reason.text.en).toMatch(/[a-z]/);
    }
  });
});

describe('rule validation', () => {
  function issuesOf(input: unknown) {
    try {
      parseRuleSet(input);
    } catch (error) {
      expect(error).toBeInstanceOf(RiskRulesInvalidError);
      return (error as RiskRulesInvalidError).issues;
    }
    throw new Error('expected the rule set to be refused');
  }

  it('names the rule and the field', () => {
    const issues = issuesOf({
      rules: [
        rule('fine', { type: 'amount', atLeast: 1 }, 'deny'),
        rule(
          'bad_window',
          { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 0, atLeast: 1 },
          'deny',
        ),
      ],
    });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatchObject({ ruleId: 'bad_window', path: 'rules[1].when.windowSeconds' });
  });

  it('refuses a missing translation, an unknown condition, an unknown decision', () => {
    const missing = rule('no_english', { type: 'amount', atLeast: 1 }, 'deny');
    const issues = issuesOf({
      rules: [
        { ...missing, reason: { code: 'x', text: { 'zh-CN': '只有中文' } } },
        rule('strange', { type: 'moon_phase' }, 'deny'),
        rule('maybe', { type: 'amount', atLeast: 1 }, 'perhaps' as never),
      ],
    });
    expect(issues.map((issue) => [issue.ruleId, issue.path])).toEqual([
      ['no_english', 'rules[0].reason.text.en'],
      ['strange', 'rules[1].when.type'],
      ['maybe', 'rules[2].decision'],
    ]);
  });

  it('refuses duplicate ids, unknown lists and softening unknown rules', () => {
    const issues = issuesOf({
      lists: {},
      rules: [
        rule('twice', { type: 'amount', atLeast: 1 }, 'deny'),
        rule('twice', { type: 'list', list: 'nowhere', field: 'ip' }, 'deny'),
        rule('soft', { type: 'amount', atLeast: 1 }, 'allow', { effect: 'soften', softens: ['ghost'] }),
      ],
    });
    expect(issues.map((issue) => issue.message)).toEqual([
      'duplicate rule id',
      'unknown list "nowhere"',
      'unknown rule "ghost"',
    ]);
    expect(() => parseRuleSet({ rules: [] })).not.toThrow();
  });

  it('saveDraft refuses an invalid set with a 422 problem listing the issues', async () => {
    const service = await serviceWith([]);
    await expect(service.saveDraft({ rules: [{ id: 'Bad Id' }] }, 'tester')).rejects.toMatchObject({
      code: 'risk_rules_invalid',
      status: 422,
    });
  });
});

describe('versions and dry-run', () => {
  it('activating a version retires the previous one and switches the engine at once', async () => {
    const service = await serviceWith([rule('deny_all', { type: 'amount', atLeast: 1 }, 'deny')]);
    const before = service.activeRules().version;
    const { version } = await service.saveDraft({ rules: [] }, 'analyst');
    expect(version).toBe(before + 1);
    expect(service.evaluate(event(randomUUID(), 100)).decision).toBe('deny');
    await service.activate(version, 'checker');
    expect(service.activeRules().version).toBe(version);
    expect(service.evaluate(event(randomUUID(), 100)).decision).toBe('allow');
    const versions = await service.versions();
    expect(versions.find((row) => row.version === version)).toMatchObject({ status: 'active', activatedBy: 'checker' });
    expect(versions.find((row) => row.version === before)).toMatchObject({ status: 'retired' });
    expect(versions.filter((row) => row.status === 'active')).toHaveLength(1);
    await expect(service.activate(version, 'checker')).rejects.toMatchObject({ code: 'risk_version_active' });
    await expect(service.activate(9_999, 'checker')).rejects.toMatchObject({ code: 'not_found' });
    // Another process picks up the activation.
    const other = new RiskService({ db, now });
    services.push(other);
    await other.start();
    expect(other.activeRules().version).toBe(version);
    await service.activate(before, 'rollback');
    expect(await other.refreshActiveRules()).toBe(true);
    expect(other.activeRules().version).toBe(before);
  });

  it('dry-run replays recent events through candidate rules and reports what would change', async () => {
    clock += 86_400_000 * 40; // past earlier tests' events: this replay sees only its own
    const since = now();
    const service = await serviceWith([rule('big', { type: 'amount', atLeast: 100_000 }, 'review')]);
    const customer = randomUUID();
    for (const amount of [1_000, 20_000, 50_000, 150_000, 200_000]) {
      clock += 1_000;
      await pay(service, event(customer, amount));
    }
    await service.flush();
    const candidate = {
      rules: [
        rule('big', { type: 'amount', atLeast: 100_000 }, 'deny'),
        rule('medium', { type: 'amount', atLeast: 20_000 }, 'challenge'),
      ],
    };
    const report = await service.dryRun(candidate, since, { examplesMax: 2 });
    expect(report).toMatchObject({
      events: 5,
      stored: { allow: 3, challenge: 0, review: 2, deny: 0 },
      candidate: { allow: 1, challenge: 2, review: 0, deny: 2 },
      changed: 4,
      transitions: { 'allow→challenge': 2, 'review→deny': 2 },
      ruleHits: { big: 2, medium: 4 },
    });
    expect(report.examples).toHaveLength(2);
    expect(report.examples[0]).toMatchObject({
      customerId: customer,
      amount: 20_000,
      stored: 'allow',
      candidate: 'challenge',
    });
    // A stored draft can be dry-run by its number.
    const { version } = await service.saveDraft(candidate, 'analyst');
    expect((await service.dryRun(version, since)).changed).toBe(4);
  });
});

describe('memory and warm-up', () => {
  it('keeps at most the configured number of keys and customers', async () => {
    const service = await serviceWith(
      [
        rule(
          'v',
          { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 60, atLeast: 100 },
          'deny',
        ),
      ],
      {},
      {
        limits: { seriesMax: 20, profilesMax: 5 },
      },
    );
    for (let index = 0; index < 50; index += 1)
      await pay(service, event(randomUUID(), 100, { deviceId: randomUUID() }));
    const stats = service.stats();
    // At most 20 keys per dimension: here customers and devices.
    expect(stats.series).toBeLessThanOrEqual(40);
    expect(stats.profiles).toBeLessThanOrEqual(5);
    expect(stats.seriesEvicted).toBeGreaterThan(0);
    expect(stats.profilesEvicted).toBeGreaterThan(0);
  });

  it('a busy key keeps at most seriesEntriesMax entries (the count saturates, it does not grow without bound)', async () => {
    const service = await serviceWith(
      [
        rule(
          'v',
          { type: 'velocity', dimension: 'customer', measure: 'attempts', windowSeconds: 3_600, atLeast: 11 },
          'deny',
        ),
      ],
      {},
      { limits: { seriesEntriesMax: 10 } },
    );
    const customer = randomUUID();
    for (let index = 0; index < 30; index += 1) service.evaluate(event(customer, 1));
    const result = service.evaluate(event(customer, 1));
    expect(result.decision).toBe('deny');
    expect(result.reasons[0]!.figures.windowCount).toBe(11); // 10 kept + this one
  });

  it('a service warmed from risk_events decides exactly as the one that lived through the traffic', async () => {
    clock += 86_400_000;
    const rules = parseRuleSet(defaultRuleSet).rules.map((item) => ({ ...item }));
    const live = await serviceWith(rules, parseRuleSet(defaultRuleSet).lists);
    const customers = Array.from({ length: 5 }, () => randomUUID());
    const devices = Array.from({ length: 3 }, () => randomUUID());
    let seed = 7;
    const random = () => (seed = (seed * 48_271) % 2_147_483_647) / 2_147_483_647;
    const traffic = () =>
      event(
        customers[Math.floor(random() * customers.length)]!,
        random() < 0.9 ? Math.round(100 + random() * 20_000) : Math.round(200_000 + random() * 400_000),
        {
          kind: random() < 0.8 ? 'p2p_transfer' : 'withdrawal',
          deviceId: devices[Math.floor(random() * devices.length)]!,
          counterpartyId: customers[Math.floor(random() * customers.length)]!,
        },
      );
    for (let index = 0; index < 300; index += 1) {
      clock += 30_000 + Math.floor(random() * 600_000);
      const evaluation = live.evaluate(traffic());
      // Some completed, some failed, some never told.
      if (index % 7 !== 0)
        await live.record(evaluation.evaluationId, evaluation.decision === 'deny' ? 'failed' : 'completed');
    }
    await live.flush();
    const warmed = new RiskService({ db, now });
    services.push(warmed);
    await warmed.start();
    expect(warmed.activeRules().version).toBe(live.activeRules().version);
    const decided = { live: [] as unknown[], warmed: [] as unknown[] };
    for (let index = 0; index < 100; index += 1) {
      clock += 10_000 + Math.floor(random() * 300_000);
      const probe = traffic();
      for (const [name, service] of [
        ['live', live],
        ['warmed', warmed],
      ] as const) {
        const { decision, ruleHits, reasons } = service.evaluate(probe);
        decided[name].push({ decision, ruleHits, reasons });
      }
    }
    expect(decided.warmed).toEqual(decided.live);
    // The probes meet several decisions and rules, so the comparison is not of empty results.
    const seen = decided.live as { decision: string; ruleHits: { ruleId: string }[] }[];
    expect(new Set(seen.map((item) => item.decision)).size).toBeGreaterThan(1);
    expect(new Set(seen.flatMap((item) => item.ruleHits.map((hit) => hit.ruleId))).size).toBeGreaterThanOrEqual(2);
  });

  it('the event queue is bounded: past it rows are dropped and counted, never waited for', async () => {
    const service = await serviceWith([], {}, { writer: { queueMax: 3, flushIntervalMs: 60_000 } });
    for (let index = 0; index < 5; index += 1) service.evaluate(event(randomUUID(), 100));
    expect(service.stats()).toMatchObject({ eventsQueued: 3, eventsDropped: 2 });
    await service.flush();
    expect(service.stats()).toMatchObject({ eventsQueued: 0, eventsWritten: 3 });
  });

  it('writes every evaluation and its outcome; record() long after reads the stored event, once', async () => {
    const service = await serviceWith([
      rule(
        'v',
        { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 3_600, atLeast: 2 },
        'challenge',
      ),
    ]);
    const customer = randomUUID();
    const first = service.evaluate(event(customer, 4_200, { deviceId: 'd1', ip: '198.51.100.1' }));
    await service.flush();
    const restarted = await serviceWith([
      rule(
        'v',
        { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 3_600, atLeast: 2 },
        'challenge',
      ),
    ]);
    expect(restarted.evaluate(event(customer, 1)).decision).toBe('allow');
    await restarted.record(first.evaluationId, 'completed');
    await restarted.record(first.evaluationId, 'completed');
    expect(restarted.evaluate(event(customer, 1)).decision).toBe('challenge');
    await restarted.flush();
    const { rows } = await db.query<{
      customer_id: string;
      amount: string | bigint;
      decision: string;
      outcome: string;
    }>(`select customer_id, amount, decision, outcome from risk_events where id = $1`, [first.evaluationId]);
    expect(rows[0]).toMatchObject({ customer_id: customer, decision: 'allow', outcome: 'completed' });
    expect(BigInt(rows[0]!.amount)).toBe(4_200n);
    await expect(restarted.record(randomUUID(), 'completed')).rejects.toMatchObject({ code: 'not_found' });
  });
});
