/**
 * SSRF guard for URLs merchants give us (webhook endpoints, orders' notify URLs): we POST to them from
 * inside the bank's network, so a URL must not reach loopback, private, link-local (cloud metadata),
 * CGNAT, multicast or other special-purpose addresses, in IPv4 or IPv6 (IPv4-mapped, NAT64 and 6to4
 * forms are unwrapped and checked as IPv4).
 *
 * Two checks: `checkOutboundUrl` when the URL is registered (resolves the host, refuses if any address is
 * forbidden), and `guardedLookup` at delivery time, passed to `http.request` as its `lookup`, so the
 * address actually connected to is the one checked (a DNS answer that changed since registration, i.e.
 * rebinding, is caught). `allowPrivate` (config `WEBHOOK_ALLOW_PRIVATE_NETWORKS`) turns both off for tests
 * and the demo, which deliver to a local endpoint.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { DomainError } from './errors.js';

/** [address, prefix length] of every IPv4 range refused. */
const FORBIDDEN_V4: readonly [string, number][] = [
  ['0.0.0.0', 8], // "this network"
  ['10.0.0.0', 8], // private
  ['100.64.0.0', 10], // CGNAT (also Alibaba Cloud's metadata 100.100.100.200)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata 169.254.169.254
  ['172.16.0.0', 12], // private
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.0.2.0', 24], // documentation
  ['192.88.99.0', 24], // 6to4 relay anycast
  ['192.168.0.0', 16], // private
  ['198.18.0.0', 15], // benchmarking
  ['198.51.100.0', 24], // documentation
  ['203.0.113.0', 24], // documentation
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
];

/** [address, prefix length] of every IPv6 range refused (embedded IPv4 forms are handled separately). */
const FORBIDDEN_V6: readonly [string, number][] = [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['100::', 64], // discard
  ['2001::', 23], // IETF protocol assignments (Teredo, ORCHID, …)
  ['2001:db8::', 32], // documentation
  ['fc00::', 7], // unique local (includes AWS metadata fd00:ec2::254)
  ['fe80::', 10], // link-local
  ['fec0::', 10], // site-local (deprecated)
  ['ff00::', 8], // multicast
];

function v4Bytes(address: string): number[] | null {
  const parts = address.split('.');
  if (parts.length !== 4) return null;
  const bytes = parts.map((part) => (/^\d{1,3}$/.test(part) ? Number(part) : NaN));
  return bytes.every((byte) => byte >= 0 && byte <= 255) ? bytes : null;
}

/** 16 bytes of an IPv6 address (with `::` and a trailing dotted quad), or null. */
function v6Bytes(input: string): number[] | null {
  const address = input.replace(/%.*$/, ''); // zone id
  let tail: number[] = [];
  let text = address;
  const dotted = /:(\d{1,3}(\.\d{1,3}){3})$/.exec(address);
  if (dotted) {
    const v4 = v4Bytes(dotted[1]!);
    if (!v4) return null;
    tail = v4;
    text = `${address.slice(0, dotted.index)}:0:0`;
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (part: string) => (part === '' ? [] : part.split(':'));
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const missing = 8 - head.length - rest.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest];
  const bytes: number[] = [];
  for (const group of groups) {
    if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    const value = parseInt(group, 16);
    bytes.push(value >> 8, value & 0xff);
  }
  if (tail.length === 4) bytes.splice(12, 4, ...tail);
  return bytes;
}

function inPrefix(bytes: number[], network: number[], prefix: number): boolean {
  for (let bit = 0; bit < prefix; bit += 1) {
    const mask = 0x80 >> (bit % 8);
    if ((bytes[bit >> 3]! & mask) !== (network[bit >> 3]! & mask)) return false;
  }
  return true;
}

const V4_RANGES = FORBIDDEN_V4.map(([address, prefix]) => ({ network: v4Bytes(address)!, prefix }));
const V6_RANGES = FORBIDDEN_V6.map(([address, prefix]) => ({ network: v6Bytes(address)!, prefix }));

function forbiddenV4(bytes: number[]): boolean {
  return V4_RANGES.some((range) => inPrefix(bytes, range.network, range.prefix));
}

/**
 * True when an IP address (v4 or v6 text) must not be reached; also true for anything that is not an IP
 * address, so a parsing gap fails closed.
 */
