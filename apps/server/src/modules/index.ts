/**
 * The capability map: every domain module of the API, in registration order. Each lives in
 * `modules/<domain>/` (schema, service, routes, tests; see docs/architecture "Layout") and is added here
 * as it is built: identity, wallet, payments, merchants, onecard, credit, rewards, risk, insight,
 * service, ops.
 */
import type { AppModule } from '../platform/module.js';
import { cardsModule } from './cards/index.js';
import { identityModule } from './identity/index.js';
import { merchantsModule } from './merchants/index.js';
import { paymentsModule } from './payments/index.js';
import { riskModule } from './risk/index.js';
import { walletModule } from './wallet/index.js';

export const modules: readonly AppModule[] = [
  identityModule,
  cardsModule,
  walletModule,
  merchantsModule,
  paymentsModule,
  riskModule,
];
