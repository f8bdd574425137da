/**
 * Every schema migration of the server, in the order they run. main, the CLI and /readyz all read this
 * list, so "pending" means the same thing everywhere. Append a module's migrations when it gains tables.
 */
import type { Migration } from '@yika/db';
import { ledgerMigrations } from '@yika/ledger';
import { identityMigrations } from './modules/identity/identity.schema.js';

export const serverMigrations: readonly Migration[] = [...ledgerMigrations, ...identityMigrations];
