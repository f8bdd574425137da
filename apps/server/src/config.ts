/**
 * Every environment variable the server reads, parsed once at start. A bad value stops the process with
 * one line per variable that names it and says what is expected; nothing else reads `process.env`.
 */
import { z } from 'zod';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** `true`/`false`, a hop count, or a comma-separated list of trusted proxy addresses (CIDR allowed). */
export type TrustProxy = boolean | number | string[];

const integer = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

const trustProxySchema = z.string().transform((value, context): TrustProxy => {
  const text = value.trim().toLowerCase();
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (/^\d{1,3}$/.test(text)) return Number(text);
  const addresses = text.split(',').map((part) => part.trim());
  if (addresses.every((address) => /^[0-9a-f.:]+(\/\d{1,3})?$/.test(address))) return addresses;
  context.addIssue({ code: 'custom', message: 'not a trust-proxy value' });
  return z.NEVER;
});

const configSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: integer(0, 65_535).default(3000),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\/\S+$/)
    .optional(),
  DATA_DIR: z.string().min(1).default('./.data'),
  DATABASE_POOL_SIZE: integer(1, 1_000).default(10),
  DATABASE_STATEMENT_TIMEOUT_MS: integer(100, 3_600_000).default(30_000),
  LOG_LEVEL: z.enum(logLevels).default('info'),
  BODY_LIMIT_BYTES: integer(1_024, 100 * 1024 * 1024).default(1024 * 1024),
  RATE_LIMIT_MAX: integer(0, 1_000_000).default(300),
  TRUST_PROXY: trustProxySchema.default(false),
  SHUTDOWN_TIMEOUT_MS: integer(100, 600_000).default(10_000),
  SEED_DEMO_DATA: z.stringbool().optional(),
  WEB_DIST_DIR: z.string().min(1).optional(),
});

export type ConfigVariable = keyof z.input<typeof configSchema>;

export type Config = Omit<z.output<typeof configSchema>, 'SEED_DEMO_DATA'> & {
  /** Resolved: an explicit value, else true everywhere except production. */
  SEED_DEMO_DATA: boolean;
};

interface VariableDoc {
  description: string;
  /** Completes "NAME …" in an error line. */
  expected: string;
  /** Shown in the reference table when the schema's own default does not tell the whole story. */
  defaultText?: string;
  /** Never echoed back in an error line. */
  secret?: boolean;
}

const variableDocs = {
  NODE_ENV: {
    description: 'Deployment kind; `production` turns off demo data by default.',
    expected: 'must be one of development, production, test',
  },
  HOST: { description: 'Address the HTTP server binds to.', expected: 'must be a host name or address' },
  PORT: {
    description: 'HTTP port (0 picks a free port).',
    expected: 'must be an integer between 0 and 65535',
  },
  DATABASE_URL: {
    description: 'PostgreSQL connection URL (`postgres://…`). Unset: embedded PGlite under `DATA_DIR/pglite`.',
    expected: 'must be a postgres:// or postgresql:// URL',
    secret: true,
  },
  DATA_DIR: {
    description: 'Directory for local data; PGlite keeps its files in `DATA_DIR/pglite`.',
    expected: 'must be a directory path',
  },
  DATABASE_POOL_SIZE: {
    description: 'Most pooled PostgreSQL connections per process.',
    expected: 'must be an integer between 1 and 1000',
  },
  DATABASE_STATEMENT_TIMEOUT_MS: {
    description: 'PostgreSQL per-statement time limit in milliseconds.',
    expected: 'must be an integer between 100 and 3600000',
  },
  LOG_LEVEL: { description: 'Least severe log level written.', expected: `must be one of ${logLevels.join(', ')}` },
  BODY_LIMIT_BYTES: {
    description: 'Largest request body in bytes; larger bodies get 413.',
    expected: 'must be an integer between 1024 and 104857600',
  },
  RATE_LIMIT_MAX: {
    description: 'Requests per minute per client IP before 429 (0 turns rate limiting off).',
    expected: 'must be an integer between 0 and 1000000',
  },
  TRUST_PROXY: {
    description: 'Trust `X-Forwarded-*` headers: `true`, `false`, a hop count, or comma-separated proxy addresses.',
    expected: 'must be true, false, a hop count or a comma-separated list of IP addresses/CIDRs',
  },
  SHUTDOWN_TIMEOUT_MS: {
    description: 'On SIGTERM/SIGINT, how long in-flight work may take before the process is forced to exit.',
    expected: 'must be an integer between 100 and 600000',
  },
  SEED_DEMO_DATA: {
    description: 'Create the demo accounts and transfers at start when they are absent.',
    expected: 'must be true or false',
    defaultText: 'true (false when NODE_ENV=production)',
  },
  WEB_DIST_DIR: {
    description: 'Directory of the built web app served at `/`.',
    expected: 'must be a directory path',
    defaultText: 'apps/web/dist',
  },
} satisfies Record<ConfigVariable, VariableDoc>;

/** One row per variable, in the order of the README table. */
export interface ConfigReferenceRow {
  name: ConfigVariable;
  default: string | undefined;
  description: string;
}

const defaults = configSchema.parse({});

export const configReference: readonly ConfigReferenceRow[] = (Object.keys(variableDocs) as ConfigVariable[]).map(
  (name) => {
    const doc: VariableDoc = variableDocs[name];
    const value: unknown = defaults[name];
    const text = value === undefined ? undefined : JSON.stringify(value).replace(/^"(.*)"$/, '$1');
    return { name, default: doc.defaultText ?? text, description: doc.description };
  },
);

/** The configuration could not be read; `message` is ready to print, one line per bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Parses the environment; throws `ConfigError` naming every bad variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): Config {
  // An empty value means "unset": `PORT= npm start` should take the default, not fail.
  const present: Record<string, string> = {};
  for (const name of Object.keys(variableDocs)) {
    const value = env[name];
    if (value !== undefined && value !== '') present[name] = value;
  }
  const result = configSchema.safeParse(present);
  if (!result.success) {
    const names = [...new Set(result.error.issues.map((issue) => String(issue.path[0])))];
    const lines = names.map((name) => {
      const doc: VariableDoc = variableDocs[name as ConfigVariable];
      const got = doc.secret ? '' : ` (got ${JSON.stringify(present[name])})`;
      return `Configuration error: ${name} ${doc.expected}${got}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const { SEED_DEMO_DATA, ...rest } = result.data;
  return { ...rest, SEED_DEMO_DATA: SEED_DEMO_DATA ?? rest.NODE_ENV !== 'production' };
}

/** The README table, generated from `configReference` so the two cannot drift. */
export function configReferenceMarkdown(): string {
  const rows = configReference.map(
    (row) =>
      `| \`${row.name}\` | ${row.default === undefined ? '(unset)' : `\`${row.default}\``} | ${row.description} |`,
  );
  return ['| variable | default | description |', '| --- | --- | --- |', ...rows].join('\n');
}
