/** The rows of a query and how many rows a write touched. */
export interface QueryResult<Row> {
  rows: Row[];
  affectedRows: number;
}

/** Anything that runs SQL: the database itself or one open transaction. */
export interface SqlExecutor {
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
}

export type Dialect = 'pglite' | 'postgres';

/**
 * One database, embedded (PGlite) or a PostgreSQL server: the same SQL runs on both.
 * `bigint` columns always arrive as JS `bigint` or as an exact `number`; callers convert with `BigInt()`.
 */
export interface Database extends SqlExecutor {
  readonly dialect: Dialect;
  /** Runs `work` in one transaction (READ COMMITTED); commits if it resolves, rolls back if it throws. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
