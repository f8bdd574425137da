/**
 * Payments: merchant-presented QR codes (EMVCo MPM), customer-presented payment codes, online checkout
 * orders, payments and refunds.
 */
import type { Migration } from '@yika/db';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { EncryptedColumn } from '../../platform/key-rotation.js';
import type { AppModule, ModuleContext } from '../../platform/module.js';
import { paymentCodesMigrations } from './payment-codes.schema.js';
import { paymentCodesRoutes } from './payment-codes.routes.js';
import { paymentsMigrations as orderMigrations } from './payments.schema.js';
import { paymentsRoutes } from './payments.routes.js';
import { reportingRoutes } from './reporting.routes.js';
import { settlementMigrations } from './settlement.schema.js';
import { settlementRoutes } from './settlement.routes.js';

export const paymentsMigrations: Migration[] = [...orderMigrations, ...paymentCodesMigrations, ...settlementMigrations];
export {
  PaymentsService,
  PaymentTransferCode,
  orderReference,
  type PaymentView,
  type RefundView,
  type OrderView,
} from './payments.service.js';
export { feeFor, refundFeeShare } from './fees.js';
export { buildYikaMpm, parseMpm, EmvcoError, YIKA_GUID } from './emvco.js';

export {
  PaymentCodesService,
  type ChargeView,
  type ConfirmationView,
  type Enrolment,
} from './payment-codes.service.js';
export { paymentCode, parsePaymentCode, totp } from './payment-codes.totp.js';
export {
  SettlementService,
  SettlementTransferCode,
  type SettlementView,
  type SettlementAccountView,
  type RunReport as SettlementRunReport,
} from './settlement.service.js';
export { ReportingService, type MerchantSummary, type PaymentFilters } from './reporting.service.js';
export { isBusinessDate, type BusinessCalendar } from './settlement.dates.js';

/** What `yika keys:reencrypt` re-encrypts in this module; contexts as the services encrypt them. */
export const paymentsEncryptedColumns: readonly EncryptedColumn[] = [
  { table: 'payment_code_devices', column: 'secret_ciphertext', context: (row) => `payment-code:${row.id}` },
  ...(['merchant_settlement_verifications', 'merchant_settlement_accounts'] as const).flatMap((table) => [
    {
      table,
      column: 'card_number_enc',
      context: (row: Readonly<Record<string, string>>) => `settlement-card:${row.id}`,
    },
    {
      table,
      column: 'holder_name_enc',
      context: (row: Readonly<Record<string, string>>) => `settlement-holder:${row.id}`,
    },
  ]),
  { table: 'merchant_settlement_accounts', column: 'bank_token_enc', context: (row) => `settlement-token:${row.id}` },
];

const routes: FastifyPluginAsyncZod<ModuleContext> = async (app, { config, db, ledger, services }) => {
  // Only the context: the options also carry the `/v1` prefix, which must not be applied twice.
  const context: ModuleContext = { config, db, ledger, services };
  await app.register(paymentsRoutes, context);
  await app.register(paymentCodesRoutes, context);
  await app.register(settlementRoutes, context);
  await app.register(reportingRoutes, context);
};

export const paymentsModule: AppModule = { name: 'payments', routes };
