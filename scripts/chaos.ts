/**
 * `npm run chaos`: Yika under crashes, bank faults and several processes, on PostgreSQL, with real
 * processes and real HTTP (server and bank simulator from source, as `npm start` runs them).
 *
 *   crash        mixed payments, transfers and withdrawals while the server is SIGKILLed and restarted
 *                every few seconds; clients retry with the same Idempotency-Key until they get an answer.
 *   bank-faults  top-ups and withdrawals while the bank is slow, fails, times out, drops, duplicates and
 *                reorders callbacks and signs some wrongly; every order must end within its timeout.
 *   multi-process the mixed load spread over three server processes on one database.
 *
 * After each: every acknowledged operation is in the ledger, every wallet balance equals what the
 * acknowledged operations imply, nothing is left held, the ledger invariant holds; at the end
 * `yika settlement:verify` passes. Prints a table (attempted, acknowledged, verified, violations) and ends
 * with one line of JSON. Exit code 1 on any violation.
 *
 * Environment: CHAOS_DATABASE_URL (else scripts/postgres-local.sh), CHAOS_SECONDS (20 a scenario).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { openDatabase, type Database } from '@yika/db';
import { createTestSchema } from '@yika/db/testing';
import { accountIdFor, Ledger } from '@yika/ledger';
import { defaultRuleSet, RiskService } from '@yika/server';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.CHAOS_SECONDS ?? 20);
const CUSTOMERS = 40;
const CLIENTS = 16;
const FUNDS = 2_000_00;
const PIN = '390517';
const OPS_TOKEN = 'chaos-ops-token-0123456789abcdef';
const BANK_KEY = 'chaos-bank-key';
const CALLBACK_SECRET = 'chaos-callback-secret';
const ORDER_FINAL_TIMEOUT_MS = 90_000;
const KILLS = 4;
/** Refusals that are answers, not failures: the money did not move and the client was told why. */
const ANSWERED = (status: number) => status >= 200 && status < 500 && status !== 408 && status !== 429;

interface Proc {
  name: string;
  child: ChildProcess;
  log: string[];
}

function launch(name: string, entry: string, env: Record<string, string>, args: string[] = []): Proc {
  const child = spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', entry, ...args], {
    cwd: root,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    log.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, child, log };
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

async function waitReady(proc: Proc, url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) throw new Error(`${proc.name} exited:\n${proc.log.slice(-20).join('\n')}`);
    if (
      await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(200);
  }
  throw new Error(`${proc.name} not ready at ${url}:\n${proc.log.slice(-20).join('\n')}`);
}

/** Local wall-clock time in Asia/Shanghai (`HH:MM:SS`), `seconds` from now. */
function shanghaiTimeIn(seconds: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(Date.now() + seconds * 1_000));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function stopProc(proc: Proc, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once('exit', resolve));
  proc.child.kill(signal);
  await exited;
}

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/** One HTTP call; throws on network errors and timeouts (the caller decides whether to retry). */
async function call(
  base: string,
  path: string,
  init: { token?: string; body?: unknown; key?: string; method?: string; ip?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...(init.key ? { 'idempotency-key': init.key } : {}),
      ...(init.ip ? { 'x-forwarded-for': init.ip } : {}),
    },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** Retries the same request (same key) until the system answers it, across crashes and restarts. */
async function untilAnswered(
  base: () => string,
  path: string,
  init: Parameters<typeof call>[2],
  timeoutMs = 120_000,
): Promise<Answer> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const answer = await call(base(), path, init);
      if (ANSWERED(answer.status)) return answer;
    } catch {
      // Connection refused or reset: the server is down or restarting.
    }
    if (Date.now() > deadline) throw new Error(`no answer for ${path} (key ${init?.key}) within ${timeoutMs} ms`);
    await sleep(250);
  }
}

