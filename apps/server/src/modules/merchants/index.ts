/** Merchants: onboarding and review, ledger accounts, API keys, webhook endpoints and deliveries, stores and staff. */
import type { EncryptedColumn } from '../../platform/key-rotation.js';
import type { AppModule } from '../../platform/module.js';
import { notifyKeySecretContext, webhookSecretContext } from './merchants.service.js';
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

/** What `yika keys:reencrypt` re-encrypts in this module (platform/key-rotation.ts). */
export const merchantsEncryptedColumns: readonly EncryptedColumn[] = [
  { table: 'merchant_webhook_endpoints', column: 'secret_ciphertext', context: (row) => webhookSecretContext(row.id!) },
  {
    table: 'merchant_notify_keys',
    column: 'secret_ciphertext',
    keyColumn: 'merchant_id',
    context: (row) => notifyKeySecretContext(row.merchant_id!),
  },
];

export const merchantsModule: AppModule = { name: 'merchants', routes: merchantsRoutes };
