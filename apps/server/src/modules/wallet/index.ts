/** The wallet module: balances, transfers between customers, top-ups and withdrawals through the bank. */
import type { AppModule } from '../../platform/module.js';
import { walletRoutes } from './wallet.routes.js';

export { walletMigrations } from './wallet.schema.js';
export {
  WalletService,
  type IdentityPort,
  type CardsPort,
  type MerchantPaymentAuthorization,
  type PaymentCodeCapability,
  riskRefusal,
} from './wallet.service.js';

export const walletModule: AppModule = { name: 'wallet', routes: walletRoutes };
