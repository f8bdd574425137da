import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSim, type Sim } from './test/harness.js';

describe('SMS provider', () => {
  let sim: Sim;
  beforeAll(async () => {
    sim = await startSim();
  });
  afterAll(() => sim.close());

  it('refuses a send without the API key, or with a wrong one', async () => {
    expect(await sim.call('POST', '/v1/sms', { to: '+8613800138000', text: 'x' }, { auth: false })).toEqual({
      status: 401,
      body: { code: 'unauthorized' },
    });
    expect((await sim.call('POST', '/v1/sms', { to: '+8613800138000', text: 'x' }, { auth: 'wrong' })).status).toBe(
      401,
    );
  });

  it('sends messages and shows them in the inbox newest first, only for that number', async () => {
    const first = await sim.call('POST', '/v1/sms', { to: '+8613800000001', text: 'code 111111' });
    const second = await sim.call('POST', '/v1/sms', { to: '+8613800000001', text: 'code 222222' });
    await sim.call('POST', '/v1/sms', { to: '+8613800000002', text: 'someone else' });
    expect(first.status).toBe(202);
    expect(first.body.messageId).toEqual(expect.any(String));

    // Unencoded, as in the protocol's example: the "+" arrives as a space and is restored.
    const inbox = await sim.call('GET', '/sms/inbox?to=+8613800000001&limit=20', undefined, { auth: false });
    expect(inbox.status).toBe(200);
    expect(inbox.body.messages.map((m: { text: string }) => m.text)).toEqual(['code 222222', 'code 111111']);
    expect(inbox.body.messages[0]).toEqual({
      messageId: second.body.messageId,
      to: '+8613800000001',
      text: 'code 222222',
      sentAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const encoded = await sim.call('GET', '/sms/inbox?to=%2B8613800000001&limit=1');
    expect(encoded.body.messages).toHaveLength(1);
  });

  it('answers bad input with 400 invalid_request listing each field', async () => {
    const bad = await sim.call('POST', '/v1/sms', { to: '13800138000', text: '' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_request');
    expect(bad.body.errors.map((e: { path: string }) => e.path).sort()).toEqual(['body.text', 'body.to']);
    expect((await sim.call('POST', '/v1/sms', '{not json')).body.code).toBe('invalid_request');
    expect((await sim.call('POST', '/v1/sms', { to: '+8613800138000', text: 'x'.repeat(1001) })).status).toBe(400);
    expect((await sim.call('GET', '/sms/inbox?limit=1000')).status).toBe(400);
    expect((await sim.call('GET', '/sms/inbox?to=abc')).status).toBe(400);
  });

  it('refuses a body over the size limit with 413, not a 5xx', async () => {
    const huge = await sim.call('POST', '/v1/sms', { to: '+8613800138000', text: 'x'.repeat(20_000) });
    expect(huge).toEqual({ status: 413, body: expect.objectContaining({ code: 'payload_too_large' }) });
  });

  it('forgets every message on reset', async () => {
    await sim.call('POST', '/v1/sms', { to: '+8613800000003', text: 'hello' });
    expect((await sim.call('POST', '/admin/reset', undefined, { auth: false })).status).toBe(204);
    expect((await sim.call('GET', '/sms/inbox?to=%2B8613800000003')).body.messages).toEqual([]);
  });
});
