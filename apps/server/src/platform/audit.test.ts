/** The audit trail: appends in the caller's transaction, a linear chain under concurrency, tampering found. */
import { randomBytes } from 'node:crypto';
import { migrate, type Database } from '@yika/db';
import { openTestDatabase } from '@yika/db/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withRequestId } from './audit-context.js';
import {
  AUDIT_APPEND_ONLY_SQL,
  AuditEntryError,
  AuditTrail,
  auditMigrations,
  maskIp,
  maskPhone,
  recordHash,
  type AuditEntry,
} from './audit.js';
import { DataCipher, parseKeyRing } from './crypto.js';

const cipher = new DataCipher(parseKeyRing(`k1:${randomBytes(32).toString('base64')}`), randomBytes(32));
let db: Database;

beforeAll(async () => {
  db = await openTestDatabase();
  await migrate(db, auditMigrations);
});

afterAll(async () => {
  await db.close();
});

/** An empty chain (one database for the file: opening one per test is slow), then `records` appends. */
async function freshTrail(records = 0): Promise<{ db: Database; audit: AuditTrail }> {
  await db.exec(`drop trigger if exists audit_records_no_update_delete on audit_records;
    drop trigger if exists audit_records_no_truncate on audit_records;
    truncate audit_records;
    update audit_chain_head set seq = 0, hash = '${'0'.repeat(64)}', mac = null;
    ${AUDIT_APPEND_ONLY_SQL}`);
  const audit = new AuditTrail({ db, cipher });
  for (let index = 1; index <= records; index += 1) await audit.recordNow(entry(index));
  return { db, audit };
}

function entry(index: number): AuditEntry {
  return {
    action: 'identity.pin_changed',
    actor: { type: 'customer', id: `customer-${index % 3}` },
    subject: { type: 'customer', id: `customer-${index % 3}` },
    before: { attempt: index },
    after: { attempt: index + 1 },
  };
}

/** Tampering needs the append-only triggers out of the way, as an attacker with DDL rights would. */
async function dropTriggers(): Promise<void> {
  await db.exec(`drop trigger audit_records_no_update_delete on audit_records;
    drop trigger audit_records_no_truncate on audit_records;`);
}

