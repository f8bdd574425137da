import { createHash } from 'node:crypto';
import type { Database } from './database.js';

/** One forward-only schema change. Ids sort in the order they must run, e.g. `ledger/0001_accounts`. */
export interface Migration {
  id: string;
  sql: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: number;
}

const MIGRATION_LOCK_KEY = 7_716_001; // any constant: serialises migrators across processes

function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/**
 * Applies the migrations not yet applied, in order, in one transaction, under an advisory lock so that
 * several processes starting at once apply each migration exactly once. An applied migration whose text
 * changed is refused: migrations are append-only.
 */
export async function migrate(db: Database, migrations: readonly Migration[]): Promise<MigrationReport> {
  const ids = new Set<string>();
  for (const migration of migrations) {
    if (ids.has(migration.id)) throw new Error(`duplicate migration id ${migration.id}`);
    ids.add(migration.id);
  }
  return db.transaction(async (tx) => {
    await tx.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.query(`create table if not exists schema_migrations (
      id text primary key,
      checksum text not null,
      applied_at timestamptz not null default now()
    )`);
    const { rows } = await tx.query<{ id: string; checksum: string }>('select id, checksum from schema_migrations');
    const applied = new Map(rows.map((row) => [row.id, row.checksum]));
    const report: MigrationReport = { applied: [], alreadyApplied: 0 };
    for (const migration of migrations) {
      const sum = checksum(migration.sql);
      const previous = applied.get(migration.id);
      if (previous !== undefined) {
        if (previous !== sum) throw new Error(`migration ${migration.id} was changed after it was applied`);
        report.alreadyApplied += 1;
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query('insert into schema_migrations (id, checksum) values ($1, $2)', [migration.id, sum]);
      report.applied.push(migration.id);
    }
    return report;
  });
}

/** The ids of migrations that are not applied yet (for readiness checks). */
export async function pendingMigrations(db: Database, migrations: readonly Migration[]): Promise<string[]> {
  const exists = await db.query<{ present: boolean }>(`select to_regclass('schema_migrations') is not null as present`);
  if (!exists.rows[0]?.present) return migrations.map((migration) => migration.id);
  const { rows } = await db.query<{ id: string }>('select id from schema_migrations');
  const applied = new Set(rows.map((row) => row.id));
  return migrations.filter((migration) => !applied.has(migration.id)).map((migration) => migration.id);
}
