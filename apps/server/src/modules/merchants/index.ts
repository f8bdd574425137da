/** Merchants: onboarding and review, ledger accounts, API keys, webhook endpoints and deliveries. */
import type { AppModule } from '../../platform/module.js';
import { merchantsRoutes } from './merchants.routes.js';

export { merchantsMigrations } from './merchants.schema.js';
export {
  MerchantsService,
  MerchantError,
  merchantNotActive,
  type MerchantView,
  type MerchantStatus,
  type MerchantDecision,
} from './merchants.service.js';
export { WebhookService, signWebhook, retryDelayMs, SIGNATURE_HEADER, type DeliveryView } from './webhooks.js';
export { CNY, FEE_INCOME_ACCOUNT_ID, merchantSettlementAccountId } from './chart.js';

export const merchantsModule: AppModule = { name: 'merchants', routes: merchantsRoutes };
