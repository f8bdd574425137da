import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildBankSim } from '@yika/bank-sim';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config.js';
import { BankSimSmsSender, createSmsSender, HttpSmsSender, SmsDeliveryError } from './sms.js';

const noSleep = async () => {};

describe('BankSimSmsSender', () => {
  let sim: FastifyInstance;
  let baseUrl: string;
  beforeAll(async () => {
    sim = buildBankSim({ logLevel: false, apiKey: 'test-key' });
    baseUrl = await sim.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await sim.close();
  });

  it('delivers to the simulator inbox with the API key', async () => {
    const sender = createSmsSender(loadConfig({ BANK_SIM_URL: baseUrl, BANK_SIM_API_KEY: 'test-key' }));
    const { messageId } = await sender.send({ to: '+8613900000001', text: 'Yika code 123456' });
    expect(messageId).toEqual(expect.any(String));
    const inbox = (await (await fetch(`${baseUrl}/sms/inbox?to=%2B8613900000001`)).json()) as {
      messages: { text: string }[];
    };
    expect(inbox.messages[0]?.text).toBe('Yika code 123456');
  });

  it('fails without retrying when the key is refused', async () => {
    const sender = new BankSimSmsSender({ baseUrl, apiKey: 'wrong', timeoutMs: 1_000, sleep: noSleep });
    await expect(sender.send({ to: '+8613900000001', text: 'x' })).rejects.toThrow(/answered 401/);
  });
});

describe('HttpSmsSender', () => {
  let server: Server;
  let url: string;
  const seen: { authorization: string | undefined; body: string }[] = [];
  let script: ('ok' | '500' | '400' | 'hang')[] = [];
  beforeAll(async () => {
    server = createServer((request: IncomingMessage, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        seen.push({ authorization: request.headers.authorization, body });
        const step = script.shift() ?? 'ok';
        if (step === 'hang') return; // never answers: the sender's timeout must end the attempt
        response.writeHead(step === 'ok' ? 200 : Number(step), { 'content-type': 'application/json' });
        response.end(step === 'ok' ? JSON.stringify({ messageId: 'm-1' }) : '{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('posts JSON with the bearer token, and retries a 5xx and a timeout until accepted', async () => {
    seen.length = 0;
    script = ['500', 'hang', 'ok'];
    const sender = new HttpSmsSender({ url, token: 'tok', timeoutMs: 200, sleep: noSleep });
    expect(await sender.send({ to: '+14155550100', text: 'hi' })).toEqual({ messageId: 'm-1' });
    expect(seen).toHaveLength(3);
    expect(seen[0]).toEqual({ authorization: 'Bearer tok', body: JSON.stringify({ to: '+14155550100', text: 'hi' }) });
  });

  it('gives up after a bounded number of attempts', async () => {
    seen.length = 0;
    script = ['500', '500', '500', 'ok'];
    const sender = new HttpSmsSender({ url, token: 'tok', timeoutMs: 200, sleep: noSleep });
    await expect(sender.send({ to: '+14155550100', text: 'hi' })).rejects.toBeInstanceOf(SmsDeliveryError);
    expect(seen).toHaveLength(3);
  });

  it('does not retry a request the provider refuses (4xx)', async () => {
    seen.length = 0;
    script = ['400'];
    const sender = new HttpSmsSender({ url, token: 'tok', timeoutMs: 200, sleep: noSleep });
    await expect(sender.send({ to: '+14155550100', text: 'hi' })).rejects.toThrow(/answered 400/);
    expect(seen).toHaveLength(1);
  });

  it('is chosen by SMS_PROVIDER=http, which needs SMS_HTTP_URL', async () => {
    expect(createSmsSender(loadConfig({ SMS_PROVIDER: 'http', SMS_HTTP_URL: url }))).toBeInstanceOf(HttpSmsSender);
    expect(() => loadConfig({ SMS_PROVIDER: 'http' })).toThrow(/SMS_HTTP_URL must be set/);
  });
});
