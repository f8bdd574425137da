/**
 * Throwaway databases for tests: in-memory PGlite by default; with TEST_DATABASE_URL set, a fresh schema
 * on that PostgreSQL server, dropped again on close. Each test file gets a database of its own.
 */
import { randomBytes } from 'node:crypto';
import type { Database } from './database.js';
import { openDatabase } from './open.js';

export function testDatabaseUrl(): string | undefined {
  return process.env.TEST_DATABASE_URL || undefined;
}

export async function openTestDatabase(options: { poolSize?: number } = {}): Promise<Database> {
  const url = testDatabaseUrl();
  if (!url) return openDatabase({ dataDir: 'memory://' });
  const { schema, drop } = await createTestSchema(url);
  const db = await openDatabase({ url, schema, poolSize: options.poolSize ?? 10 });
  return {
    ...db,
    async close() {
      await db.close();
      await drop();
    },
  };
}

/** A fresh schema name and the URL that selects it, for tests that start other processes. */
export async function createTestSchema(url: string): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `test_${randomBytes(6).toString('hex')}`;
  const admin = await openDatabase({ url, poolSize: 1 });
  await admin.exec(`create schema ${schema}`);
  await admin.close();
  return {
    schema,
    async drop() {
      const cleanup = await openDatabase({ url, poolSize: 1 });
      await cleanup.exec(`drop schema ${schema} cascade`);
      await cleanup.close();
    },
  };
}
