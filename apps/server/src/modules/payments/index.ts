/** Payments: merchant-presented QR codes (EMVCo MPM), online checkout orders, payments and refunds. */
import type { AppModule } from '../../platform/module.js';
import { paymentsRoutes } from './payments.routes.js';

export { paymentsMigrations } from './payments.schema.js';
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

export const paymentsModule: AppModule = { name: 'payments', routes: paymentsRoutes };
