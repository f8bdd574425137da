/**
 * The decision: every enabled rule for the event's kind is checked against the event and the in-memory
 * history; the strongest decision among the hits wins (deny > review > challenge > allow), after soften
 * rules (trusted payees) have capped the hits they apply to. Pure and synchronous: no I/O, and it does not
 * change the history (the service notes the attempt afterwards).
 */
import {
  decisionStrength,
  type Condition,
  type ListField,
  type RiskDecision,
  type RiskEventKind,
  type RiskRule,
  type RiskRuleSet,
} from './risk.rules.js';
import { dimensionValue, type CustomerProfile, type RiskState, type TimedEvent } from './risk.state.js';

export type Figures = Record<string, number | string | boolean>;

export interface LocalizedText {
  'zh-CN': string;
  en: string;
}

/** What the customer is told (text in their language) and the analyst sees (code, rule, figures). */
export interface RiskReason {
  code: string;
  ruleId: string;
  text: LocalizedText;
  figures: Figures;
}

export interface RuleHit {
  ruleId: string;
  name: string;
  /** What the rule asks for; `effectiveDecision` is after softening. */
  decision: RiskDecision;
  effectiveDecision: RiskDecision;
  effect: 'decide' | 'soften';
  figures: Figures;
}

export interface RiskAssessment {
  decision: RiskDecision;
  reasons: RiskReason[];
  ruleHits: RuleHit[];
  evaluatedAt: Date;
  /** The rule-set version that decided. */
  version: number;
  /** A challenge was asked for and the event says the second factor was already given. */
  challengeSatisfied: boolean;
}

/** Below this spread (in ln units, about ±20%) a customer who always pays the same is not an outlier for a few fen more. */
const MAD_LOG_FLOOR = 0.2;
/** Scales the MAD to a standard deviation for normally distributed data. */
const MAD_TO_SIGMA = 0.6745;

interface Context {
  event: TimedEvent;
  amount: number;
  profile: CustomerProfile | undefined;
  state: RiskState;
  lists: ReadonlyMap<string, ReadonlySet<string>>;
}

type Check = (context: Context) => Figures | null;

interface CompiledRule {
  rule: RiskRule;
  check: Check;
}

export class RiskEngine {
  readonly version: number;
  readonly ruleSet: RiskRuleSet;
  readonly #byKind: ReadonlyMap<RiskEventKind, readonly CompiledRule[]>;
  readonly #lists: ReadonlyMap<string, ReadonlySet<string>>;

  constructor(ruleSet: RiskRuleSet, version: number) {
    this.ruleSet = ruleSet;
    this.version = version;
    this.#lists = new Map(Object.entries(ruleSet.lists).map(([name, values]) => [name, new Set(values)]));
    const byKind = new Map<RiskEventKind, CompiledRule[]>();
    for (const rule of ruleSet.rules) {
      if (!rule.enabled) continue;
      const compiled = { rule, check: compile(rule.when, rule) };
      for (const kind of rule.appliesTo) byKind.set(kind, [...(byKind.get(kind) ?? []), compiled]);
    }
    this.#byKind = byKind;
  }

  evaluate(event: TimedEvent, state: RiskState, evaluatedAt: Date): RiskAssessment {
    const context: Context = {
      event,
      amount: Number(event.amount),
      profile: state.profiles.peek(event.customerId),
      state,
      lists: this.#lists,
    };
    const hits: { rule: RiskRule; figures: Figures }[] = [];
    for (const { rule, check } of this.#byKind.get(event.kind) ?? []) {
      const figures = check(context);
      if (figures !== null) hits.push({ rule, figures });
    }
    return this.#decide(hits, event, evaluatedAt);
  }

  #decide(hits: { rule: RiskRule; figures: Figures }[], event: TimedEvent, evaluatedAt: Date): RiskAssessment {
    const softeners = hits.filter((hit) => hit.rule.effect === 'soften');
    let strongest = 'allow' as RiskDecision;
    const ruleHits: RuleHit[] = hits.map(({ rule, figures }) => {
      let effective = rule.decision;
      if (rule.effect === 'decide' && !rule.hard) {
        for (const softener of softeners) {
          const applies = softener.rule.softens === undefined || softener.rule.softens.includes(rule.id);
          if (applies && decisionStrength[softener.rule.decision] < decisionStrength[effective]) {
            effective = softener.rule.decision;
          }
        }
      }
      if (rule.effect === 'decide' && decisionStrength[effective] > decisionStrength[strongest]) strongest = effective;
      return {
        ruleId: rule.id,
        name: rule.name,
        decision: rule.decision,
        effectiveDecision: effective,
        effect: rule.effect,
        figures,
      };
    });
    const reasons: RiskReason[] =
      strongest === 'allow'
        ? []
        : hits
            .filter(
              (_, index) => ruleHits[index]!.effect === 'decide' && ruleHits[index]!.effectiveDecision === strongest,
            )
            .map(({ rule, figures }) => ({
              code: rule.reason.code,
              ruleId: rule.id,
              text: { 'zh-CN': fill(rule.reason.text['zh-CN'], figures), en: fill(rule.reason.text.en, figures) },
              figures,
            }));
    const challengeSatisfied = strongest === 'challenge' && event.stepUpVerified === true;
    return {
      decision: challengeSatisfied ? 'allow' : strongest,
      reasons,
      ruleHits,
      evaluatedAt,
      version: this.version,
      challengeSatisfied,
    };
  }
}

