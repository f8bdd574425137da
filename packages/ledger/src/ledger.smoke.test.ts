import { afterAll, beforeAll, expect, it } from 'vitest';
import { newId } from './ids.js';
import { createAccounts, CNY, openLedger, plain, wallet, type LedgerFixture } from './test/fixtures.js';

let fx: LedgerFixture;
beforeAll(async () => {
  fx = await openLedger();
});
afterAll(async () => fx.close());

it('moves money and keeps the invariant', async () => {
  const [bank, alice] = await createAccounts(fx.ledger, [plain, wallet]);
  const r = await fx.ledger.submit([{ id: newId(), debitAccountId: bank!, creditAccountId: alice!, amount: 100n, ledger: CNY, code: 1 }]);
  expect(r[0]!.result).toBe('ok');
  const [a] = await fx.ledger.lookupAccounts([alice!]);
  expect(a!.creditsPosted).toBe(100n);
  expect((await fx.ledger.verify()).violations).toEqual([]);
});
