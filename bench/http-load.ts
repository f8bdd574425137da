/**
 * The load generator of `npm run bench:http`, in its own process so it does not share the server's event
 * loop. Reads a job (JSON on stdin), runs autocannon, prints one line of JSON: the result and how many
 * answers were not the expected status.
 */
import autocannon from 'autocannon';
import { paymentCode } from '@yika/server';

export interface LoadJob {
  url: string;
  connections: number;
  /** Run for this many seconds, or until `amount` requests. */
  durationSeconds?: number;
  amount?: number;
  expectStatus: number;
  scenario:
    | { kind: 'trivial'; path: string }
    | { kind: 'code-payment'; merchantKey: string; devices: { deviceIndex: string; secret: string }[] }
    | { kind: 'p2p'; pin: string; payers: { token: string; payeePhone: string }[] };
}

export interface LoadResult {
  requests: number;
  unexpected: number;
  statuses: Record<string, number>;
  rps: number;
  p50: number;
  p99: number;
  durationSeconds: number;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const job = JSON.parse(await readStdin()) as LoadJob;
let sequence = 0;
const statuses: Record<string, number> = {};

function nextRequest(): { method: 'GET' | 'POST'; path: string; headers: Record<string, string>; body?: string } {
  const scenario = job.scenario;
  sequence += 1;
  if (scenario.kind === 'trivial') return { method: 'GET', path: scenario.path, headers: {} };
  if (scenario.kind === 'code-payment') {
    // Each device's code is good once per minute for the current step and once for the previous one.
    const round = Math.floor((sequence - 1) / scenario.devices.length);
    const device = scenario.devices[(sequence - 1) % scenario.devices.length]!;
    const code = paymentCode(device.deviceIndex, Buffer.from(device.secret, 'hex'), Date.now() - round * 60_000);
    return {
      method: 'POST',
      path: '/v1/merchant/payment-code-charges',
      headers: {
        authorization: `Bearer ${scenario.merchantKey}`,
        'content-type': 'application/json',
        'idempotency-key': `bench-code-${process.pid}-${sequence}`,
      },
      body: JSON.stringify({ code, amount: 1 + (sequence % 500) }),
    };
  }
  const payer = scenario.payers[(sequence - 1) % scenario.payers.length]!;
  return {
    method: 'POST',
    path: '/v1/wallet/transfers',
    headers: {
      authorization: `Bearer ${payer.token}`,
      'content-type': 'application/json',
      'idempotency-key': `bench-p2p-${process.pid}-${sequence}`,
    },
    body: JSON.stringify({ phone: payer.payeePhone, amount: 1 + (sequence % 100), pin: scenario.pin }),
  };
}

const started = Date.now();
const result = await autocannon({
  url: job.url,
  connections: job.connections,
  ...(job.amount !== undefined ? { amount: job.amount } : { duration: job.durationSeconds ?? 10 }),
  requests: [
    {
      setupRequest: (request) => ({ ...request, ...nextRequest() }),
      onResponse: (status) => {
        statuses[status] = (statuses[status] ?? 0) + 1;
      },
    },
  ],
});
const durationSeconds = (Date.now() - started) / 1000;
const requests = Object.values(statuses).reduce((sum, count) => sum + count, 0);
const output: LoadResult = {
  requests,
  unexpected: requests - (statuses[job.expectStatus] ?? 0) + result.errors + result.timeouts,
  statuses,
  rps: requests / durationSeconds,
  p50: result.latency.p50,
  p99: result.latency.p99,
  durationSeconds,
};
process.stdout.write(`${JSON.stringify(output)}\n`);
