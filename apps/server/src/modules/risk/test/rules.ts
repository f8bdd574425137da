/** Test helpers: make a rule set the active version of a running RiskService, as an analyst would. */
import { defaultRuleSet, type RiskRuleSetInput, type RiskService } from '../index.js';

type RuleInput = RiskRuleSetInput['rules'][number];

/** Saves `ruleSet` as a draft and activates it; returns the version. */
export async function activateRules(risk: RiskService, ruleSet: RiskRuleSetInput, by = 'test'): Promise<number> {
  const { version } = await risk.saveDraft(ruleSet, by);
  await risk.activate(version, by);
  return version;
}

/** The default rule set without the rules named (and with `extra` rules added). */
export function defaultRulesWithout(ids: readonly string[], extra: RuleInput[] = []): RiskRuleSetInput {
  return {
    lists: { ...defaultRuleSet.lists },
    rules: [...defaultRuleSet.rules.filter((rule) => !ids.includes(rule.id)), ...extra],
  };
}
