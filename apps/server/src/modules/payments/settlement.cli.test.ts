/** `yika settlement:verify` as a real process: exit 0 when the files tie, 1 naming the mismatch, 2 on bad usage. */
import { migrate } from '@yika/db';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { serverMigrations } from '../../migrations.js';
import { childDatabase, runCli, type ChildDatabase } from '../../test/processes.js';
import { addDays, localDate, localToUtcMs } from './settlement.dates.js';
import { openSettlementHarness } from './test/settlement.harness.js';

describe('yika settlement:verify', { timeout: 240_000 }, () => {
  let database: ChildDatabase;
  // A closed business date: the ledger stamps with Date.now(), so Date is moved a few days ahead.
  const date = addDays(localDate(Date.now(), 'Asia/Shanghai'), 2);

  beforeAll(async () => {
    database = await childDatabase();
    vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
    vi.setSystemTime(localToUtcMs(date, 23 * 60 + 50, 'Asia/Shanghai'));
    const db = await database.open();
    try {
      await migrate(db, serverMigrations);
      const harness = await openSettlementHarness({}, { db });
      try {
        const merchant = await harness.newMerchant(60, '验证小店');
        const customer = await harness.newCustomer(20_000n);
        await harness.verifyCard(merchant);
        await harness.pay(customer, merchant, 1_234);
        vi.setSystemTime(localToUtcMs(addDays(date, 1), 5, 'Asia/Shanghai'));
        expect((await harness.fixture.services.settlement.run()).settled).toBe(1);
      } finally {
        await harness.close();
      }
    } finally {
      await db.close();
      vi.useRealTimers();
    }
  }, 240_000);

  afterAll(async () => {
    await database?.dispose();
  });

  it('exits 0 when every file ties, and 1 naming the first mismatch after tampering', async () => {
    const ok = await runCli(['settlement:verify'], database.env);
    expect(ok.stderr).toBe('');
    expect(ok.stdout).toContain('settlement OK: 1 file(s) tie to their hash and the ledger');
    expect(ok.code).toBe(0);

    const db = await database.open();
    try {
      await db.query(
        `update settlement_batches set file_csv = replace(file_csv, ',1234' || chr(13), ',1243' || chr(13))`,
      );
    } finally {
      await db.close();
    }
    const tampered = await runCli(['settlement:verify', '--date', date], database.env);
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/^settlement FAILED: 1 of 1 file\(s\) of \d{4}-\d{2}-\d{2} do not tie/);
    expect(tampered.stderr).toContain('the file differs from its SHA-256');
  });

  it('refuses a malformed date and --date on other commands (exit 2)', async () => {
    expect((await runCli(['settlement:verify', '--date', 'yesterday'], database.env)).code).toBe(2);
    expect((await runCli(['ledger:verify', '--date', date], database.env)).code).toBe(2);
  });
});
