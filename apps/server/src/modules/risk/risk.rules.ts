/**
 * Rules are data: a rule set is JSON, validated here with Zod before it is stored or run. A rule names the
 * event kinds it applies to, a condition, a decision and a reason in zh-CN and en. Errors name the rule
 * (by id and position) and the field, so the console can show them next to the editor.
 */
import { z } from 'zod';
import { DomainError } from '../../platform/errors.js';

export const eventKinds = ['top_up', 'withdrawal', 'p2p_transfer', 'qr_payment', 'code_payment', 'refund'] as const;
export type RiskEventKind = (typeof eventKinds)[number];

/** Kinds where money leaves the customer: these feed the customer's amount history. */
export const outgoingKinds: readonly RiskEventKind[] = ['withdrawal', 'p2p_transfer', 'qr_payment', 'code_payment'];

/** Strongest last: the strongest decision among the hits wins. */
export const decisions = ['allow', 'challenge', 'review', 'deny'] as const;
export type RiskDecision = (typeof decisions)[number];
export const decisionStrength: Readonly<Record<RiskDecision, number>> = { allow: 0, challenge: 1, review: 2, deny: 3 };

/** Who a velocity counter is kept for. */
export const velocityDimensions = ['customer', 'device', 'ip', 'card', 'merchant', 'counterparty'] as const;
export type VelocityDimension = (typeof velocityDimensions)[number];

/** Event fields a list can be matched against. */
export const listFields = [
  'phone',
  'counterpartyPhone',
  'deviceId',
  'cardFingerprint',
  'merchantId',
  'ip',
  'counterpartyId',
] as const;
export type ListField = (typeof listFields)[number];

/** Longest velocity window: the in-memory history keeps at least this much. */
export const WINDOW_SECONDS_MAX = 7 * 86_400;
/** Fen in one threshold: far above any limit; a JSON number stays exact below 2^53. */
const FEN_MAX = 100_000_000_000;
const RULES_MAX = 500;
const LIST_ENTRIES_MAX = 100_000;
const COMPOSITE_CHILDREN_MAX = 20;

const fen = z.number().int().min(0).max(FEN_MAX);
const kindList = z.array(z.enum(eventKinds)).min(1);

export type Condition =
  | { type: 'amount'; atLeast?: number | undefined; below?: number | undefined }
  | { type: 'account_class'; classes: ('I' | 'II' | 'III')[] }
  | {
      type: 'velocity';
      dimension: VelocityDimension;
      /** completed: money that moved; attempts: every evaluated event, refused ones too. */
      measure: 'count' | 'amount' | 'attempts';
      windowSeconds: number;
      /** Counts (or fen) including the event being judged. */
      atLeast: number;
      /** Which kinds are counted; defaults to the rule's `appliesTo`. */
      kinds?: RiskEventKind[] | undefined;
    }
  | { type: 'new_device'; amountAtLeast: number }
  | { type: 'new_payee'; amountAtLeast: number }
  | { type: 'unusual_hour'; minObservations: number; shareBelow: number; amountAtLeast: number }
  | {
      type: 'amount_outlier';
      zScoreAtLeast: number;
      minObservations: number;
      /** Below `minObservations` the customer has no history to compare with: this amount decides instead. */
      coldStartAmountAtLeast: number;
    }
  | { type: 'list'; list: string; field: ListField }
  | { type: 'all'; conditions: Condition[] }
  | { type: 'any'; conditions: Condition[] }
  | { type: 'not'; condition: Condition };

const leafConditions = [
  z
    .object({ type: z.literal('amount'), atLeast: fen.optional(), below: fen.optional() })
    .strict()
    .refine((c) => c.atLeast !== undefined || c.below !== undefined, 'give atLeast, below or both'),
  z.object({ type: z.literal('account_class'), classes: z.array(z.enum(['I', 'II', 'III'])).min(1) }).strict(),
  z
    .object({
      type: z.literal('velocity'),
      dimension: z.enum(velocityDimensions),
      measure: z.enum(['count', 'amount', 'attempts']),
      windowSeconds: z.number().int().min(1).max(WINDOW_SECONDS_MAX),
      atLeast: z.number().int().min(1).max(FEN_MAX),
      kinds: kindList.optional(),
    })
    .strict(),
  z.object({ type: z.literal('new_device'), amountAtLeast: fen }).strict(),
  z.object({ type: z.literal('new_payee'), amountAtLeast: fen }).strict(),
  z
    .object({
      type: z.literal('unusual_hour'),
      minObservations: z.number().int().min(1).max(10_000),
      shareBelow: z.number().gt(0).max(1),
      amountAtLeast: fen,
    })
    .strict(),
  z
    .object({
      type: z.literal('amount_outlier'),
      zScoreAtLeast: z.number().gt(0).max(100),
      minObservations: z.number().int().min(3).max(1_000),
      coldStartAmountAtLeast: fen,
    })
    .strict(),
  z
    .object({
      type: z.literal('list'),
      list: z.string().regex(/^[a-z][a-z0-9_]*$/),
      field: z.enum(listFields),
    })
    .strict(),
] as const;

export const conditionSchema: z.ZodType<Condition> = z.lazy(() =>
  z.discriminatedUnion('type', [
    ...leafConditions,
    z
      .object({ type: z.literal('all'), conditions: z.array(conditionSchema).min(1).max(COMPOSITE_CHILDREN_MAX) })
      .strict(),
    z
      .object({ type: z.literal('any'), conditions: z.array(conditionSchema).min(1).max(COMPOSITE_CHILDREN_MAX) })
      .strict(),
    z.object({ type: z.literal('not'), condition: conditionSchema }).strict(),
  ]),
);

