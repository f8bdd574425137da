/**
 * Key rotation for personal data at rest (crypto.ts, ADR 7 and 12). A rotation is three steps: put a new
 * key first in `DATA_ENCRYPTION_KEYS` and keep the old ones after it (new writes use the new key, old
 * values still read); run `yika keys:reencrypt`, which moves every value to the current key; once it
 * reports no value under an old key, drop that key from the ring.
 *
 * Each module declares its encrypted columns (`EncryptedColumn`, exported from its index.ts) and
 * `encrypted-columns.ts` lists them all, as migrations.ts lists migrations: this file knows no table.
 *
 * The command is safe while servers run: it walks each column in primary-key order in bounded batches,
 * and writes each value with a compare-and-set (`where key = $1 and column = <the value it read>`), so a
 * value the application changed in between is left alone (it was written under the current key anyway).
 * It is resumable for free: values already under the current key are skipped, so a second run picks up
 * where an interrupted one stopped.
 */
import type { Database } from '@yika/db';
import { DecryptionError, type DataCipher } from './crypto.js';

export interface EncryptedColumn {
  table: string;
  column: string;
  /** The primary key (a unique, non-null column); default `id`. */
  keyColumn?: string;
  /** Columns `context` reads, besides the key column. */
  contextColumns?: readonly string[];
  /** The additional authenticated data the value was encrypted with, built from the row. */
  context: (row: Readonly<Record<string, string>>) => string;
}

export interface ColumnReport {
  table: string;
  column: string;
  /** Values read that were not under the current key. */
  scanned: number;
  reencrypted: number;
  /** Changed by the application between our read and write: left alone. */
  changedConcurrently: number;
  /** Could not be decrypted (a key missing from the ring, or a damaged value); the first few keys. */
  failed: number;
  failedKeys: string[];
  /** After the run: how many values each key id still protects. */
  valuesByKey: Record<string, number>;
}

export interface ReencryptOptions {
  /** Rows read per query; default `REENCRYPT_BATCH_SIZE`. */
  batchSize?: number;
  /** Stops between rows once aborted (SIGINT); a later run continues. */
  signal?: AbortSignal;
  /** Called after each batch (progress output). */
  onBatch?: (progress: { table: string; column: string; reencrypted: number }) => void;
}

export const REENCRYPT_BATCH_SIZE = 500;
export const REENCRYPT_BATCH_SIZE_MAX = 5_000;
const FAILED_KEYS_SHOWN_MAX = 10;
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a declaration once: names are interpolated into SQL, so they must be plain identifiers. */
export function assertEncryptedColumns(columns: readonly EncryptedColumn[]): void {
  const seen = new Set<string>();
  for (const declared of columns) {
    for (const name of [
      declared.table,
      declared.column,
      declared.keyColumn ?? 'id',
      ...(declared.contextColumns ?? []),
    ]) {
      if (!IDENTIFIER.test(name))
        throw new Error(`encrypted column declaration: ${JSON.stringify(name)} is not an identifier`);
    }
    const id = `${declared.table}.${declared.column}`;
    if (seen.has(id)) throw new Error(`encrypted column ${id} is declared twice`);
    seen.add(id);
  }
}

/** Re-encrypts every value of every column that is not under the cipher's current key. */
export async function reencryptAll(
  db: Database,
  cipher: DataCipher,
  columns: readonly EncryptedColumn[],
  options: ReencryptOptions = {},
): Promise<ColumnReport[]> {
  assertEncryptedColumns(columns);
  const reports: ColumnReport[] = [];
  for (const declared of columns) {
    if (options.signal?.aborted) break;
    reports.push(await reencryptColumn(db, cipher, declared, options));
  }
  return reports;
}

