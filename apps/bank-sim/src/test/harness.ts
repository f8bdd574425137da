/** Test harness: the simulator on a real port and a callback receiver that records what the bank sends. */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildBankSim, type BankSimOptions } from '../index.js';

/** Untyped JSON, as `response.json()` gives it: tests probe it freely. */
type JsonBody = ReturnType<typeof JSON.parse>;

export const API_KEY = 'test-bank-key';
export const CALLBACK_SECRET = 'test-callback-secret';

export interface Sim {
  url: string;
  close(): Promise<void>;
  /** Calls the simulator with the API key (unless `auth: false`) and parses the JSON answer. */
  call(
    method: string,
    path: string,
    body?: unknown,
    options?: { auth?: boolean | string },
  ): Promise<{ status: number; body: JsonBody }>;
}

export async function startSim(options: BankSimOptions = {}): Promise<Sim> {
  const app = buildBankSim({
    logLevel: false,
    apiKey: API_KEY,
    callbackSecret: CALLBACK_SECRET,
    callbackRetryBaseMs: 20,
    seed: 42,
    env: {},
    ...options,
    faults: { latencyMs: 5, ...options.faults },
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    close: () => app.close(),
    async call(method, path, body, callOptions = {}) {
      const headers: Record<string, string> = {};
      const auth = callOptions.auth ?? true;
      if (auth !== false) headers.authorization = `Bearer ${auth === true ? API_KEY : auth}`;
      if (body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(url + path, {
        method,
        headers,
        body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
}

export interface ReceivedCallback {
  rawBody: string;
  body: JsonBody;
  headers: IncomingHttpHeaders;
  receivedAt: number;
}

export interface Receiver {
  /** Changes on each clear(): callbacks sent to an earlier URL (a previous test's) are not recorded. */
  readonly url: string;
  received: ReceivedCallback[];
  /** Status to answer with; a function of the callback count lets a test fail the first attempts. */
  respondWith: (callback: ReceivedCallback, index: number) => number;
  /** Resolves when `count` callbacks have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedCallback[]>;
  /** Forgets what was received and answers 200 again, for the next test. */
  clear(): void;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const waiters: { count: number; resolve: () => void }[] = [];
  let base = '';
  let generation = 0;
  const receiver: Receiver = {
    get url() {
      return `${base}/callbacks/${generation}`;
    },
    received: [],
    respondWith: () => 200,
    async waitFor(count, timeoutMs = 5_000) {
      if (receiver.received.length < count) {
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`expected ${count} callbacks, got ${receiver.received.length}`)),
            timeoutMs,
          );
          waiters.push({
            count,
            resolve: () => {
              clearTimeout(timer);
              resolve();
            },
          });
        });
      }
      return receiver.received;
    },
    clear() {
      generation += 1;
      receiver.received = [];
      receiver.respondWith = () => 200;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      if (request.url !== `/callbacks/${generation}`) {
        response.end();
        return;
      }
      const rawBody = Buffer.concat(chunks).toString('utf8');
      const callback = { rawBody, body: JSON.parse(rawBody), headers: request.headers, receivedAt: Date.now() };
      const index = receiver.received.push(callback) - 1;
      response.statusCode = receiver.respondWith(callback, index);
      response.end();
      for (const waiter of waiters.filter((w) => receiver.received.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` returns a value that is not undefined. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}

/** Verifies a card through the SMS code and returns its token. */
export async function bindCard(sim: Sim, cardNumber: string, phone: string): Promise<string> {
  const started = await sim.call('POST', '/v1/cards/verifications', {
    requestId: `bind-${cardNumber}-${phone}-${Math.random()}`,
    cardNumber,
    holderName: 'Test Holder',
    phone,
  });
  if (started.status !== 201) throw new Error(`verification refused: ${JSON.stringify(started.body)}`);
  const inbox = await sim.call('GET', `/sms/inbox?to=${encodeURIComponent(phone)}&limit=1`);
  const code = /\b(\d{6})\b/.exec(inbox.body.messages[0].text)![1];
  const confirmed = await sim.call('POST', `/v1/cards/verifications/${started.body.verificationId}/confirm`, { code });
  return confirmed.body.cardToken;
}

/** Card numbers that pass Luhn, distinct per `n`: tests that share a simulator use their own cards. */
export function testCard(n: number): string {
  const body = `62220200${String(n).padStart(9, '0')}`;
  for (let check = 0; check <= 9; check += 1) {
    const candidate = body + String(check);
    let sum = 0;
    for (let index = 0; index < candidate.length; index += 1) {
      let digit = Number(candidate[candidate.length - 1 - index]);
      if (index % 2 === 1) digit = digit * 2 > 9 ? digit * 2 - 9 : digit * 2;
      sum += digit;
    }
    if (sum % 10 === 0) return candidate;
  }
  throw new Error('unreachable');
}
