export type { Database, Dialect, QueryResult, SqlExecutor } from './database.js';
export { openDatabase, type OpenDatabaseOptions } from './open.js';
export { migrate, pendingMigrations, type Migration, type MigrationReport } from './migrate.js';
export { isRetryableConflict, pgErrorCode } from './errors.js';
