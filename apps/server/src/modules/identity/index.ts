/**
 * The identity module's front door: other modules import only this file. The service they need is
 * `IdentityService` (getCustomer, findCustomerByPhone, assertCanMoveMoney, verifyPaymentPin, limitsFor,
 * requireStepUp, closeAccount, …); the routes are registered by modules/index.ts.
 */
import type { AppModule } from '../../platform/module.js';
import { identityRoutes } from './identity.routes.js';

export {
  IdentityService,
  identityEncryptedColumns,
  type AccountClass,
  type AuthenticatedSession,
  type Customer,
  type CustomerStatus,
  type Limits,
  type RequestMeta,
} from './identity.service.js';
export type { StepUpProof } from './identity.factors.js';
export { stepUpProofSchema } from './identity.routes.js';
export { IdentityError } from './identity.errors.js';
export { identityMigrations } from './identity.schema.js';

export const identityModule: AppModule = { name: 'identity', routes: identityRoutes };
