/** Shared set-up for ledger tests: a migrated throwaway database and small builders. */
import { migrate, type Database } from '@yika/db';
import { openTestDatabase } from '@yika/db/testing';
import { Ledger, type LedgerOptions } from '../ledger.js';
import { newId } from '../ids.js';
import { ledgerMigrations } from '../schema.js';
import { AccountFlags, type AccountInput } from '../types.js';

export const CNY = 156;
export const USD = 840;

export interface LedgerFixture {
  db: Database;
  ledger: Ledger;
  close(): Promise<void>;
}

export async function openLedger(options: LedgerOptions = {}): Promise<LedgerFixture> {
  const db = await openTestDatabase();
  await migrate(db, ledgerMigrations);
  const ledger = new Ledger(db, options);
  return {
    db,
    ledger,
    async close() {
      await ledger.close();
      await db.close();
    },
  };
}

/** Creates accounts and returns their ids; fails the test if any creation is refused. */
export async function createAccounts(ledger: Ledger, accounts: Partial<AccountInput>[]): Promise<string[]> {
  const inputs = accounts.map((account) => ({ id: newId(), ledger: CNY, code: 1, ...account }));
  const results = await ledger.createAccounts(inputs);
  const refused = results.filter((result) => result.result !== 'ok');
  if (refused.length > 0) throw new Error(`account creation refused: ${JSON.stringify(refused)}`);
  return inputs.map((input) => input.id);
}

export const wallet = { flags: AccountFlags.debitsMustNotExceedCredits };
export const plain = { flags: AccountFlags.none };
