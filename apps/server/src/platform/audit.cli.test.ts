/** `yika audit:verify` and `yika keys:reencrypt` as real processes against their own database. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DATA_ENCRYPTION_KEYS, loadConfig } from '../config.js';
import { childDatabase, runCli, type ChildDatabase } from '../test/processes.js';
import { AuditTrail } from './audit.js';
import { DataCipher } from './crypto.js';

describe('yika audit:verify and keys:reencrypt', { timeout: 240_000 }, () => {
  let database: ChildDatabase;
  beforeAll(async () => {
    database = await childDatabase();
    expect((await runCli(['migrate'], database.env)).code).toBe(0);
  }, 240_000);
  afterAll(async () => {
    await database.dispose();
  });

  it('audit:verify exits 0 on an intact chain and 1 naming the first broken record', async () => {
    const db = await database.open();
    try {
      const audit = new AuditTrail({ db, cipher: DataCipher.fromConfig(loadConfig({ NODE_ENV: 'test' })) });
      for (const id of ['a', 'b', 'c']) {
        await audit.recordNow({
          action: 'identity.signed_in',
          actor: { type: 'customer', id },
          subject: { type: 'customer', id },
        });
      }
    } finally {
      await db.close();
    }
    const intact = await runCli(['audit:verify'], database.env);
    expect(intact.stderr).toBe('');
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/audit trail OK: 3 records, head seq 3 hash [0-9a-f]{64}/);

    const tamper = await database.open();
    try {
      await tamper.exec('drop trigger audit_records_no_update_delete on audit_records');
      await tamper.query(`update audit_records set actor_id = 'z' where seq = 2`);
    } finally {
      await tamper.close();
    }
    const broken = await runCli(['audit:verify'], database.env);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toMatch(/^audit trail BROKEN at record 2: hash_mismatch \(1 records intact before it; /);
  });

  it('keys:reencrypt reports each registered column and the keys in use', async () => {
    const result = await runCli(['keys:reencrypt'], {
      ...database.env,
      DATA_ENCRYPTION_KEYS: `k9:${Buffer.alloc(32, 9).toString('base64')},${DEV_DATA_ENCRYPTION_KEYS}`,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('re-encrypting under key k9');
    expect(result.stdout).toContain('identity_customers.id_number_ciphertext: 0 re-encrypted, 0 changed concurrently');
    expect(result.stdout).toContain('every value is under the current key k9');
  });
});
