/**
 * The SSRF guard: which addresses are refused (IPv4, IPv6 and IPv4 embedded in IPv6), URLs checked at
 * registration (literal or resolved hosts), and the delivery-time lookup that checks the address the
 * socket actually connects to, so a DNS answer that turns private after registration is caught.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainError } from './errors.js';
import { checkOutboundUrl, guardedLookup, isForbiddenAddress, literalHostForbidden } from './ssrf.js';

describe('isForbiddenAddress', () => {
  const forbidden = [
    '0.0.0.0',
    '10.1.2.3',
    '100.64.0.1',
    '100.100.100.200', // Alibaba Cloud metadata (CGNAT range)
    '127.0.0.1',
    '127.255.255.254',
    '169.254.169.254', // cloud metadata
    '172.16.0.1',
    '172.31.255.255',
    '192.0.0.8',
    '192.0.2.1',
    '192.168.1.1',
    '198.18.0.1',
    '224.0.0.1',
    '239.255.255.250',
    '255.255.255.255',
    '::',
    '::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '::ffff:169.254.169.254',
    '::127.0.0.1',
    '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
    '2002:c0a8:0101::1', // 6to4 of 192.168.1.1
    'fc00::1',
    'fd00:ec2::254', // AWS metadata over IPv6
    'fe80::1',
    'fe80::1%eth0',
    'fec0::1',
    'ff02::1',
    '2001:db8::1',
    '2001::1', // Teredo
    '100::1',
    'not-an-address',
    '1.2.3',
  ];
  const allowed = [
    '1.1.1.1',
    '8.8.8.8',
    '100.63.255.255',
    '100.128.0.0',
    '172.15.255.255',
    '172.32.0.0',
    '192.169.0.1',
    '223.5.5.5',
    '::ffff:8.8.8.8',
    '64:ff9b::808:808',
    '2002:0808:0808::1',
    '2400:3200::1',
    '2606:4700:4700::1111',
  ];
  it.each(forbidden)('refuses %s', (address) => expect(isForbiddenAddress(address)).toBe(true));
  it.each(allowed)('allows %s', (address) => expect(isForbiddenAddress(address)).toBe(false));
});

describe('checkOutboundUrl (registration)', () => {
  const resolver = (table: Record<string, string[]>) => (host: string) =>
    table[host] ? Promise.resolve(table[host]) : Promise.reject(new Error('ENOTFOUND'));
  const resolve = resolver({
    'shop.example.com': ['93.184.216.34', '2606:2800:220:1::1'],
    'internal.example.com': ['93.184.216.34', '10.0.0.5'],
    'metadata.example.com': ['169.254.169.254'],
    'empty.example.com': [],
  });
  const refusal = async (url: string, allowPrivate = false) => {
    try {
      await checkOutboundUrl(url, { allowPrivate, resolve });
      return null;
    } catch (error) {
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ code: 'webhook_url_forbidden', status: 422 });
      return (error as Error).message;
    }
  };

  it('accepts public hosts and public literals', async () => {
    expect(await refusal('https://shop.example.com/notify')).toBeNull();
    expect(await refusal('http://93.184.216.34:8080/hook')).toBeNull();
    expect(await refusal('https://[2606:4700:4700::1111]/hook')).toBeNull();
  });

  it('refuses private literals, hosts resolving (even partly) to private addresses, and unresolvable hosts', async () => {
    expect(await refusal('http://127.0.0.1:3000/')).toMatch(/127\.0\.0\.1/);
    expect(await refusal('http://[::1]/')).toMatch(/::1/);
    expect(await refusal('http://[::ffff:a9fe:a9fe]/latest/meta-data')).not.toBeNull();
    expect(await refusal('http://2130706433/')).not.toBeNull(); // 127.0.0.1 as one number (WHATWG URL normalises it)
    expect(await refusal('http://0x7f.1/')).not.toBeNull();
    expect(await refusal('https://internal.example.com/')).toMatch(/10\.0\.0\.5/);
    expect(await refusal('https://metadata.example.com/')).toMatch(/169\.254\.169\.254/);
    expect(await refusal('https://nowhere.example.com/')).toMatch(/does not resolve/);
    expect(await refusal('https://empty.example.com/')).toMatch(/does not resolve/);
  });

  it('refuses other schemes and credentials whatever the flag', async () => {
    expect(await refusal('ftp://shop.example.com/', true)).not.toBeNull();
    expect(await refusal('https://user:pass@shop.example.com/', true)).not.toBeNull();
    expect(await refusal('not a url', true)).not.toBeNull();
  });

  it('lets everything http(s) through with allowPrivate (tests, demo)', async () => {
    expect(await refusal('http://127.0.0.1:3000/', true)).toBeNull();
    expect(literalHostForbidden(new URL('http://127.0.0.1/'), true)).toBe(false);
    expect(literalHostForbidden(new URL('http://127.0.0.1/'), false)).toBe(true);
    expect(literalHostForbidden(new URL('http://[::1]/'), false)).toBe(true);
    expect(literalHostForbidden(new URL('http://shop.example.com/'), false)).toBe(false);
  });
});

describe('guardedLookup (delivery)', () => {
  let server: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    server = createServer((_request, response) => {
      hits += 1;
      response.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  /** A host that "rebinds": registered while public, now answering with the loopback address. */
  const rebound = () => Promise.resolve(['127.0.0.1']);

  function get(allowPrivate: boolean): Promise<number> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        `http://rebound.example.com:${port}/`,
        { lookup: guardedLookup({ allowPrivate, resolve: rebound }) },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  it('refuses to connect when the answer at delivery time is private', async () => {
    const before = hits;
    await expect(get(false)).rejects.toMatchObject({ code: 'EFORBIDDEN' });
    expect(hits).toBe(before);
  });

  it('connects to the address it checked when private networks are allowed', async () => {
    const before = hits;
    expect(await get(true)).toBe(200);
    expect(hits).toBe(before + 1);
  });
});