async function reencryptColumn(
  db: Database,
  cipher: DataCipher,
  declared: EncryptedColumn,
  options: ReencryptOptions,
): Promise<ColumnReport> {
  const { table, column } = declared;
  const key = declared.keyColumn ?? 'id';
  const batchSize = Math.min(Math.max(options.batchSize ?? REENCRYPT_BATCH_SIZE, 1), REENCRYPT_BATCH_SIZE_MAX);
  const extra = (declared.contextColumns ?? []).filter((name) => name !== key && name !== column);
  const selected = [
    `${key}::text as "${key}"`,
    `${column} as value`,
    ...extra.map((name) => `${name}::text as "${name}"`),
  ];
  const currentPrefix = `v1.${cipher.currentKeyId}.`;
  const report: ColumnReport = {
    table,
    column,
    scanned: 0,
    reencrypted: 0,
    changedConcurrently: 0,
    failed: 0,
    failedKeys: [],
    valuesByKey: {},
  };
  let after: string | null = null;
  // Bounded by the table: every pass moves `after` forward past the rows it read, or ends.
  for (;;) {
    if (options.signal?.aborted) break;
    const rows = await readBatch(db, { table, column, key, selected, currentPrefix, batchSize, after });
    for (const row of rows) {
      if (options.signal?.aborted) break;
      report.scanned += 1;
      const rowKey = row[key]!;
      let next: string;
      try {
        next = cipher.reencrypt(row.value, declared.context(row));
      } catch (error) {
        if (!(error instanceof DecryptionError)) throw error;
        report.failed += 1;
        if (report.failedKeys.length < FAILED_KEYS_SHOWN_MAX) report.failedKeys.push(rowKey);
        continue;
      }
      const written = await db.query(`update ${table} set ${column} = $1 where ${key} = $2 and ${column} = $3`, [
        next,
        rowKey,
        row.value,
      ]);
      if (written.affectedRows === 1) report.reencrypted += 1;
      else report.changedConcurrently += 1;
    }
    const last = rows[rows.length - 1];
    if (last) after = last[key]!;
    options.onBatch?.({ table, column, reencrypted: report.reencrypted });
    if (rows.length < batchSize) break;
  }
  report.valuesByKey = await valuesByKey(db, table, column);
  return report;
}

type ColumnRow = Readonly<Record<string, string>> & { readonly value: string };

/** The next rows after `after` (key order) whose value is not under the current key. */
async function readBatch(
  db: Database,
  query: {
    table: string;
    column: string;
    key: string;
    selected: readonly string[];
    currentPrefix: string;
    batchSize: number;
    after: string | null;
  },
): Promise<ColumnRow[]> {
  const { table, column, key } = query;
  const params: unknown[] = [query.currentPrefix, query.batchSize];
  if (query.after !== null) params.push(query.after);
  const result = await db.query<ColumnRow>(
    `select ${query.selected.join(', ')} from ${table}
      where ${column} is not null and left(${column}, length($1)) <> $1
        ${query.after === null ? '' : `and ${key} > $3`}
      order by ${key} limit $2`,
    params,
  );
  return result.rows;
}

/** How many values of a column each key id protects. */
async function valuesByKey(db: Database, table: string, column: string): Promise<Record<string, number>> {
  const { rows } = await db.query<{ key_id: string; value_count: number | bigint }>(
    `select split_part(${column}, '.', 2) as key_id, count(*) as value_count from ${table}
      where ${column} is not null group by 1 order by 1`,
  );
  return Object.fromEntries(rows.map((row) => [row.key_id, Number(row.value_count)]));
}

/** Lines for the command's output: one per column, then the keys still in use. */
export function formatReencryptReport(reports: readonly ColumnReport[], currentKeyId: string): string[] {
  const lines = reports.map((report) => {
    const byKey = Object.entries(report.valuesByKey)
      .map(([keyId, count]) => `${keyId}=${count}`)
      .join(' ');
    const failed = report.failed > 0 ? `, ${report.failed} FAILED (keys: ${report.failedKeys.join(', ')})` : '';
    return `${report.table}.${report.column}: ${report.reencrypted} re-encrypted, ${report.changedConcurrently} changed concurrently${failed}; values by key: ${byKey || 'none'}`;
  });
  const inUse = new Set(reports.flatMap((report) => Object.keys(report.valuesByKey)));
  inUse.delete(currentKeyId);
  lines.push(
    inUse.size === 0
      ? `every value is under the current key ${currentKeyId}: older keys may be removed from DATA_ENCRYPTION_KEYS`
      : `values remain under ${[...inUse].sort().join(', ')}: keep those keys in DATA_ENCRYPTION_KEYS and run again`,
  );
  return lines;
}
