/**
 * Every schema migration of the server, in the order they run. main, the CLI and /readyz all read this
 * list, so "pending" means the same thing everywhere. Append a module's migrations when it gains tables.
 */
import type { Migration } from '@yika/db';
import { ledgerMigrations } from '@yika/ledger';
import { cardsMigrations } from './modules/cards/index.js';
import { identityMigrations } from './modules/identity/identity.schema.js';
import { merchantsMigrations } from './modules/merchants/index.js';
import { paymentsMigrations } from './modules/payments/index.js';
import { riskMigrations } from './modules/risk/index.js';
import { walletMigrations } from './modules/wallet/index.js';
import { idempotencyMigrations } from './platform/idempotency.js';
import { outboxMigrations } from './platform/outbox.js';
import { auditMigrations } from './platform/audit.js';

export const serverMigrations: readonly Migration[] = [
  ...ledgerMigrations,
  ...idempotencyMigrations,
  ...identityMigrations,
  ...cardsMigrations,
  ...walletMigrations,
  ...outboxMigrations,
  ...merchantsMigrations,
  ...paymentsMigrations,
  ...auditMigrations,
  ...riskMigrations,
];
