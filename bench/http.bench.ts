/**
 * `npm run bench:http`: end-to-end speed over real HTTP. The server runs in this process exactly as
 * main.ts builds it (authentication, risk, ledger, outbox), listening on a free port; autocannon runs in a
 * child process (bench/http-load.ts). For each database (PostgreSQL, then PGlite) it measures, in one run:
 *   - the ceiling: a trivial route of the same server (GET /healthz);
 *   - customer-presented code payments (付款码): a cashier charges a fresh code per request, no PIN;
 *   - P2P transfers with the payment PIN (argon2id verified per request).
 * and prints requests per second, latency p50/p99, and each as a share of the ceiling. Writes
 * docs/performance.md and ends with one line of JSON.
 *
 * Environment: BENCH_DATABASES (pglite,postgres), BENCH_DATABASE_URL (else scripts/postgres-local.sh),
 * BENCH_CONNECTIONS (16), BENCH_DEVICES (1500: code payments = 2 per device), BENCH_P2P_SECONDS (10).
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate, openDatabase, type Database } from '@yika/db';
import { createTestSchema } from '@yika/db/testing';
import { accountIdFor, Ledger, newId } from '@yika/ledger';
import {
  buildApp,
  buildServices,
  createLogger,
  loadConfig,
  serverMigrations,
  type SmsMessage,
  type SmsSender,
} from '@yika/server';
import type { LoadJob, LoadResult } from './http-load.js';
import { tables, writePerformanceSection } from './report.js';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const DEVICES = Number(process.env.BENCH_DEVICES ?? 1_500);
const P2P_SECONDS = Number(process.env.BENCH_P2P_SECONDS ?? 10);
const TRIVIAL_SECONDS = 5;
const PIN = '135790';
const OPS_TOKEN = 'bench-ops-token-0123456789abcdef';
const databases = (process.env.BENCH_DATABASES ?? 'postgres,pglite').split(',') as ('pglite' | 'postgres')[];
const loadScript = fileURLToPath(new URL('./http-load.ts', import.meta.url));

/** Codes are read from what the server would text, not from an SMS provider. */
class CapturingSms implements SmsSender {
  readonly #last = new Map<string, string>();
  send = async (message: SmsMessage): Promise<{ messageId: string | null }> => {
    const code = /\b(\d{6})\b/.exec(message.text)?.[1];
    if (code) this.#last.set(message.to, code);
    return Promise.resolve({ messageId: null });
  };
  code(phone: string): string {
    const code = this.#last.get(phone);
    if (!code) throw new Error(`no code texted to ${phone}`);
    return code;
  }
}

async function openBenchDatabase(kind: 'pglite' | 'postgres'): Promise<{ db: Database; close(): Promise<void> }> {
  if (kind === 'postgres') {
    const url =
      process.env.BENCH_DATABASE_URL ??
      execFileSync('bash', [fileURLToPath(new URL('../scripts/postgres-local.sh', import.meta.url)), 'start'], {
        encoding: 'utf8',
      })
        .trim()
        .split('\n')
        .pop()!;
    const schema = await createTestSchema(url);
    const db = await openDatabase({ url, schema: schema.schema, poolSize: 16 });
    return {
      db,
      async close() {
        await db.close();
        await schema.drop();
      },
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'yika-bench-http-'));
  const db = await openDatabase({ dataDir: dir });
  return {
    db,
    async close() {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function runLoad(job: LoadJob): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', loadScript], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', reject);
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`load generator exited with ${code}`));
      resolve(JSON.parse(output.trim().split('\n').pop()!) as LoadResult);
    });
    child.stdin.end(JSON.stringify(job));
  });
}

interface Row {
  database: string;
  scenario: string;
  result: LoadResult;
  ratio: number;
}

