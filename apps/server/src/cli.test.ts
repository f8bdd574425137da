/** `yika <command>` as a real process against its own database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl } from '@yika/db/testing';
import { childDatabase, runCli, type ChildDatabase } from './test/processes.js';
import { demoAccountIds } from './demo-data.js';

describe('yika CLI', { timeout: 120_000 }, () => {
  let database: ChildDatabase;
  beforeAll(async () => {
    database = await childDatabase();
  });
  afterAll(async () => {
    await database.dispose();
  });

  it('migrate applies the migrations once and says which', async () => {
    const first = await runCli(['migrate'], database.env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(testDatabaseUrl() ? 'database: PostgreSQL at ' : 'database: PGlite at ');
    expect(first.stdout).toMatch(/^applied ledger\//m);
    expect(first.stdout).toMatch(/migrations: [1-9]\d* applied, 0 already applied/);
    const again = await runCli(['migrate'], database.env);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/migrations: 0 applied, [1-9]\d* already applied/);
  });

  it('seed creates the demo data once; a second run changes nothing', async () => {
    const first = await runCli(['seed'], database.env);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      'demo data: 4 accounts created, 0 already present; 4 transfers created, 0 already present',
    );
    const second = await runCli(['seed'], database.env);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain(
      'demo data: 0 accounts created, 4 already present; 0 transfers created, 4 already present',
    );
  });

  it('ledger:verify reports a sound ledger and exits 0', async () => {
    const result = await runCli(['ledger:verify'], database.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /ledger OK: 4 accounts, 4 transfers \(ledger 156: posted 161388\/161388, pending 0\/0\)/,
    );
  });

  it('ledger:verify prints each violation and exits 1 when a balance was tampered with', async () => {
    const db = await database.open();
    try {
      await db.query('update ledger_accounts set credits_posted = credits_posted + 1 where id = $1', [
        demoAccountIds.alice,
      ]);
    } finally {
      await db.close();
    }
    const result = await runCli(['ledger:verify'], database.env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^ledger FAILED: \d+ violation\(s\)/);
    expect(result.stderr).toContain(`account ${demoAccountIds.alice}: credits_posted is`);
    expect(result.stderr).toMatch(/ledger 156: posted debits \d+ ≠ posted credits \d+/);
  });

  it('an unknown command prints the usage to stderr and exits 2', async () => {
    const result = await runCli(['frobnicate'], database.env);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('unknown command: frobnicate');
    expect(result.stderr).toContain('Usage: yika <command>');
  });

  it('help prints the usage to stdout and exits 0', async () => {
    const result = await runCli(['help'], database.env);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('ledger:verify');
  });

  it('a bad environment variable stops it with one line and exit 1', async () => {
    const result = await runCli(['migrate'], { ...database.env, DATABASE_POOL_SIZE: 'lots' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'Configuration error: DATABASE_POOL_SIZE must be an integer between 1 and 1000 (got "lots")\n',
    );
  });
});
