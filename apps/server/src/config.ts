/**
 * Every environment variable the server reads, parsed once at start. A bad value stops the process with
 * one line per variable that names it and says what is expected; nothing else reads `process.env`.
 */
import { z } from 'zod';

/** A business date's cut-off, `HH:MM` or `HH:MM:SS` local time (SETTLEMENT_CUTOFF). */
export const CUTOFF_PATTERN = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

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

/** `perTransaction/daily/yearly` in fen, e.g. `100000/100000/100000`. */
const limitsSchema = z
  .string()
  .regex(/^\d{1,15}\/\d{1,15}\/\d{1,15}$/)
  .transform((value) => {
    const [perTransaction, daily, yearly] = value.split('/').map((part) => BigInt(part)) as [bigint, bigint, bigint];
    return { perTransaction, daily, yearly };
  });

export type AccountLimits = z.output<typeof limitsSchema>;

const keyRingPattern =
  /^\s*[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?\s*(,\s*[A-Za-z0-9_-]{1,32}:[A-Za-z0-9+/_-]{43}=?\s*)*$/;

/**
 * Development-only keys: fixed so a developer's PGlite data stays readable across restarts. Refused in
 * production (loadConfig), where the keys must come from the environment.
 */
export const DEV_DATA_ENCRYPTION_KEYS = 'dev1:ZGV2LW9ubHkta2V5LW5ldmVyLXVzZS1pbi1wcm9kdWM=';
export const DEV_DATA_INDEX_KEY = 'ZGV2LW9ubHktaW5kZXgta2V5LW5ldmVyLWluLXByb2R1Y3Rpb24=';

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
  DATA_ENCRYPTION_KEYS: z.string().regex(keyRingPattern).optional(),
  DATA_INDEX_KEY: z
    .string()
    .regex(/^[A-Za-z0-9+/_-]{43,}={0,2}$/)
    .optional(),
  SMS_PROVIDER: z.enum(['bank-sim', 'http']).default('bank-sim'),
  BANK_SIM_URL: z.url({ protocol: /^https?$/ }).default('http://127.0.0.1:3100'),
  BANK_SIM_API_KEY: z.string().min(1).default('dev-bank-key'),
  BANK_CALLBACK_SECRET: z.string().min(8).default('dev-bank-callback-secret'),
  BANK_SIM_SPAWN: z.stringbool().optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  BANK_POLL_INTERVAL_MS: integer(100, 3_600_000).default(5_000),
  BANK_POLL_AFTER_MS: integer(0, 3_600_000).default(5_000),
  BANK_DEADLINE_MS: integer(1_000, 7 * 86_400_000).default(120_000),
  LEDGER_SWEEP_INTERVAL_MS: integer(100, 3_600_000).default(10_000),
  STEP_UP_THRESHOLD_FEN: integer(1, 1_000_000_000_000).default(500_000),
  PAYMENT_CODE_NO_PIN_LIMIT_FEN: integer(0, 1_000_000_000_000).default(100_000),
  PAYMENT_CODE_DAILY_NO_PIN_CAP_FEN: integer(0, 1_000_000_000_000).default(200_000),
  SMS_HTTP_URL: z.url({ protocol: /^https?$/ }).optional(),
  SMS_HTTP_TOKEN: z.string().min(1).optional(),
  SMS_TIMEOUT_MS: integer(100, 60_000).default(5_000),
  SESSION_IDLE_DAYS: integer(1, 365).default(30),
  SESSION_ABSOLUTE_DAYS: integer(1, 3_650).default(90),
  LIMITS_CLASS_I: limitsSchema.default(limitsSchema.parse('100000/100000/100000')),
  LIMITS_CLASS_II: limitsSchema.default(limitsSchema.parse('1000000/1000000/10000000')),
  LIMITS_CLASS_III: limitsSchema.default(limitsSchema.parse('2000000/2000000/20000000')),
  WEBAUTHN_RP_ID: z
    .string()
    .regex(/^[a-z0-9.-]+$/)
    .default('localhost'),
  WEBAUTHN_RP_NAME: z.string().min(1).default('Yika'),
  WEBAUTHN_ORIGINS: z
    .string()
    .transform((value) => value.split(',').map((origin) => origin.trim()))
    .pipe(z.array(z.url({ protocol: /^https?$/ })).min(1))
    .default(['http://localhost:3000']),
  OPS_API_TOKEN: z.string().min(16).optional(),
  WEBHOOK_INTERVAL_MS: integer(100, 3_600_000).default(2_000),
  WEBHOOK_ATTEMPTS_MAX: integer(1, 30).default(8),
  WEBHOOK_RETRY_BASE_MS: integer(10, 3_600_000).default(30_000),
  WEBHOOK_TIMEOUT_MS: integer(100, 60_000).default(10_000),
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: z.stringbool().optional(),
  BUSINESS_TIME_ZONE: z.string().refine(isTimeZone, 'not an IANA time zone').default('Asia/Shanghai'),
  SETTLEMENT_CUTOFF: z.string().regex(CUTOFF_PATTERN).default('00:00'),
  SETTLEMENT_GRACE_MS: integer(0, 3_600_000).default(60_000),
  SETTLEMENT_INTERVAL_MS: integer(1_000, 3_600_000).default(60_000),
  RISK_REVIEW_HOLD_SECONDS: integer(1, 30 * 86_400).default(86_400),
  RISK_RULES_REFRESH_INTERVAL_MS: integer(1_000, 3_600_000).default(30_000),
});

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

