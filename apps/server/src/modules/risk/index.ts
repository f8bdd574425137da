/**
 * The risk module's front door: real-time decisions (allow / challenge / review / deny, with reasons in
 * zh-CN and en) for every money movement, rules as versioned data with dry-run, and the events table.
 * Wiring (services.ts, migrations.ts, the wallet's flows) is described in docs/adr/0010.
 */
export {
  RiskService,
  RiskError,
  type RiskEvaluation,
  type RiskServiceOptions,
  type DryRunReport,
  type DryRunExample,
  type RuleVersionSummary,
} from './risk.service.js';
export type { RiskAssessment, RiskReason, RuleHit, LocalizedText, Figures } from './risk.engine.js';
export type { RiskEvent, RiskStateLimits } from './risk.state.js';
export {
  RiskRulesInvalidError,
  parseRuleSet,
  eventKinds,
  decisions,
  type RiskDecision,
  type RiskEventKind,
  type RiskRule,
  type RiskRuleSet,
  type RiskRuleSetInput,
  type Condition,
  type RuleIssue,
} from './risk.rules.js';
export type { RiskOutcome } from './risk.store.js';
export { defaultRuleSet } from './risk.default-rules.js';
export { riskMigrations } from './risk.schema.js';
export {
  resolveHolds,
  RiskReviewError,
  REVIEWS_PAGE_MAX,
  type ReviewHandler,
  type ReviewView,
  type ReviewStatus,
  type ReviewFilter,
} from './risk.reviews.js';

import type { AppModule } from '../../platform/module.js';
import { riskRoutes } from './risk.routes.js';

/** The interim ops routes of the review queue (`/v1/ops/risk/*`). */
export const riskModule: AppModule = { name: 'risk', routes: riskRoutes };