export function isForbiddenAddress(address: string): boolean {
  const version = isIP(address.replace(/%.*$/, ''));
  if (version === 4) return forbiddenV4(v4Bytes(address)!);
  if (version !== 6) return true;
  const bytes = v6Bytes(address);
  if (!bytes) return true;
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  // IPv4-mapped ::ffff:a.b.c.d and IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks).
  if (zeros(0, 10) && ((bytes[10] === 0xff && bytes[11] === 0xff) || (bytes[10] === 0 && bytes[11] === 0))) {
    return forbiddenV4(bytes.slice(12));
  }
  // NAT64 64:ff9b::/96 and 64:ff9b:1::/48 reach the embedded IPv4 address.
  if (inPrefix(bytes, v6Bytes('64:ff9b::')!, 96) || inPrefix(bytes, v6Bytes('64:ff9b:1::')!, 48)) {
    return forbiddenV4(bytes.slice(12));
  }
  // 6to4 2002:a.b.c.d::/48 tunnels to the embedded IPv4 address.
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return forbiddenV4(bytes.slice(2, 6));
  return V6_RANGES.some((range) => inPrefix(bytes, range.network, range.prefix));
}

export const urlForbidden = (detail: string) =>
  new DomainError({ code: 'webhook_url_forbidden', status: 422, title: 'URL not allowed', detail });

export type Resolver = (hostname: string) => Promise<string[]>;

const systemResolver: Resolver = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) => {
      if (error) reject(error);
      else resolve(addresses.map((entry) => entry.address));
    });
  });

/** The URL's host as an IP literal (brackets of IPv6 removed), or null for a name. */
function literalHost(url: URL): string | null {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) === 0 ? null : host;
}

/**
 * Refuses (422 `webhook_url_forbidden`) a URL that is not http(s), carries credentials, or whose host is
 * or resolves to a forbidden address; a host that does not resolve is refused too.
 */
export async function checkOutboundUrl(
  text: string,
  options: { allowPrivate: boolean; resolve?: Resolver },
): Promise<void> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw urlForbidden('Not a URL.');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw urlForbidden('Only http and https URLs.');
  if (url.username !== '' || url.password !== '') throw urlForbidden('A URL must not carry credentials.');
  if (options.allowPrivate) return;
  const literal = literalHost(url);
  let addresses: string[];
  if (literal !== null) {
    addresses = [literal];
  } else {
    try {
      addresses = await (options.resolve ?? systemResolver)(url.hostname);
    } catch {
      throw urlForbidden(`The host ${url.hostname} does not resolve.`);
    }
  }
  if (addresses.length === 0) throw urlForbidden(`The host ${url.hostname} does not resolve.`);
  const bad = addresses.find(isForbiddenAddress);
  if (bad !== undefined) {
    throw urlForbidden(
      `The host ${url.hostname} is (or resolves to) ${bad}: a loopback, private, link-local or other non-public address.`,
    );
  }
}

/** For an IP-literal URL at delivery time (`http.request` does not call `lookup` for those). */
export function literalHostForbidden(url: URL, allowPrivate: boolean): boolean {
  if (allowPrivate) return false;
  const literal = literalHost(url);
  return literal !== null && isForbiddenAddress(literal);
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `http.request`/`net.connect` that refuses to connect when any address the host
 * resolves to is forbidden (checked on the very answer used to connect: DNS rebinding cannot slip in).
 */
export function guardedLookup(options: { allowPrivate: boolean; resolve?: Resolver }) {
  return (hostname: string, lookupOptions: LookupOptions, callback: LookupCallback): void => {
    const done = (error: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (error) return callback(error, []);
      const bad = addresses.find((entry) => isForbiddenAddress(entry.address));
      if (!options.allowPrivate && bad) {
        const refused: NodeJS.ErrnoException = new Error(`${hostname} resolves to a forbidden address ${bad.address}`);
        refused.code = 'EFORBIDDEN';
        return callback(refused, []);
      }
      if (addresses.length === 0) {
        const none: NodeJS.ErrnoException = new Error(`${hostname} does not resolve`);
        none.code = 'ENOTFOUND';
        return callback(none, []);
      }
      if (lookupOptions.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    if (options.resolve) {
      options
        .resolve(hostname)
        .then((list) =>
          done(
            null,
            list.map((address) => ({ address, family: isIP(address) })),
          ),
        )
        .catch((error: unknown) => done(error instanceof Error ? error : new Error(String(error)), []));
      return;
    }
    dnsLookup(hostname, { ...lookupOptions, all: true }, (error, addresses) => done(error, addresses ?? []));
  };
}