/** `{name}` is the figure; `{name:yuan}` a fen figure shown in yuan with two decimals. */
function fill(template: string, figures: Figures): string {
  return template.replace(/\{(\w+)(:yuan)?\}/g, (whole, name: string, yuan: string | undefined) => {
    const value = figures[name];
    if (value === undefined) return whole;
    return yuan && typeof value === 'number' ? (value / 100).toFixed(2) : String(value);
  });
}

function compile(condition: Condition, rule: RiskRule): Check {
  switch (condition.type) {
    case 'amount': {
      const { atLeast, below } = condition;
      return ({ amount }) =>
        (atLeast === undefined || amount >= atLeast) && (below === undefined || amount < below)
          ? { amountFen: amount }
          : null;
    }
    case 'account_class': {
      const classes = new Set(condition.classes);
      return ({ event }) =>
        event.accountClass !== undefined && classes.has(event.accountClass)
          ? { accountClass: event.accountClass }
          : null;
    }
    case 'velocity':
      return compileVelocity(condition, condition.kinds ?? rule.appliesTo);
    case 'new_device':
      return ({ event, profile, amount }) => {
        if (event.deviceId === undefined || amount < condition.amountAtLeast) return null;
        return profile?.devices.peek(event.deviceId) ? null : { amountFen: amount, newDevice: true };
      };
    case 'new_payee':
      return ({ event, profile, amount }) => {
        if (event.counterpartyId === undefined || amount < condition.amountAtLeast) return null;
        return profile?.payees.peek(event.counterpartyId) ? null : { amountFen: amount, newPayee: true };
      };
    case 'unusual_hour':
      return compileUnusualHour(condition);
    case 'amount_outlier':
      return compileAmountOutlier(condition);
    case 'list':
      return compileList(condition.list, condition.field);
    case 'all': {
      const checks = condition.conditions.map((child) => compile(child, rule));
      return (context) => {
        const figures: Figures = {};
        for (const check of checks) {
          const found = check(context);
          if (found === null) return null;
          Object.assign(figures, found);
        }
        return figures;
      };
    }
    case 'any': {
      const checks = condition.conditions.map((child) => compile(child, rule));
      return (context) => {
        for (const check of checks) {
          const found = check(context);
          if (found !== null) return found;
        }
        return null;
      };
    }
    case 'not': {
      const check = compile(condition.condition, rule);
      return (context) => (check(context) === null ? {} : null);
    }
  }
}

function compileVelocity(condition: Extract<Condition, { type: 'velocity' }>, kinds: readonly RiskEventKind[]): Check {
  const windowMs = condition.windowSeconds * 1000;
  const series = condition.measure === 'attempts' ? 'attempts' : 'completed';
  return ({ event, state, amount }): Figures | null => {
    const value = dimensionValue(event, condition.dimension);
    if (value === undefined) return null;
    const counted = kinds.includes(event.kind);
    const past = state.window(
      series,
      condition.dimension,
      kinds,
      value,
      event.occurredAtMs - windowMs,
      event.occurredAtMs,
    );
    // The event being judged counts too: the threshold reads "this would be the Nth in the window".
    const count = past.count + (counted ? 1 : 0);
    const total = past.amount + (counted ? amount : 0);
    const observed = condition.measure === 'amount' ? total : count;
    if (observed < condition.atLeast) return null;
    return condition.measure === 'amount'
      ? { windowAmountFen: total, windowSeconds: condition.windowSeconds, dimension: condition.dimension }
      : { windowCount: count, windowSeconds: condition.windowSeconds, dimension: condition.dimension };
  };
}

function compileUnusualHour(condition: Extract<Condition, { type: 'unusual_hour' }>): Check {
  return ({ event, state, profile, amount }) => {
    if (amount < condition.amountAtLeast || !profile || profile.hourTotal < condition.minObservations) return null;
    const hour = state.localHour(event.occurredAtMs);
    const counts = profile.hourCounts;
    // The hour and its neighbours: someone who pays at 22:50 is not unusual at 23:10.
    const near = counts[(hour + 23) % 24]! + counts[hour]! + counts[(hour + 1) % 24]!;
    const share = near / profile.hourTotal;
    if (share >= condition.shareBelow) return null;
    return { hour, hourShare: Math.round(share * 1000) / 1000, observations: profile.hourTotal };
  };
}

function compileAmountOutlier(condition: Extract<Condition, { type: 'amount_outlier' }>): Check {
  return ({ profile, amount }): Figures | null => {
    const statistics = profile?.amountStatistics();
    const observations = statistics?.observations ?? 0;
    if (!statistics || observations < condition.minObservations) {
      return amount >= condition.coldStartAmountAtLeast ? { amountFen: amount, coldStart: true, observations } : null;
    }
    const spread = Math.max(statistics.madLog, MAD_LOG_FLOOR);
    const zScore = (MAD_TO_SIGMA * (Math.log(Math.max(1, amount)) - statistics.medianLog)) / spread;
    if (zScore < condition.zScoreAtLeast) return null;
    return {
      amountFen: amount,
      zScore: Math.round(zScore * 100) / 100,
      typicalAmountFen: Math.round(Math.exp(statistics.medianLog)),
      observations,
    };
  };
}

function compileList(list: string, field: ListField): Check {
  return ({ event, lists }) => {
    const value = event[field];
    return value !== undefined && lists.get(list)?.has(value) ? { list, field } : null;
  };
}
