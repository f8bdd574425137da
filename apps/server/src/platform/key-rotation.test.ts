/**
 * Key rotation end to end: personal data written by the real services under key 1; the ring rotates to
 * key 2 (key 1 kept): old data reads; keys:reencrypt moves everything, resumably; a ring of key 2 alone
 * then reads everything, through the services and through every registered column.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_DATA_ENCRYPTION_KEYS, loadConfig } from '../config.js';
import { encryptedColumns } from '../encrypted-columns.js';
import { buildServices, type Services } from '../services.js';
import { openIdentityHarness, residentId, type IdentityHarness } from '../test/identity-harness.js';
import { DataCipher } from './crypto.js';
import { reencryptAll, formatReencryptReport } from './key-rotation.js';

const KEY_2 = `k2:${randomBytes(32).toString('base64')}`;

/** A Luhn-valid ICBC debit card number. */
function cardNumber(): string {
  const body = `622202${String(process.pid).padStart(6, '0').slice(-6)}000007`;
  for (let check = 0; check <= 9; check += 1) {
    const candidate = body + check;
    let sum = 0;
    for (let index = 0; index < candidate.length; index += 1) {
      let digit = Number(candidate[candidate.length - 1 - index]);
      if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}

describe('personal-data key rotation', { timeout: 180_000 }, () => {
  let harness: IdentityHarness;
  let customerId: string;
  let cardId: string;
  let merchantId: string;
  let cardToken: string;
  let notifySecret: string;

  const servicesWith = (keys: string): Services =>
    buildServices({
      config: loadConfig({ NODE_ENV: 'test', DATA_ENCRYPTION_KEYS: keys }),
      db: harness.db,
      ledger: harness.fixture.ledger,
      sms: harness.fixture.services.sms,
    });

  beforeAll(async () => {
    harness = await openIdentityHarness();
    const { app, services } = harness.fixture;
    expect(services.cipher.currentKeyId).toBe('dev1');
    const phone = harness.freshPhone();
    const customer = await harness.signIn(phone);
    customerId = customer.customerId;
    const kyc = await app.inject({
      method: 'POST',
      url: '/v1/me/kyc',
      headers: customer.headers,
      payload: { name: '李四', idNumber: residentId('19851120', '456') },
    });
    expect(kyc.statusCode, kyc.body).toBe(200);
    await services.identity.factors.startTotpEnrolment(customerId, 'rotation test');
    const started = await app.inject({
      method: 'POST',
      url: '/v1/cards/verifications',
      headers: customer.headers,
      payload: { cardNumber: cardNumber(), phone, holderName: '李四' },
    });
    expect(started.statusCode, started.body).toBe(201);
    const { verificationId } = started.json<{ verificationId: string }>();
    const bound = await app.inject({
      method: 'POST',
      url: `/v1/cards/verifications/${verificationId}/confirm`,
      headers: customer.headers,
      payload: { code: await harness.latestCode(phone) },
    });
    expect(bound.statusCode, bound.body).toBe(201);
    cardId = bound.json<{ id: string }>().id;
    cardToken = (await services.cards.cardForPayment(customerId, cardId)).cardToken;
    const merchant = await services.merchants.apply({
      legalName: '轮换测试餐饮有限公司',
      displayName: '轮换测试',
      mcc: '5812',
      contactName: '王小明',
      contactPhone: '+8613800138000',
      city: 'Shanghai',
      feeRateBps: 60,
    });
    merchantId = merchant.id;
    await services.merchants.decide(merchantId, 'approve');
    await services.merchants.addWebhookEndpoint(merchantId, 'http://127.0.0.1:9/hooks');
    notifySecret = (await services.merchants.notifyKey(merchantId)).secret;
  });

  afterAll(async () => {
    await harness?.close();
  });

  it('every column that looks encrypted (*_ciphertext, *_enc) is registered for re-encryption', async () => {
    const { rows } = await harness.db.query<{ table_name: string; column_name: string }>(
      `select table_name, column_name from information_schema.columns
        where table_schema = current_schema() and (column_name like '%\\_ciphertext' or column_name like '%\\_enc')
        order by 1, 2`,
    );
    expect(rows.length).toBeGreaterThan(5);
    const registered = new Set(encryptedColumns.map((column) => `${column.table}.${column.column}`));
    const missing = rows.map((row) => `${row.table_name}.${row.column_name}`).filter((name) => !registered.has(name));
    expect(missing).toEqual([]);
  });

  it('rotates: old data reads under the new ring, keys:reencrypt moves it (resumably), then key 1 can go', async () => {
    const rotated = servicesWith(`${KEY_2},${DEV_DATA_ENCRYPTION_KEYS}`);
    expect(rotated.cipher.currentKeyId).toBe('k2');
    expect((await rotated.cards.cardForPayment(customerId, cardId)).cardToken).toBe(cardToken);
    expect((await rotated.merchants.notifyKey(merchantId)).secret).toBe(notifySecret);

    // An interrupted run (stopped after its first one-row batch) leaves the rest for the next run.
    const stop = new AbortController();
    const partial = await reencryptAll(harness.db, rotated.cipher, encryptedColumns, {
      batchSize: 1,
      signal: stop.signal,
      onBatch: () => stop.abort(),
    });
    const movedFirst = partial.reduce((sum, report) => sum + report.reencrypted, 0);
    expect(movedFirst).toBe(1);

    const reports = await reencryptAll(harness.db, rotated.cipher, encryptedColumns, { batchSize: 2 });
    const byColumn = Object.fromEntries(reports.map((report) => [`${report.table}.${report.column}`, report]));
    expect(reports.every((report) => report.failed === 0 && report.changedConcurrently === 0)).toBe(true);
    const movedRest = reports.reduce((sum, report) => sum + report.reencrypted, 0);
    for (const name of [
      'identity_customers.real_name_ciphertext',
      'identity_customers.id_number_ciphertext',
      'identity_customers.totp_pending_secret_ciphertext',
      'card_verifications.card_number_enc',
      'cards.card_number_enc',
      'cards.bank_token_enc',
      'merchant_webhook_endpoints.secret_ciphertext',
      'merchant_notify_keys.secret_ciphertext',
    ]) {
      expect(byColumn[name]?.valuesByKey, name).toEqual({ k2: 1 });
    }
    expect(movedFirst + movedRest).toBe(8);
    expect(formatReencryptReport(reports, 'k2').at(-1)).toMatch(/^every value is under the current key k2/);

    const again = await reencryptAll(harness.db, rotated.cipher, encryptedColumns);
    expect(again.reduce((sum, report) => sum + report.scanned, 0)).toBe(0);

    // Key 1 removed: every registered value still reads, through the services and column by column.
    const onlyNew = servicesWith(KEY_2);
    expect((await onlyNew.cards.cardForPayment(customerId, cardId)).cardToken).toBe(cardToken);
    expect((await onlyNew.merchants.notifyKey(merchantId)).secret).toBe(notifySecret);
    const cipher: DataCipher = onlyNew.cipher;
    for (const declared of encryptedColumns) {
      const key = declared.keyColumn ?? 'id';
      const { rows } = await harness.db.query<Record<string, string> & { value: string }>(
        `select ${key}::text as "${key}", ${declared.column} as value from ${declared.table}
          where ${declared.column} is not null`,
      );
      for (const row of rows) expect(() => cipher.decrypt(row.value, declared.context(row))).not.toThrow();
    }
    const { rows } = await harness.db.query<{ real_name_ciphertext: string; id: string }>(
      'select id, real_name_ciphertext from identity_customers where id = $1',
      [customerId],
    );
    const name = encryptedColumns.find((column) => column.column === 'real_name_ciphertext')!;
    expect(cipher.decrypt(rows[0]!.real_name_ciphertext, name.context(rows[0]!))).toBe('李四');
  });

  it('reports a value under a key missing from the ring as failed, and leaves it untouched', async () => {
    const stranger = new DataCipher([{ id: 'lost', key: randomBytes(32) }], randomBytes(32));
    const value = stranger.encrypt('x', `card:${cardId}`);
    await harness.db.query('update cards set bank_token_enc = $2 where id = $1', [cardId, value]);
    const onlyNew = servicesWith(KEY_2);
    const reports = await reencryptAll(harness.db, onlyNew.cipher, encryptedColumns);
    const tokens = reports.find((report) => report.table === 'cards' && report.column === 'bank_token_enc')!;
    expect(tokens).toMatchObject({ failed: 1, failedKeys: [cardId], valuesByKey: { lost: 1 } });
    expect(formatReencryptReport(reports, 'k2').at(-1)).toMatch(/values remain under lost/);
  });
});