async function benchDatabase(kind: 'pglite' | 'postgres'): Promise<Row[]> {
  const database = await openBenchDatabase(kind);
  const { db } = database;
  await migrate(db, serverMigrations);
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_MAX: '0',
    OPS_API_TOKEN: OPS_TOKEN,
    DATA_ENCRYPTION_KEYS: process.env.DATA_ENCRYPTION_KEYS ?? `k1:${Buffer.alloc(32, 7).toString('base64')}`,
    DATA_INDEX_KEY: process.env.DATA_INDEX_KEY ?? Buffer.alloc(32, 9).toString('base64'),
    PUBLIC_URL: 'http://127.0.0.1:1',
    BANK_SIM_URL: 'http://127.0.0.1:1',
    BANK_SIM_API_KEY: 'unused',
    BANK_CALLBACK_SECRET: 'unused-callback-secret',
  });
  const ledger = new Ledger(db);
  const sms = new CapturingSms();
  const services = buildServices({ config, db, ledger, sms });
  const app = await buildApp({ config, db, ledger, services, logger: createLogger(config) });
  await services.risk?.start?.();
  const url = await app.listen({ host: '127.0.0.1', port: 0 });

  // A merchant with an API key.
  const applied = await app.inject({
    method: 'POST',
    url: '/v1/merchants/applications',
    payload: {
      legalName: '压测餐饮有限公司',
      displayName: '压测小馆',
      mcc: '5812',
      contactName: '王小明',
      contactPhone: '+8613800138000',
      city: 'Shanghai',
      feeRateBps: 60,
    },
  });
  const merchantId = applied.json<{ id: string }>().id;
  const ops = { authorization: `Bearer ${OPS_TOKEN}` };
  await app.inject({
    method: 'POST',
    url: `/v1/ops/merchants/${merchantId}/decisions`,
    headers: ops,
    payload: { decision: 'approve' },
  });
  const key = await app.inject({
    method: 'POST',
    url: `/v1/ops/merchants/${merchantId}/api-keys`,
    headers: ops,
    payload: {},
  });
  const merchantKey = key.json<{ secret: string }>().secret;

  // Customers: signed in, PIN set, funded from bank clearing, each device enrolled for payment codes.
  const customers: { phone: string; token: string; customerId: string }[] = [];
  const devices: { deviceIndex: string; secret: string }[] = [];
  const started = Date.now();
  // In parallel batches: setting a PIN is an argon2id hash, the slow part of the set-up.
  const SETUP_BATCH = 16;
  for (let start = 0; start < DEVICES; start += SETUP_BATCH) {
    const batch = Array.from({ length: Math.min(SETUP_BATCH, DEVICES - start) }, (_unused, offset) => start + offset);
    const ready = await Promise.all(
      batch.map(async (index) => {
        const phone = `+86130${String(index).padStart(8, '0')}`;
        const remoteAddress = `10.${Math.floor(index / 62_500) % 250}.${Math.floor(index / 250) % 250}.${index % 250}`;
        const otp = await app.inject({ method: 'POST', url: '/v1/auth/otp', payload: { phone }, remoteAddress });
        if (otp.statusCode !== 202) throw new Error(`otp ${otp.statusCode} ${otp.body}`);
        const session = await app.inject({
          method: 'POST',
          url: '/v1/auth/sessions',
          payload: { phone, code: sms.code(phone), client: 'api' },
          remoteAddress,
        });
        const { token, customerId } = session.json<{ token: string; customerId: string }>();
        await services.identity.setPin(customerId, PIN);
        await services.wallet.openWallet(customerId);
        const enrolled = await app.inject({
          method: 'POST',
          url: '/v1/payment-codes/devices',
          headers: { authorization: `Bearer ${token}` },
          payload: { pin: PIN },
        });
        if (enrolled.statusCode !== 201) throw new Error(`enrol ${enrolled.statusCode} ${enrolled.body}`);
        return {
          customer: { phone, token, customerId },
          device: enrolled.json<{ deviceIndex: string; secret: string }>(),
        };
      }),
    );
    const funded = await ledger.submit(
      ready.map(({ customer }) => ({
        id: newId(),
        debitAccountId: accountIdFor('system', 'bank-clearing.CNY'),
        creditAccountId: accountIdFor('wallet', customer.customerId),
        amount: 10_000_00n,
        ledger: 156,
        code: 101,
      })),
    );
    if (funded.some((result) => result.result !== 'ok')) throw new Error('funding refused');
    for (const { customer, device } of ready) {
      customers.push(customer);
      devices.push(device);
    }
  }
  process.stderr.write(`${kind}: ${DEVICES} customers ready in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);

  const rows: Row[] = [];
  const trivial = await runLoad({
    url,
    connections: CONNECTIONS,
    durationSeconds: TRIVIAL_SECONDS,
    expectStatus: 200,
    scenario: { kind: 'trivial', path: '/healthz' },
  });
  rows.push({ database: kind, scenario: 'trivial route (ceiling)', result: trivial, ratio: 1 });
  const codes = await runLoad({
    url,
    connections: CONNECTIONS,
    amount: devices.length * 2,
    expectStatus: 201,
    scenario: { kind: 'code-payment', merchantKey, devices },
  });
  rows.push({ database: kind, scenario: 'code payment (付款码)', result: codes, ratio: codes.rps / trivial.rps });
  const p2p = await runLoad({
    url,
    connections: CONNECTIONS,
    durationSeconds: P2P_SECONDS,
    expectStatus: 201,
    scenario: {
      kind: 'p2p',
      pin: PIN,
      payers: customers.map((customer, index) => ({
        token: customer.token,
        payeePhone: customers[(index + 1) % customers.length]!.phone,
      })),
    },
  });
  rows.push({ database: kind, scenario: 'P2P transfer (PIN)', result: p2p, ratio: p2p.rps / trivial.rps });

  const verification = await ledger.verify();
  if (!verification.ok) throw new Error(`ledger invariant broken after the run: ${JSON.stringify(verification)}`);
  await app.close();
  await services.risk?.stop?.();
  await ledger.close();
  await database.close();
  return rows;
}

const rows: Row[] = [];
for (const kind of databases) rows.push(...(await benchDatabase(kind)));

const header = ['database', 'scenario', 'requests', 'unexpected', 'req/s', 'p50 ms', 'p99 ms', 'of ceiling'];
const { text, markdown } = tables(
  header,
  rows.map((row) => [
    row.database,
    row.scenario,
    row.result.requests,
    row.result.unexpected === 0
      ? '0'
      : `${row.result.unexpected} (${Object.entries(row.result.statuses)
          .map(([status, count]) => `${status}: ${count}`)
          .join(', ')})`,
    row.result.rps.toFixed(0),
    row.result.p50.toFixed(1),
    row.result.p99.toFixed(1),
    row.ratio.toFixed(2),
  ]),
);
console.log(text);
writePerformanceSection(
  'http',
  `## HTTP end to end (\`npm run bench:http\`)

Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version};
${CONNECTIONS} connections; server and load generator on the same machine. Code payments: one fresh
付款码 per request, charged by a cashier's API key (no PIN under the limit); P2P: the payment PIN is
verified (argon2id) on every request. Risk rules and the ledger are on for both. "Of ceiling" is requests
per second as a share of GET /healthz on the same server in the same run. Target on PostgreSQL: code
payments ≥ 0.25 of the ceiling with p99 < 50 ms.

${markdown}`,
);
console.log(
  JSON.stringify({
    bench: 'http',
    connections: CONNECTIONS,
    results: rows.map((row) => ({
      database: row.database,
      scenario: row.scenario,
      requests: row.result.requests,
      unexpected: row.result.unexpected,
      rps: Math.round(row.result.rps),
      p50: row.result.p50,
      p99: row.result.p99,
      ratio: Number(row.ratio.toFixed(3)),
    })),
  }),
);
