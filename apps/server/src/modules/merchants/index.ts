/** Merchants: onboarding and review, ledger accounts, API keys, webhook endpoints and deliveries, stores and staff. */
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
  type MemberView,
  type MembershipView,
  type StoreView,
} from './merchants.service.js';
export { WebhookService, signWebhook, retryDelayMs, SIGNATURE_HEADER, type DeliveryView } from './webhooks.js';
export { CNY, FEE_INCOME_ACCOUNT_ID, merchantSettlementAccountId } from './chart.js';
export { notifyUrlGuard } from './url-guard.js';

export const merchantsModule: AppModule = { name: 'merchants', routes: merchantsRoutes };