const localizedText = z
  .object({ 'zh-CN': z.string().trim().min(1).max(200), en: z.string().trim().min(1).max(200) })
  .strict();

export const ruleSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, 'lower-case letters, digits and _, starting with a letter'),
    name: z.string().trim().min(1).max(120),
    enabled: z.boolean().default(true),
    appliesTo: kindList,
    when: conditionSchema,
    decision: z.enum(decisions),
    /**
     * `decide` (default): a hit asks for `decision`. `soften`: a hit caps other hits at `decision` (e.g. a
     * trusted payee turns a new-payee challenge into allow); `softens` limits it to those rule ids.
     */
    effect: z.enum(['decide', 'soften']).default('decide'),
    softens: z.array(z.string()).min(1).optional(),
    /** Hard rules (blocked lists) are never softened. */
    hard: z.boolean().default(false),
    reason: z.object({ code: z.string().regex(/^[a-z][a-z0-9_]*$/, 'snake_case'), text: localizedText }).strict(),
  })
  .strict();

export const ruleSetSchema = z
  .object({
    /** Named lists of values (blocked devices, trusted payees, …), referenced by `list` conditions. */
    lists: z
      .record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.array(z.string().min(1)).max(LIST_ENTRIES_MAX))
      .default({}),
    rules: z.array(ruleSchema).max(RULES_MAX),
  })
  .strict();

export type RiskRule = z.output<typeof ruleSchema>;
export type RiskRuleSet = z.output<typeof ruleSetSchema>;
/** What a rule set looks like before defaults are filled in (what the console sends). */
export type RiskRuleSetInput = z.input<typeof ruleSetSchema>;

export interface RuleIssue {
  /** The rule's id when the issue is inside a rule, else null. */
  ruleId: string | null;
  /** e.g. `rules[3].when.conditions[0].windowSeconds` */
  path: string;
  message: string;
}

export class RiskRulesInvalidError extends DomainError {
  readonly issues: readonly RuleIssue[];
  constructor(issues: RuleIssue[]) {
    super({
      code: 'risk_rules_invalid',
      status: 422,
      title: 'Rule set is not valid',
      detail: issues.map(describeIssue).join('; '),
      extensions: { issues },
    });
    this.issues = issues;
  }
}

function describeIssue(issue: RuleIssue): string {
  return `${issue.ruleId === null ? '' : `rule "${issue.ruleId}": `}${issue.path}: ${issue.message}`;
}

function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

function ruleIdAt(input: unknown, index: number): string {
  if (typeof input !== 'object' || input === null) return `#${index}`;
  const rules = (input as { rules?: unknown }).rules;
  const rule: unknown = Array.isArray(rules) ? rules[index] : undefined;
  const id = typeof rule === 'object' && rule !== null ? (rule as { id?: unknown }).id : undefined;
  return typeof id === 'string' ? id : `#${index}`;
}

/** Validates a rule set: the JSON shape, then what Zod cannot see (unique ids, lists and rules referenced). */
export function parseRuleSet(input: unknown): RiskRuleSet {
  const parsed = ruleSetSchema.safeParse(input);
  if (!parsed.success) {
    throw new RiskRulesInvalidError(
      parsed.error.issues.map((issue) => {
        const inRule = issue.path[0] === 'rules' && typeof issue.path[1] === 'number';
        return {
          ruleId: inRule ? ruleIdAt(input, issue.path[1] as number) : null,
          path: formatPath(issue.path),
          message: issue.message,
        };
      }),
    );
  }
  const ruleSet = parsed.data;
  const issues: RuleIssue[] = [];
  const ids = new Set<string>();
  ruleSet.rules.forEach((rule, index) => {
    if (ids.has(rule.id)) issues.push({ ruleId: rule.id, path: `rules[${index}].id`, message: 'duplicate rule id' });
    ids.add(rule.id);
  });
  ruleSet.rules.forEach((rule, index) => {
    for (const list of listsIn(rule.when)) {
      if (!(list in ruleSet.lists)) {
        issues.push({ ruleId: rule.id, path: `rules[${index}].when`, message: `unknown list "${list}"` });
      }
    }
    for (const softened of rule.softens ?? []) {
      if (!ids.has(softened)) {
        issues.push({ ruleId: rule.id, path: `rules[${index}].softens`, message: `unknown rule "${softened}"` });
      }
    }
    if (rule.softens && rule.effect !== 'soften') {
      issues.push({ ruleId: rule.id, path: `rules[${index}].softens`, message: 'only a soften rule softens' });
    }
  });
  if (issues.length > 0) throw new RiskRulesInvalidError(issues);
  return ruleSet;
}

function listsIn(condition: Condition): string[] {
  if (condition.type === 'list') return [condition.list];
  if (condition.type === 'all' || condition.type === 'any') return condition.conditions.flatMap(listsIn);
  if (condition.type === 'not') return listsIn(condition.condition);
  return [];
}

/** The longest velocity window a rule set uses, in seconds (at least 24 hours). */
export function longestWindowSeconds(ruleSet: RiskRuleSet): number {
  const windows = (condition: Condition): number[] => {
    if (condition.type === 'velocity') return [condition.windowSeconds];
    if (condition.type === 'all' || condition.type === 'any') return condition.conditions.flatMap(windows);
    if (condition.type === 'not') return windows(condition.condition);
    return [];
  };
  return Math.max(86_400, ...ruleSet.rules.flatMap((rule) => windows(rule.when)));
}