async function latestCode(bankSimUrl: string, phone: string, since: number): Promise<string> {
  for (let attempt = 0; attempt < 60; attempt += 1) {
    const inbox = (await (await fetch(`${bankSimUrl}/sms/inbox?to=${encodeURIComponent(phone)}&limit=5`)).json()) as {
      messages: { text: string; sentAt: string }[];
    };
    const fresh = inbox.messages.find((message) => Date.parse(message.sentAt) >= since - 1_000);
    const code = fresh ? /\b(\d{6})\b/.exec(fresh.text)?.[1] : undefined;
    if (code) return code;
    await sleep(250);
  }
  throw new Error(`no code for ${phone}`);
}

function luhn(body: string): string {
  let sum = 0;
  for (let index = 0; index < body.length; index++) {
    let digit = Number(body[body.length - 1 - index]);
    if (index % 2 === 0) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
    sum += digit;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

interface Customer {
  index: number;
  phone: string;
  customerId: string;
  token: string;
  cardId: string;
}

type Operation =
  | { kind: 'payment'; from: number; amount: number; id: string; fee: number }
  | { kind: 'transfer'; from: number; to: number; amount: number; id: string }
  | { kind: 'withdrawal'; from: number; amount: number; id: string }
  | { kind: 'top-up'; from: number; amount: number; id: string };

interface ScenarioResult {
  scenario: string;
  attempted: number;
  acknowledged: number;
  verified: number;
  violations: string[];
  detail: string;
}

class System {
  readonly servers: { port: number; proc: Proc }[] = [];
  bankSim!: Proc;
  bankSimUrl = '';
  env: Record<string, string> = {};
  db!: Database;
  ledger!: Ledger;
  dropSchema!: () => Promise<void>;

  async start(databaseUrl: string): Promise<void> {
    const schema = await createTestSchema(databaseUrl);
    this.dropSchema = schema.drop;
    const url = new URL(databaseUrl);
    url.searchParams.set('options', `-c search_path=${schema.schema}`);
    this.db = await openDatabase({ url: databaseUrl, schema: schema.schema, poolSize: 4 });
    this.ledger = new Ledger(this.db);
    const bankPort = await freePort();
    this.bankSimUrl = `http://127.0.0.1:${bankPort}`;
    this.bankSim = launch('bank-sim', 'apps/bank-sim/src/main.ts', {
      BANK_SIM_PORT: String(bankPort),
      BANK_SIM_HOST: '127.0.0.1',
      BANK_SIM_API_KEY: BANK_KEY,
      BANK_SIM_CALLBACK_SECRET: CALLBACK_SECRET,
      BANK_SIM_CALLBACK_RETRY_BASE_MS: '200',
      BANK_SIM_LOG_LEVEL: 'warn',
    });
    await waitReady(this.bankSim, `${this.bankSimUrl}/healthz`);
    this.env = {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      DATABASE_URL: url.toString(),
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
      RATE_LIMIT_MAX: '0',
      TRUST_PROXY: '127.0.0.1',
      OPS_API_TOKEN: OPS_TOKEN,
      BANK_SIM_URL: this.bankSimUrl,
      BANK_SIM_SPAWN: 'false',
      BANK_SIM_API_KEY: BANK_KEY,
      BANK_CALLBACK_SECRET: CALLBACK_SECRET,
      BANK_POLL_AFTER_MS: '1000',
      BANK_POLL_INTERVAL_MS: '1000',
      RISK_RULES_REFRESH_INTERVAL_MS: '1000',
      SETTLEMENT_GRACE_MS: '1000',
      SETTLEMENT_INTERVAL_MS: '2000',
    };
    await this.addServer();
    await this.#withoutVelocityRules();
  }

  /**
   * A few dozen customers making hundreds of payments a minute is the burst the velocity rules exist to
   * refuse; chaos is about money under faults, so it activates the default rules without them (as an
   * analyst would) and waits for the servers to pick the version up.
   */
  async #withoutVelocityRules(): Promise<void> {
    const risk = new RiskService({ db: this.db });
    const velocity = ['attempts_burst', 'device_many_attempts', 'hourly_count'];
    const { version } = await risk.saveDraft(
      { lists: { ...defaultRuleSet.lists }, rules: defaultRuleSet.rules.filter((rule) => !velocity.includes(rule.id)) },
      'chaos',
    );
    await risk.activate(version, 'chaos');
    await sleep(2_500);
  }

  url(index = 0): string {
    return `http://127.0.0.1:${this.servers[index % this.servers.length]!.port}`;
  }

  async addServer(): Promise<void> {
    const port = await freePort();
    const entry = { port, proc: this.#launchServer(port) };
    this.servers.push(entry);
    await waitReady(entry.proc, `http://127.0.0.1:${port}/readyz`);
  }

  #launchServer(port: number): Proc {
    // Each process's callback URL is its own: the bank calls back whichever server asked.
    return launch(`server:${port}`, 'apps/server/src/main.ts', {
      ...this.env,
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
    });
  }

  async kill(index = 0): Promise<void> {
    await stopProc(this.servers[index]!.proc, 'SIGKILL');
  }

  /** Stops every server but the first (gracefully). */
  async shrinkToOne(): Promise<void> {
    for (const server of this.servers.splice(1)) await stopProc(server.proc);
  }

  async restart(index = 0, env: Record<string, string> = {}): Promise<void> {
    const server = this.servers[index]!;
    Object.assign(this.env, env);
    server.proc = this.#launchServer(server.port);
    await waitReady(server.proc, `http://127.0.0.1:${server.port}/readyz`);
  }

  async setFaults(faults: Record<string, number | boolean>): Promise<void> {
    const response = await fetch(`${this.bankSimUrl}/admin/faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        latencyMs: 20,
        failureRate: 0,
        timeoutRate: 0,
        dropCallbackRate: 0,
        duplicateCallbacks: 0,
        badSignatureRate: 0,
        reorder: false,
        ...faults,
      }),
    });
    if (!response.ok) throw new Error(`faults: ${response.status} ${await response.text()}`);
  }

  async stop(): Promise<void> {
    for (const server of this.servers) await stopProc(server.proc);
    await stopProc(this.bankSim);
    await this.ledger.close();
    await this.db.close();
    await this.dropSchema();
  }
}

async function setUp(system: System): Promise<{ customers: Customer[]; staticCode: string }> {
  const base = system.url();
  const customers: Customer[] = [];
  const salt = String(Date.now() % 10_000).padStart(4, '0');
  await Promise.all(
    Array.from({ length: CUSTOMERS }, async (_unused, index) => {
      const phone = `+86137${salt}${String(index).padStart(4, '0')}`;
      const sentAt = Date.now();
      // One client address per customer: sign-up limits are per address, as for real phones.
      const ip = `10.66.${Math.floor(index / 250)}.${(index % 250) + 1}`;
      await call(base, '/v1/auth/otp', { body: { phone }, ip });
      const session = await call(base, '/v1/auth/sessions', {
        ip,
        body: { phone, code: await latestCode(system.bankSimUrl, phone, sentAt), client: 'api' },
      });
      if (session.status !== 201) throw new Error(`session: ${JSON.stringify(session.body)}`);
      const token = String(session.body.token);
      const pin = await call(base, '/v1/me/pin', { token, method: 'PUT', body: { pin: PIN } });
      if (pin.status !== 204) throw new Error(`pin: ${JSON.stringify(pin.body)}`);
      const cardSentAt = Date.now();
      const started = await call(base, '/v1/cards/verifications', {
        token,
        body: { cardNumber: luhn(`622202${salt}${String(index).padStart(8, '0')}`), holderName: '张明', phone },
      });
      const confirmed = await call(base, `/v1/cards/verifications/${String(started.body.verificationId)}/confirm`, {
        token,
        body: { code: await latestCode(system.bankSimUrl, phone, cardSentAt) },
      });
      if (confirmed.status !== 201) throw new Error(`card: ${JSON.stringify(confirmed.body)}`);
      const cardId = String(confirmed.body.id);
      const topUp = await call(base, '/v1/wallet/top-ups', {
        token,
        key: `setup-${phone}`,
        body: { cardId, amount: FUNDS },
      });
      if (topUp.status !== 202) throw new Error(`top-up: ${JSON.stringify(topUp.body)}`);
      await waitFinal(() => base, token, String(topUp.body.id));
      customers[index] = { index, phone, customerId: String(session.body.customerId), token, cardId };
    }),
  );
  const applied = await call(base, '/v1/merchants/applications', {
    body: {
      legalName: '混沌测试餐饮有限公司',
      displayName: '混沌小馆',
      mcc: '5812',
      contactName: '王小明',
      contactPhone: '+8613800138000',
      city: 'Shanghai',
      feeRateBps: 60,
    },
  });
  const merchantId = String(applied.body.id);
  await call(base, `/v1/ops/merchants/${merchantId}/decisions`, { token: OPS_TOKEN, body: { decision: 'approve' } });
  const key = await call(base, `/v1/ops/merchants/${merchantId}/api-keys`, { token: OPS_TOKEN, body: {} });
  const code = await call(base, '/v1/merchant/qr-codes/static', { token: String(key.body.secret) });
  return { customers, staticCode: String(code.body.payload) };
}

async function waitFinal(base: () => string, token: string, orderId: string): Promise<'succeeded' | 'failed'> {
  const deadline = Date.now() + ORDER_FINAL_TIMEOUT_MS;
  for (;;) {
    try {
      const order = await call(base(), `/v1/wallet/orders/${orderId}`, { token });
      if (order.body.status === 'succeeded' || order.body.status === 'failed') return order.body.status;
    } catch {
      // Restarting.
    }
    if (Date.now() > deadline) throw new Error(`order ${orderId} not final within ${ORDER_FINAL_TIMEOUT_MS} ms`);
    await sleep(300);
  }
}

/** Posted balances of every wallet, read from the ledger itself. */
async function walletBalances(
  system: System,
  customers: Customer[],
): Promise<Map<string, { posted: bigint; pending: bigint }>> {
  const accounts = await system.ledger.lookupAccounts(
    customers.map((customer) => accountIdFor('wallet', customer.customerId)),
  );
  return new Map(
    accounts.map((account) => [
      account.id,
      { posted: account.creditsPosted - account.debitsPosted, pending: account.debitsPending + account.creditsPending },
    ]),
  );
}

/** Runs `clients` loops of `next()` operations for `seconds`, each retried until answered. */
async function mixedLoad(
  system: System,
  customers: Customer[],
  staticCode: string,
  options: {
    seconds: number;
    /** Keep going until this settles too (the crash scenario's killer). */
    until?: Promise<void>;
    kinds: Operation['kind'][];
    base: (client: number) => string;
    tag: string;
  },
): Promise<{ attempted: number; acknowledged: Operation[]; refusals: Record<string, number> }> {
  const acknowledged: Operation[] = [];
  const refusals: Record<string, number> = {};
  let attempted = 0;
  const until = Date.now() + options.seconds * 1_000;
  let more = options.until !== undefined;
  void options.until?.finally(() => (more = false));
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_unused, client) => {
      for (let sequence = 0; Date.now() < until || more; sequence += 1) {
        attempted += 1;
        const customer = customers[(client * 7 + sequence) % customers.length]!;
        const kind = options.kinds[Math.floor(Math.random() * options.kinds.length)]!;
        const amount = 1 + Math.floor(Math.random() * 5_000);
        const key = `${options.tag}-${client}-${sequence}`;
        const base = () => options.base(client);
        let answer: Answer;
        if (kind === 'payment') {
          answer = await untilAnswered(base, '/v1/payments/qr/pay', {
            token: customer.token,
            key,
            body: { payload: staticCode, amount, pin: PIN },
          });
        } else if (kind === 'transfer') {
          const to = customers[(customer.index + 1 + (sequence % (customers.length - 1))) % customers.length]!;
          answer = await untilAnswered(base, '/v1/wallet/transfers', {
            token: customer.token,
            key,
            body: { phone: to.phone, amount, pin: PIN },
          });
          if (answer.status === 201)
            acknowledged.push({ kind, from: customer.index, to: to.index, amount, id: String(answer.body.id) });
        } else if (kind === 'withdrawal') {
          answer = await untilAnswered(base, '/v1/wallet/withdrawals', {
            token: customer.token,
            key,
            body: { cardId: customer.cardId, amount, pin: PIN },
          });
        } else {
          answer = await untilAnswered(base, '/v1/wallet/top-ups', {
            token: customer.token,
            key,
            body: { cardId: customer.cardId, amount },
          });
        }
        if (answer.status === 201 || answer.status === 202) {
          if (kind === 'payment')
            acknowledged.push({
              kind,
              from: customer.index,
              amount,
              id: String(answer.body.id),
              fee: Number(answer.body.fee),
            });
          else if (kind !== 'transfer')
            acknowledged.push({ kind, from: customer.index, amount, id: String(answer.body.id) });
        } else {
          const code = `${kind}:${typeof answer.body.code === 'string' ? answer.body.code : answer.status}`;
          refusals[code] = (refusals[code] ?? 0) + 1;
        }
        await sleep(50);
      }
    }),
  );
  return { attempted, acknowledged, refusals };
}

/** Every acknowledged operation accounted for, balances exact, nothing held, invariant intact. */
async function verify(
  system: System,
  customers: Customer[],
  before: Map<string, { posted: bigint }>,
  operations: Operation[],
  base: () => string,
): Promise<{ verified: number; violations: string[] }> {
  const violations: string[] = [];
  let verified = 0;
  const delta = customers.map(() => 0n);
  for (const operation of operations) {
    const customer = customers[operation.from]!;
    if (operation.kind === 'withdrawal' || operation.kind === 'top-up') {
      const status = await waitFinal(base, customer.token, operation.id).catch((error: Error) => {
        violations.push(error.message);
        return null;
      });
      if (status === null) continue;
      const bank = (await (
        await fetch(`${system.bankSimUrl}/v1/payments/${operation.id}`, {
          headers: { authorization: `Bearer ${BANK_KEY}` },
        })
      ).json()) as { status?: string };
      if (bank.status !== status)
        violations.push(`${operation.kind} ${operation.id}: Yika ${status}, bank ${bank.status}`);
      if (status === 'succeeded')
        delta[operation.from]! += operation.kind === 'top-up' ? BigInt(operation.amount) : -BigInt(operation.amount);
      verified += 1;
      continue;
    }
    if (operation.kind === 'payment') {
      const payment = await untilAnswered(base, `/v1/payments/${operation.id}`, { token: customer.token });
      if (payment.status !== 200 || payment.body.status !== 'succeeded') {
        violations.push(`payment ${operation.id}: ${payment.status} ${String(payment.body.status)}`);
        continue;
      }
      delta[operation.from]! -= BigInt(operation.amount);
    } else {
      delta[operation.from]! -= BigInt(operation.amount);
      delta[operation.to]! += BigInt(operation.amount);
    }
    verified += 1;
  }
  const after = await walletBalances(system, customers);
  for (const customer of customers) {
    const id = accountIdFor('wallet', customer.customerId);
    const expected = before.get(id)!.posted + delta[customer.index]!;
    const actual = after.get(id)!;
    if (actual.posted !== expected)
      violations.push(`wallet ${customer.index}: ${actual.posted} fen, expected ${expected}`);
    if (actual.posted < 0n) violations.push(`wallet ${customer.index} negative`);
    if (actual.pending !== 0n) violations.push(`wallet ${customer.index}: ${actual.pending} fen still held`);
  }
  const invariant = await system.ledger.verify();
  if (!invariant.ok) violations.push(`ledger invariant: ${JSON.stringify(invariant).slice(0, 300)}`);
  return { verified, violations };
}

async function crashScenario(system: System, customers: Customer[], staticCode: string): Promise<ScenarioResult> {
  await system.setFaults({ latencyMs: 50 });
  const before = await walletBalances(system, customers);
  let kills = 0;
  // The load runs until the server has been killed and restarted KILLS times (and at least SECONDS).
  const started = Date.now();
  const killer = (async () => {
    while (kills < KILLS || Date.now() - started < SECONDS * 1_000) {
      await sleep(2_000 + Math.random() * 2_000);
      await system.kill();
      kills += 1;
      await sleep(300);
      await system.restart();
    }
  })();
  const load = await mixedLoad(system, customers, staticCode, {
    seconds: SECONDS,
    until: killer,
    kinds: ['payment', 'transfer', 'transfer', 'withdrawal'],
    base: () => system.url(),
    tag: 'crash',
  });
  await killer;
  const result = await verify(system, customers, before, load.acknowledged, () => system.url());
  return {
    scenario: 'crash',
    attempted: load.attempted,
    acknowledged: load.acknowledged.length,
    ...result,
    detail: `${kills} SIGKILLs; refusals ${JSON.stringify(load.refusals)}`,
  };
}

async function bankFaultScenario(system: System, customers: Customer[], staticCode: string): Promise<ScenarioResult> {
  await system.setFaults({
    latencyMs: 300,
    failureRate: 0.2,
    timeoutRate: 0.1,
    timeoutMs: 5_000,
    dropCallbackRate: 0.3,
    duplicateCallbacks: 2,
    badSignatureRate: 0.3,
    reorder: true,
  });
  const before = await walletBalances(system, customers);
  const load = await mixedLoad(system, customers, staticCode, {
    seconds: SECONDS,
    kinds: ['top-up', 'withdrawal'],
    base: () => system.url(),
    tag: 'bank',
  });
  const result = await verify(system, customers, before, load.acknowledged, () => system.url());
  await system.setFaults({});
  return {
    scenario: 'bank-faults',
    attempted: load.attempted,
    acknowledged: load.acknowledged.length,
    ...result,
    detail: `refusals ${JSON.stringify(load.refusals)}`,
  };
}

async function multiProcessScenario(
  system: System,
  customers: Customer[],
  staticCode: string,
): Promise<ScenarioResult> {
  await system.setFaults({ latencyMs: 50, failureRate: 0.1 });
  while (system.servers.length < 3) await system.addServer();
  const before = await walletBalances(system, customers);
  const load = await mixedLoad(system, customers, staticCode, {
    seconds: SECONDS,
    kinds: ['payment', 'transfer', 'withdrawal', 'top-up'],
    base: (client) => system.url(client),
    tag: 'multi',
  });
  const result = await verify(system, customers, before, load.acknowledged, () => system.url());
  return {
    scenario: 'multi-process (3)',
    attempted: load.attempted,
    acknowledged: load.acknowledged.length,
    ...result,
    detail: `refusals ${JSON.stringify(load.refusals)}`,
  };
}

/** A scenario that acknowledged nothing proved nothing. */
function requireAcknowledged(result: ScenarioResult): ScenarioResult {
  if (result.acknowledged === 0) result.violations.push('no operation was acknowledged');
  return result;
}

const databaseUrl =
  process.env.CHAOS_DATABASE_URL ??
  execFileSync('bash', [fileURLToPath(new URL('./postgres-local.sh', import.meta.url)), 'start'], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
const system = new System();
const results: ScenarioResult[] = [];
let settlementVerified: boolean;
let settlementReport: string;
let settlementBatches: number;
try {
  await system.start(databaseUrl);
  const { customers, staticCode } = await setUp(system);
  results.push(requireAcknowledged(await crashScenario(system, customers, staticCode)));
  results.push(requireAcknowledged(await bankFaultScenario(system, customers, staticCode)));
  results.push(requireAcknowledged(await multiProcessScenario(system, customers, staticCode)));
  // Close today's business date now (a cut-off seconds away, one server) and let the job settle it.
  await system.shrinkToOne();
  await system.kill();
  await system.restart(0, { SETTLEMENT_CUTOFF: shanghaiTimeIn(3) });
  settlementBatches = 0;
  for (let waited = 0; settlementBatches === 0 && waited < 30_000; waited += 1_000) {
    await sleep(1_000);
    const { rows } = await system.db.query<{ batches: string }>(
      'select count(*)::text as batches from settlement_batches',
    );
    settlementBatches = Number(rows[0]?.batches ?? 0);
  }
  if (settlementBatches === 0) {
    const logs = system.servers.flatMap((server) => server.proc.log.filter((line) => /settle/i.test(line)));
    process.stderr.write(`no settlement batch; server log lines on settlement:\n${logs.slice(-10).join('\n')}\n`);
  }
  const cli = launch('cli', 'apps/server/src/cli.ts', system.env, ['settlement:verify']);
  const code = await new Promise<number | null>((resolve) => cli.child.once('exit', resolve));
  settlementVerified = code === 0;
  settlementReport = cli.log.join(' ').slice(0, 300);
  if (!settlementVerified) process.stderr.write(`settlement:verify failed:\n${cli.log.join('\n')}\n`);
} finally {
  await system.stop().catch((error: unknown) => process.stderr.write(`stopping: ${String(error)}\n`));
}

const header = ['scenario', 'attempted', 'acknowledged', 'verified', 'violations'];
const widths = [20, 10, 13, 9, 10];
const line = (cells: (string | number)[]) =>
  cells.map((cell, column) => String(cell).padEnd(widths[column]!)).join('  ');
console.log(line(header));
for (const result of results) {
  console.log(
    line([result.scenario, result.attempted, result.acknowledged, result.verified, result.violations.length]),
  );
  console.log(`  ${result.detail}`);
  for (const violation of result.violations.slice(0, 10)) console.log(`  ✗ ${violation}`);
}
console.log(`settlement:verify ${settlementVerified ? 'passed' : 'FAILED'}: ${settlementReport}`);
const violations =
  results.reduce((sum, result) => sum + result.violations.length, 0) +
  (settlementVerified ? 0 : 1) +
  (settlementBatches > 0 ? 0 : 1);
console.log(
  JSON.stringify({
    chaos: results.map(({ scenario, attempted, acknowledged, verified, violations: found }) => ({
      scenario,
      attempted,
      acknowledged,
      verified,
      violations: found.length,
    })),
    settlementBatches,
    settlementVerified,
    violations,
  }),
);
// The figures of this run into docs/reliability.md, between its markers.
const docPath = fileURLToPath(new URL('../docs/reliability.md', import.meta.url));
const table = [
  '| scenario | attempted | acknowledged | verified | violations | notes |',
  '| --- | --- | --- | --- | --- | --- |',
  ...results.map(
    (result) =>
      `| ${result.scenario} | ${result.attempted} | ${result.acknowledged} | ${result.verified} | ${result.violations.length} | ${result.detail} |`,
  ),
].join('\n');
const section = `<!-- chaos:start -->
Run ${new Date().toISOString().slice(0, 16)}Z, ${SECONDS} s a scenario, ${CLIENTS} clients, ${CUSTOMERS} customers, on ${cpus().length} CPUs.
\`settlement:verify\`: ${settlementVerified ? 'passed' : 'FAILED'} (${settlementBatches} batch(es)). Violations in all: ${violations}.

${table}
<!-- chaos:end -->`;
const doc = readFileSync(docPath, 'utf8');
writeFileSync(docPath, doc.replace(/<!-- chaos:start -->[\s\S]*?<!-- chaos:end -->/, section));
process.exitCode = violations === 0 ? 0 : 1;
