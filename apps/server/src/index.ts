/** The server as a library: for tests, tools and other processes that embed the API. */
export { buildApp, DEFAULT_WEB_DIST_DIR, type App, type AppDeps } from './app.js';
export {
  ConfigError,
  configReference,
  configReferenceMarkdown,
  loadConfig,
  type Config,
  type ConfigReferenceRow,
} from './config.js';
export { demoAccountIds, demoDataPresent, seedDemoData, type SeedReport } from './demo-data.js';
export { serverMigrations } from './migrations.js';
export { openConfiguredDatabase } from './platform/database.js';
export { DomainError, NotFoundError, PlatformError, problemSchema, type Problem } from './platform/errors.js';
export { API_PREFIX, type AppModule, type ModuleContext } from './platform/module.js';
export { createShutdown, type ShutdownDeps } from './platform/shutdown.js';
export { buildServices, type Services } from './services.js';
export { createLogger } from './platform/logger.js';
export type { SmsMessage, SmsSender } from './platform/sms.js';
export { paymentCode } from './modules/payments/index.js';
export { defaultRuleSet, RiskService } from './modules/risk/index.js';
