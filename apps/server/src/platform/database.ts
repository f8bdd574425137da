/**
 * Opens the configured database: PostgreSQL when DATABASE_URL is set, else PGlite files under
 * DATA_DIR/pglite. PGlite is single-process, so its directory is guarded by a lock file: a second process
 * (a CLI command while the server runs) gets a clear error instead of corrupting the files.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { openDatabase, type Database } from '@yika/db';
import type { Config } from '../config.js';

type DatabaseConfig = Pick<
  Config,
  'DATABASE_URL' | 'DATA_DIR' | 'DATABASE_POOL_SIZE' | 'DATABASE_STATEMENT_TIMEOUT_MS'
>;

export function pgliteDirectory(config: Pick<Config, 'DATA_DIR'>): string {
  return resolve(config.DATA_DIR, 'pglite');
}

/** Where the database lives, for log lines (never the URL: it may hold a password). */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.DATABASE_URL) {
    const url = new URL(config.DATABASE_URL);
    return `PostgreSQL at ${url.hostname}:${url.port || '5432'}${url.pathname}`;
  }
  return `PGlite at ${pgliteDirectory(config)}`;
}

export class DatabaseInUseError extends Error {
  override readonly name = 'DatabaseInUseError';
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the PGlite directory lock; returns its release. A lock left by a dead process is taken over. */
function lockPgliteDirectory(directory: string): () => void {
  mkdirSync(directory, { recursive: true });
  const lockFile = join(directory, '..', 'pglite.lock');
  try {
    writeFileSync(lockFile, String(process.pid), { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const owner = Number(readFileSync(lockFile, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && processAlive(owner)) {
      throw new DatabaseInUseError(
        `the PGlite database at ${directory} is in use by process ${owner}; PGlite allows one process at a time ` +
          '(stop it first, or use PostgreSQL via DATABASE_URL)',
      );
    }
    writeFileSync(lockFile, String(process.pid));
  }
  return () => {
    try {
      if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) rmSync(lockFile);
    } catch {
      // already gone: nothing to release
    }
  };
}

export async function openConfiguredDatabase(config: DatabaseConfig): Promise<Database> {
  if (config.DATABASE_URL) {
    return openDatabase({
      url: config.DATABASE_URL,
      poolSize: config.DATABASE_POOL_SIZE,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    });
  }
  const directory = pgliteDirectory(config);
  const release = lockPgliteDirectory(directory);
  let db: Database;
  try {
    db = await openDatabase({ dataDir: directory });
  } catch (error) {
    release();
    throw error;
  }
  return {
    ...db,
    async close() {
      try {
        await db.close();
      } finally {
        release();
      }
    },
  };
}