describe('audit trail', () => {
  it('appends a numbered, chained record with actor, subject, request id and before/after', async () => {
    const { audit } = await freshTrail();
    const first = await audit.recordNow({
      action: 'identity.frozen',
      actor: { type: 'staff', id: 'staff-7' },
      subject: { type: 'customer', id: 'c-1' },
      requestId: 'req-1',
      before: { status: 'active' },
      after: { status: 'frozen', frozenBy: 'operations' },
      detail: { reason: 'lost phone' },
    });
    const second = await withRequestId('req-from-context', () => audit.recordNow(entry(2)));
    expect(first.seq).toBe(1n);
    expect(second.seq).toBe(2n);
    const [latest, earliest] = await audit.list();
    expect(earliest).toMatchObject({
      seq: 1n,
      action: 'identity.frozen',
      actor: { type: 'staff', id: 'staff-7' },
      subject: { type: 'customer', id: 'c-1' },
      requestId: 'req-1',
      before: { status: 'active' },
      after: { frozenBy: 'operations', status: 'frozen' },
      detail: { reason: 'lost phone' },
      prevHash: '0'.repeat(64),
      hash: first.hash,
    });
    expect(latest).toMatchObject({ seq: 2n, requestId: 'req-from-context', prevHash: first.hash });
    expect(await audit.list({ subject: { type: 'customer', id: 'c-1' } })).toHaveLength(1);
    expect(await audit.list({ actor: { type: 'customer', id: 'customer-2' } })).toHaveLength(1);
    expect(await audit.list({ beforeSeq: 2n })).toHaveLength(1);
    expect(await audit.verify()).toMatchObject({ ok: true, records: 2, head: { seq: 2n, hash: second.hash } });
  });

  it('never stores secrets or plain personal data under their usual names', async () => {
    const { audit } = await freshTrail();
    await audit.recordNow({
      action: 'cards.bound',
      actor: { type: 'customer', id: 'c-1' },
      subject: { type: 'card', id: 'card-1' },
      detail: { pin: '135790', nested: { cardNumber: '6222020000000000', phone: '+8613800138000' }, last4: '0000' },
    });
    const [record] = await audit.list();
    expect(record!.detail).toEqual({
      last4: '0000',
      nested: { cardNumber: '[redacted]', phone: '[redacted]' },
      pin: '[redacted]',
    });
    expect(maskPhone('+8613800138000')).toBe('+86138****8000');
    expect(maskIp('10.1.2.3')).toBe('10.1.2.0/24');
    expect(maskIp('2001:db8:1:2::7')).toBe('2001:db8:1::/48');
  });

  it('refuses malformed entries and oversized fields (programmer errors) without touching the chain', async () => {
    const { audit } = await freshTrail(1);
    const bad: AuditEntry[] = [
      { ...entry(1), action: 'NotDotted' },
      { ...entry(1), actor: { type: 'customer', id: '' } },
      { ...entry(1), subject: { type: 'Bad Type', id: 'x' } },
      { ...entry(1), detail: { blob: 'x'.repeat(9_000) } },
    ];
    for (const item of bad) await expect(audit.recordNow(item)).rejects.toThrow(AuditEntryError);
    expect(await audit.verify()).toMatchObject({ ok: true, records: 1 });
  });

  it('commits and rolls back with the action: a rolled-back record leaves no gap', async () => {
    const { audit } = await freshTrail(1);
    await expect(
      db.transaction(async (tx) => {
        await audit.record(tx, entry(2));
        throw new Error('the action failed');
      }),
    ).rejects.toThrow('the action failed');
    await audit.recordNow(entry(3));
    const report = await audit.verify();
    expect(report).toMatchObject({ ok: true, records: 2, head: { seq: 2n } });
  });

  it('the table refuses UPDATE, DELETE and TRUNCATE', async () => {
    await freshTrail(2);
    await expect(db.query(`update audit_records set action = 'x.y' where seq = 1`)).rejects.toThrow(/append-only/);
    await expect(db.query('delete from audit_records where seq = 2')).rejects.toThrow(/append-only/);
    await expect(db.query('truncate audit_records')).rejects.toThrow(/append-only/);
  });

  it('4 × 50 concurrent appends make one unbroken chain', { timeout: 60_000 }, async () => {
    const { audit } = await freshTrail();
    await Promise.all(
      [0, 1, 2, 3].map(async (worker) => {
        for (let index = 0; index < 50; index += 1) await audit.recordNow(entry(worker * 100 + index));
      }),
    );
    const report = await audit.verify({ batchSize: 7 });
    expect(report).toMatchObject({ ok: true, records: 200, head: { seq: 200n } });
  });

  describe('audit:verify finds the first broken record', () => {
    it('an edited field', async () => {
      const { audit } = await freshTrail(10);
      await dropTriggers();
      await db.query(`update audit_records set after_json = '{"attempt":99}' where seq = 4`);
      expect(await audit.verify({ batchSize: 3 })).toMatchObject({
        ok: false,
        records: 3,
        firstBroken: { seq: 4n, reason: 'hash_mismatch' },
      });
    });

    it('an edited field whose hash was recomputed without the key', async () => {
      const { audit } = await freshTrail(10);
      await dropTriggers();
      // The attacker knows the hash rule (it is public) but not the MAC key.
      const [target] = await audit.list({ beforeSeq: 7n, limit: 1 });
      const forged = recordHash({
        id: target!.id,
        seq: 6n,
        prevHash: target!.prevHash,
        occurredAt: target!.occurredAt,
        action: target!.action,
        actorType: 'staff',
        actorId: target!.actor.id,
        subjectType: target!.subject.type,
        subjectId: target!.subject.id,
        requestId: target!.requestId,
        beforeJson: JSON.stringify(target!.before),
        afterJson: JSON.stringify(target!.after),
        detailJson: null,
      });
      await db.query(`update audit_records set actor_type = 'staff', hash = $1 where seq = 6`, [forged]);
      expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 6n, reason: 'mac_mismatch' } });
    });

    it('a deleted record', async () => {
      const { audit } = await freshTrail(10);
      await dropTriggers();
      await db.query('delete from audit_records where seq = 5');
      expect(await audit.verify({ batchSize: 4 })).toMatchObject({
        ok: false,
        records: 4,
        firstBroken: { seq: 5n, reason: 'missing' },
      });
    });

    it('two records whose contents were swapped (reordered)', async () => {
      const { audit } = await freshTrail(10);
      await dropTriggers();
      const columns = [
        'occurred_at',
        'action',
        'actor_type',
        'actor_id',
        'subject_type',
        'subject_id',
        'request_id',
        'before_json',
        'after_json',
        'detail_json',
        'prev_hash',
        'hash',
        'mac',
      ];
      await db.query(
        `update audit_records a set ${columns.map((column) => `${column} = b.${column}`).join(', ')}
           from audit_records b where (a.seq = 3 and b.seq = 7) or (a.seq = 7 and b.seq = 3)`,
      );
      expect(await audit.verify()).toMatchObject({
        ok: false,
        records: 2,
        firstBroken: { seq: 3n, reason: 'hash_mismatch' },
      });
    });

    it('a truncated tail', async () => {
      const { audit } = await freshTrail(10);
      await dropTriggers();
      await db.query('delete from audit_records where seq >= 8');
      expect(await audit.verify()).toMatchObject({
        ok: false,
        records: 7,
        firstBroken: { seq: 8n, reason: 'missing' },
      });
    });

    it('a chain head rewritten without the key', async () => {
      const { audit } = await freshTrail(3);
      await dropTriggers();
      await db.query('delete from audit_records');
      await db.query(`update audit_chain_head set seq = 0, hash = $1, mac = 'forged'`, ['0'.repeat(64)]);
      expect(await audit.verify()).toMatchObject({ ok: false, firstBroken: { seq: 0n, reason: 'head_mismatch' } });
    });

    it('a record inserted past the chain head', async () => {
      const { audit } = await freshTrail(3);
      await db.query(
        `insert into audit_records (seq, id, occurred_at, action, actor_type, actor_id, subject_type, subject_id,
           request_id, before_json, after_json, detail_json, prev_hash, hash, mac)
         select 4, $1, occurred_at, action, actor_type, actor_id, subject_type, subject_id,
           request_id, before_json, after_json, detail_json, hash, hash, mac
           from audit_records where seq = 3`,
        ['0191a5b0-0000-7000-8000-000000000004'],
      );
      expect(await audit.verify()).toMatchObject({
        ok: false,
        records: 3,
        firstBroken: { seq: 4n, reason: 'beyond_head' },
      });
    });

    it('keeps verifying while appends continue', async () => {
      const { audit } = await freshTrail(20);
      const [report] = await Promise.all([
        audit.verify({ batchSize: 3 }),
        (async () => {
          for (let index = 0; index < 20; index += 1) await audit.recordNow(entry(index));
        })(),
      ]);
      expect(report).toMatchObject({ ok: true });
      expect(await audit.verify()).toMatchObject({ ok: true, records: 40 });
    });
  });
});