export type ConfigVariable = keyof z.input<typeof configSchema>;

export type Config = Omit<
  z.output<typeof configSchema>,
  'SEED_DEMO_DATA' | 'DATA_ENCRYPTION_KEYS' | 'DATA_INDEX_KEY' | 'BANK_SIM_SPAWN' | 'WEBHOOK_ALLOW_PRIVATE_NETWORKS'
> & {
  /** Resolved: an explicit value, else true everywhere except production. */
  BANK_SIM_SPAWN: boolean;
  /** Resolved: an explicit value, else true everywhere except production. */
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: boolean;
  /** Resolved: an explicit value, else true everywhere except production. */
  SEED_DEMO_DATA: boolean;
  /** Resolved: required in production, a fixed development key ring elsewhere. */
  DATA_ENCRYPTION_KEYS: string;
  /** Resolved: required in production, a fixed development key elsewhere. */
  DATA_INDEX_KEY: string;
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
  DATA_ENCRYPTION_KEYS: {
    description:
      'Keys for personal data at rest (AES-256-GCM): comma-separated `id:base64key` (32-byte keys), the first encrypts, all decrypt. Required in production.',
    expected: 'must be comma-separated id:base64key entries with 32-byte keys',
    defaultText: 'a fixed development key (refused when NODE_ENV=production)',
    secret: true,
  },
  DATA_INDEX_KEY: {
    description:
      'HMAC key (base64, at least 32 bytes) for blind indexes and one-time-code hashes; never rotated with the encryption keys. Required in production.',
    expected: 'must be base64 of at least 32 bytes',
    defaultText: 'a fixed development key (refused when NODE_ENV=production)',
    secret: true,
  },
  SMS_PROVIDER: {
    description: "Where text messages go: `bank-sim` (the simulator's inbox) or `http` (a provider at `SMS_HTTP_URL`).",
    expected: 'must be one of bank-sim, http',
  },
  BANK_SIM_URL: { description: 'Base URL of the bank simulator.', expected: 'must be an http(s) URL' },
  BANK_SIM_API_KEY: {
    description: 'Bearer key Yika presents to the bank simulator.',
    expected: 'must not be empty',
    secret: true,
  },
  BANK_CALLBACK_SECRET: {
    description:
      "Shared secret of the HMAC-SHA256 signatures on the bank's callbacks. Set your own outside development.",
    expected: 'must be at least 8 characters',
    secret: true,
  },
  BANK_SIM_SPAWN: {
    description: 'Start the bank simulator as a child process at `BANK_SIM_URL` (demo mode).',
    expected: 'must be true or false',
    defaultText: 'true (false when NODE_ENV=production)',
  },
  PUBLIC_URL: {
    description: 'The URL the bank calls back, e.g. `https://wallet.example.com`.',
    expected: 'must be an http(s) URL',
    defaultText: 'http://127.0.0.1:`PORT`',
  },
  BANK_POLL_INTERVAL_MS: {
    description: "How often open top-ups and withdrawals are checked with the bank's status query.",
    expected: 'must be an integer from 100 to 3600000',
  },
  BANK_POLL_AFTER_MS: {
    description: 'An open order is checked once its callback is this late.',
    expected: 'must be an integer from 0 to 3600000',
  },
  BANK_DEADLINE_MS: {
    description: "After this, an order the bank never received fails (a withdrawal's hold is released).",
    expected: 'must be an integer from 1000 to 604800000',
  },
  STEP_UP_THRESHOLD_FEN: {
    description:
      'Payments of at least this many fen need a second factor besides the PIN (SMS code, authenticator app or passkey).',
    expected: 'must be an integer from 1 to 1000000000000',
  },
  PAYMENT_CODE_NO_PIN_LIMIT_FEN: {
    description:
      "A payment-code charge (付款码) of at most this many fen posts without the customer's PIN; above it the customer confirms on the phone. 0: every charge is confirmed.",
    expected: 'must be an integer from 0 to 1000000000000',
  },
  PAYMENT_CODE_DAILY_NO_PIN_CAP_FEN: {
    description:
      "Most fen a customer pays by payment code without the PIN per business day; a charge beyond it waits for the customer's confirmation.",
    expected: 'must be an integer from 0 to 1000000000000',
  },
  LEDGER_SWEEP_INTERVAL_MS: {
    description: 'How often pending transfers past their timeout are voided.',
    expected: 'must be an integer from 100 to 3600000',
  },
  SMS_HTTP_URL: {
    description: 'With `SMS_PROVIDER=http`: the provider endpoint that receives `POST {"to","text"}` as JSON.',
    expected: 'must be an http(s) URL',
  },
  SMS_HTTP_TOKEN: {
    description: 'With `SMS_PROVIDER=http`: bearer token sent to `SMS_HTTP_URL`.',
    expected: 'must not be empty',
    secret: true,
  },
  SMS_TIMEOUT_MS: {
    description: 'Time limit of one SMS provider request in milliseconds (up to 3 attempts are made).',
    expected: 'must be an integer between 100 and 60000',
  },
  SESSION_IDLE_DAYS: {
    description: 'A session unused for this many days expires.',
    expected: 'must be an integer between 1 and 365',
  },
  SESSION_ABSOLUTE_DAYS: {
    description: 'A session expires this many days after sign-in however much it is used.',
    expected: 'must be an integer between 1 and 3650',
  },
  LIMITS_CLASS_I: {
    description:
      'Class I payment-account limits in fen, `perTransaction/daily/yearly`; for Class I "yearly" is the total since opening.',
    expected: 'must be three integers of fen separated by /',
    defaultText: '100000/100000/100000',
  },
  LIMITS_CLASS_II: {
    description: 'Class II payment-account limits in fen, `perTransaction/daily/yearly`.',
    expected: 'must be three integers of fen separated by /',
    defaultText: '1000000/1000000/10000000',
  },
  LIMITS_CLASS_III: {
    description: 'Class III payment-account limits in fen, `perTransaction/daily/yearly`.',
    expected: 'must be three integers of fen separated by /',
    defaultText: '2000000/2000000/20000000',
  },
  WEBAUTHN_RP_ID: {
    description: "WebAuthn relying-party id: the site's domain (passkeys are bound to it).",
    expected: 'must be a domain name',
  },
  WEBAUTHN_RP_NAME: {
    description: 'Name shown by the authenticator when creating a passkey.',
    expected: 'must not be empty',
  },
  WEBAUTHN_ORIGINS: {
    description: 'Comma-separated origins the web app is served from (checked in passkey responses).',
    expected: 'must be comma-separated http(s) origins',
    defaultText: 'http://localhost:3000',
  },
  OPS_API_TOKEN: {
    description:
      'Bearer token for the interim operations routes (`/v1/ops/…`: merchant review) until the ops console exists. Unset: those routes answer 401.',
    expected: 'must be at least 16 characters',
    secret: true,
  },
  WEBHOOK_INTERVAL_MS: {
    description: 'How often outbox events become webhook deliveries and due deliveries are sent.',
    expected: 'must be an integer from 100 to 3600000',
  },
  WEBHOOK_ATTEMPTS_MAX: {
    description: 'Attempts per webhook delivery before it is marked failed (it can still be replayed).',
    expected: 'must be an integer from 1 to 30',
  },
  WEBHOOK_RETRY_BASE_MS: {
    description:
      'Back-off after the first failed webhook attempt; it doubles after each further failure (at most 6 hours).',
    expected: 'must be an integer from 10 to 3600000',
  },
  WEBHOOK_TIMEOUT_MS: {
    description: 'Time limit of one webhook request in milliseconds.',
    expected: 'must be an integer from 100 to 60000',
  },
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: {
    description:
      'Let webhook endpoints and notify URLs reach loopback, private, link-local, CGNAT and other non-public addresses (SSRF guard off: tests and the demo deliver locally).',
    expected: 'must be true or false',
    defaultText: 'true (false when NODE_ENV=production)',
  },
  BUSINESS_TIME_ZONE: {
    description: 'IANA time zone of business dates (settlement, merchant reports).',
    expected: 'must be an IANA time zone such as Asia/Shanghai',
  },
  SETTLEMENT_CUTOFF: {
    description:
      'Local time (`HH:MM` or `HH:MM:SS`, in `BUSINESS_TIME_ZONE`) at which a business date closes and becomes due for settlement (T+1): with `23:00`, postings from 23:00 count to the next date; `00:00` is midnight at the end of the date.',
    expected: 'must be a time HH:MM or HH:MM:SS (00:00 to 23:59:59)',
  },
  SETTLEMENT_GRACE_MS: {
    description:
      'A business date is settled (T+1) this long after its cut-off, so transactions in flight at the cut-off have committed.',
    expected: 'must be an integer from 0 to 3600000',
  },
  SETTLEMENT_INTERVAL_MS: {
    description: 'How often the settlement job looks for business dates to settle and payouts to check or retry.',
    expected: 'must be an integer from 1000 to 3600000',
  },
  RISK_REVIEW_HOLD_SECONDS: {
    description:
      'How long money the risk engine sent to review stays held (a pending ledger transfer) before it expires unreviewed and is released; the movement then fails.',
    expected: 'must be an integer from 1 to 2592000',
  },
  RISK_RULES_REFRESH_INTERVAL_MS: {
    description: 'How often each process picks up a risk rule version activated by another process.',
    expected: 'must be an integer from 1000 to 3600000',
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
    if (doc.defaultText !== undefined) return { name, default: doc.defaultText, description: doc.description };
    const value: unknown = defaults[name];
    const text = value === undefined ? undefined : JSON.stringify(value).replace(/^"(.*)"$/, '$1');
    return { name, default: text, description: doc.description };
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
  const {
    SEED_DEMO_DATA,
    DATA_ENCRYPTION_KEYS,
    DATA_INDEX_KEY,
    BANK_SIM_SPAWN,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS,
    ...rest
  } = result.data;
  const production = rest.NODE_ENV === 'production';
  const missing: string[] = [];
  // Development keys are public: in production personal data must be encrypted with the bank's own keys.
  if (production && DATA_ENCRYPTION_KEYS === undefined) missing.push('DATA_ENCRYPTION_KEYS');
  if (production && DATA_INDEX_KEY === undefined) missing.push('DATA_INDEX_KEY');
  if (production && present.BANK_CALLBACK_SECRET === undefined) missing.push('BANK_CALLBACK_SECRET');
  if (rest.SMS_PROVIDER === 'http' && rest.SMS_HTTP_URL === undefined) missing.push('SMS_HTTP_URL');
  // A charge without the PIN must never be one that would need a second factor with it.
  if (rest.PAYMENT_CODE_NO_PIN_LIMIT_FEN > rest.STEP_UP_THRESHOLD_FEN) {
    throw new ConfigError(
      `Configuration error: PAYMENT_CODE_NO_PIN_LIMIT_FEN must not exceed STEP_UP_THRESHOLD_FEN (${rest.STEP_UP_THRESHOLD_FEN})`,
    );
  }
  if (missing.length > 0) {
    throw new ConfigError(
      missing
        .map((name) =>
          name === 'SMS_HTTP_URL'
            ? 'Configuration error: SMS_HTTP_URL must be set when SMS_PROVIDER=http'
            : `Configuration error: ${name} must be set when NODE_ENV=production (the development value is public)`,
        )
        .join('\n'),
    );
  }
  return {
    ...rest,
    SEED_DEMO_DATA: SEED_DEMO_DATA ?? !production,
    BANK_SIM_SPAWN: BANK_SIM_SPAWN ?? !production,
    WEBHOOK_ALLOW_PRIVATE_NETWORKS: WEBHOOK_ALLOW_PRIVATE_NETWORKS ?? !production,
    DATA_ENCRYPTION_KEYS: DATA_ENCRYPTION_KEYS ?? DEV_DATA_ENCRYPTION_KEYS,
    DATA_INDEX_KEY: DATA_INDEX_KEY ?? DEV_DATA_INDEX_KEY,
  };
}

/** The README table, generated from `configReference` so the two cannot drift. */
export function configReferenceMarkdown(): string {
  const rows = configReference.map(
    (row) =>
      `| \`${row.name}\` | ${row.default === undefined ? '(unset)' : `\`${row.default}\``} | ${row.description} |`,
  );
  return ['| variable | default | description |', '| --- | --- | --- |', ...rows].join('\n');
}
