export { Ledger, SWEEP_LIMIT_MAX, type LedgerOptions } from './ledger.js';
export { ledgerMigrations } from './schema.js';
export { verifyLedger, type LedgerVerification } from './verify.js';
export { newId, transferId, accountIdFor, expiryTransferId, isUuid } from './ids.js';
export { InvariantViolation, invariant } from './invariant.js';
export {
  InvalidCursorError,
  LOOKUP_IDS_MAX,
  PAGE_LIMIT_MAX,
  type TransferPage,
  type AccountTransfersQuery,
} from './queries.js';
export type { CloseAccountResult } from './accounts.js';
export * from './types.js';
