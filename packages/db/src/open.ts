import { mkdir } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import type { Database, QueryResult, SqlExecutor } from './database.js';

export interface OpenDatabaseOptions {
  /** `postgres://…` for a PostgreSQL server; when absent, embedded PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `memory://` keeps everything in memory. */
  dataDir?: string | undefined;
  /** Largest number of pooled PostgreSQL connections. */
  poolSize?: number | undefined;
  /** Per-statement time limit on PostgreSQL, so no query can hang a request forever. */
  statementTimeoutMs?: number | undefined;
  /** PostgreSQL schema to work in (tests use a throwaway schema each). */
  schema?: string | undefined;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    return openPostgres(options.url, options.poolSize ?? 10, options.statementTimeoutMs ?? 30_000, options.schema);
  }
  return openPglite(options.dataDir ?? 'memory://');
}

async function openPglite(dataDir: string): Promise<Database> {
  if (!dataDir.includes('://')) await mkdir(dataDir, { recursive: true });
  const pglite = await PGlite.create(dataDir);
  const run = async <Row>(
    executor: Pick<PGlite, 'query'>,
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<Row>> => {
    const result = await executor.query<Row>(text, params ? [...params] : undefined);
    return { rows: result.rows, affectedRows: result.affectedRows ?? 0 };
  };
  return {
    dialect: 'pglite',
    query: (text, params) => run(pglite, text, params),
    exec: async (script) => void (await pglite.exec(script)),
    transaction: (work) =>
      pglite.transaction((tx) =>
        work({ query: (text, params) => run(tx, text, params), exec: async (script) => void (await tx.exec(script)) }),
      ),
    close: () => pglite.close(),
  };
}

async function openPostgres(
  url: string,
  poolSize: number,
  statementTimeoutMs: number,
  schema: string | undefined,
): Promise<Database> {
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`invalid schema name ${schema}`);
  const types = {
    getTypeParser: (oid: number, format?: string): ((value: string) => unknown) =>
      // int8 as bigint: money never passes through a float.
      oid === 20
        ? (value: string) => BigInt(value)
        : (pg.types.getTypeParser(oid, format as 'text') as (value: string) => unknown),
  };
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    types,
    statement_timeout: statementTimeoutMs,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const run = async <Row>(
    executor: pg.Pool | pg.PoolClient,
    text: string,
    params?: readonly unknown[],
  ): Promise<QueryResult<Row>> => {
    const result = await executor.query(text, params ? [...params] : undefined);
    return { rows: result.rows as Row[], affectedRows: result.rowCount ?? 0 };
  };
  // Fail fast with a clear error when the server is unreachable.
  await run(pool, 'select 1');
  return {
    dialect: 'postgres',
    query: (text, params) => run(pool, text, params),
    exec: async (script) => void (await pool.query(script)),
    async transaction(work) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('begin');
        const tx: SqlExecutor = {
          query: (text, params) => run(client, text, params),
          exec: async (script) => void (await client.query(script)),
        };
        const value = await work(tx);
        await client.query('commit');
        return value;
      } catch (error) {
        try {
          await client.query('rollback');
        } catch {
          broken = true;
        }
        throw error;
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
