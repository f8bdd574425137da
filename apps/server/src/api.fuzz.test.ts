/**
 * Hostile input against every route of the OpenAPI document. Each generated request carries at least one
 * fault the route must refuse: missing or wrong authentication, a body that breaks the route's schema
 * (malformed JSON, wrong types, missing fields, overlong strings, out-of-range numbers, values outside an
 * enum), a malformed path id or query value, a missing idempotency key, or another user's id. Every
 * answer must be a 4xx problem JSON, never a 5xx; afterwards the ledger invariant holds and no table
 * gained or lost a row, and no request of one user or merchant read another's data.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPaymentsHarness, PIN, type PaymentsHarness } from './modules/payments/test/harness.js';

const CASES_PER_ROUTE = Number(process.env.FUZZ_CASES_PER_ROUTE ?? 200);

type JsonSchema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  pattern?: string;
};

interface Parameter {
  in: 'path' | 'query' | 'header';
  name: string;
  required?: boolean;
  schema?: JsonSchema;
}

interface Operation {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  parameters: Parameter[];
  body: JsonSchema | null;
  requiresAuth: boolean;
  takesIdempotencyKey: boolean;
}

interface Actor {
  name: string;
  headers: Record<string, string>;
}

interface FuzzCase {
  url: string;
  method: Operation['method'];
  headers: Record<string, string>;
  payload?: string;
  fault: string;
}

/** Ids that belong to someone: requests by anyone else must not see them. */
interface Owned {
  /** Actors entitled to it (operations may read any merchant). */
  owners: string[];
  id: string;
}

// Public by design: a payment request link and a checkout page are opened by whoever holds the link.
const SHAREABLE = new Set(['GET /v1/wallet/payment-requests/{requestId}', 'GET /v1/checkout/{id}']);

// Tables a refused request may still write to, and why.
const LOG_TABLES = new Set<string>([]);

const hostileString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '\u0000',
    '\u202e\u0635\u0648\u0631',
    '👨‍👩‍👧‍👦'.repeat(50),
    "'; drop table ledger_transfers; --",
    '<script>alert(1)</script>',
    '../../etc/passwd',
    '%00%ff',
    'NaN',
    '１２３４５６',
    '\ud800',
  ),
  fc.string({ minLength: 1_000, maxLength: 5_000 }),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.constantFrom(-1, 0, 2 ** 53, -(2 ** 53), 1e308, -1e308, 0.001, 99_999_999_999_999),
);
const anyJson = fc.jsonValue({ maxDepth: 3 });

/** Percent-encodes; a lone surrogate (not encodable) becomes the invalid UTF-8 it would have been. */
function encodeHostile(value: string): string {
  try {
    return encodeURIComponent(value);
  } catch {
    return '%ED%A0%80';
  }
}

function resolve(schema: JsonSchema, components: Record<string, JsonSchema>): JsonSchema {
  if (!schema.$ref) return schema;
  const name = schema.$ref.split('/').pop() ?? '';
  const target = components[name];
  if (!target) throw new Error(`unresolved ${schema.$ref}`);
  return resolve(target, components);
}

function types(schema: JsonSchema): string[] {
  if (schema.type) return Array.isArray(schema.type) ? schema.type : [schema.type];
  const variants = schema.anyOf ?? schema.oneOf;
  return variants ? variants.flatMap(types) : [];
}

/** A JSON value of a type the schema does not allow, or null when the schema allows any type. */
function wrongType(schema: JsonSchema): fc.Arbitrary<unknown> | null {
  const allowed = types(schema);
  if (allowed.length === 0) return null;
  const candidates: Array<[string, fc.Arbitrary<unknown>]> = [
    ['string', hostileString],
    ['number', hostileNumber],
    ['boolean', fc.boolean()],
    ['object', fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 3 })],
    ['array', fc.array(anyJson, { maxLength: 3 })],
    ['null', fc.constant(null)],
  ];
  // An integer is also a number: a number schema is only broken by the other types.
  const usable = candidates.filter(
    ([type]) => !allowed.includes(type) && !(type === 'number' && allowed.includes('integer')),
  );
  return usable.length > 0 ? fc.oneof(...usable.map(([, arbitrary]) => arbitrary)) : null;
}

/** A value of the right type that breaks one of the schema's bounds, or null when it has none. */
function outOfBounds(schema: JsonSchema): fc.Arbitrary<unknown> | null {
  const options: fc.Arbitrary<unknown>[] = [];
  if (schema.maxLength !== undefined) {
    options.push(fc.string({ minLength: schema.maxLength + 1, maxLength: schema.maxLength + 200 }));
  }
  if (schema.minLength !== undefined && schema.minLength > 0) {
    options.push(fc.string({ maxLength: schema.minLength - 1 }));
  }
  const max = schema.maximum ?? schema.exclusiveMaximum;
  if (max !== undefined && max < Number.MAX_SAFE_INTEGER)
    options.push(fc.bigInt({ min: BigInt(Math.ceil(max)) + 1n, max: BigInt(Math.ceil(max)) + 10n ** 15n }).map(Number));
  const min = schema.minimum ?? schema.exclusiveMinimum;
  if (min !== undefined && min > Number.MIN_SAFE_INTEGER)
    options.push(
      fc.bigInt({ min: BigInt(Math.floor(min)) - 10n ** 15n, max: BigInt(Math.floor(min)) - 1n }).map(Number),
    );
  if (schema.enum && schema.enum.every((value) => typeof value === 'string')) {
    options.push(hostileString.filter((value) => !schema.enum!.includes(value)));
  }
  if (schema.format === 'uuid') options.push(hostileString);
  return options.length > 0 ? fc.oneof(...options) : null;
}

/** Plausible-looking hostile content of the right JSON type, for the fields that carry no fault. */
function filler(schema: JsonSchema, components: Record<string, JsonSchema>, depth = 0): fc.Arbitrary<unknown> {
  const resolved = resolve(schema, components);
  if (resolved.enum && resolved.enum.length > 0) return fc.constantFrom(...resolved.enum);
  const variants = resolved.anyOf ?? resolved.oneOf;
  if (variants && variants.length > 0)
    return fc.oneof(...variants.map((variant) => filler(variant, components, depth)));
  const [type] = types(resolved);
  switch (type ?? '') {
    case 'string':
      return resolved.format === 'uuid' ? fc.uuid() : hostileString;
    case 'integer':
      return fc.oneof(fc.integer(), fc.constantFrom(0, 1, 100, 2 ** 31 - 1));
    case 'number':
      return hostileNumber;
    case 'boolean':
      return fc.boolean();
    case 'array':
      return depth > 2
        ? fc.constant([])
        : fc.array(filler(resolved.items ?? {}, components, depth + 1), { maxLength: 3 });
    case 'object': {
      if (depth > 2) return fc.constant({});
      const properties = Object.entries(resolved.properties ?? {});
      return fc.record(
        Object.fromEntries(properties.map(([name, property]) => [name, filler(property, components, depth + 1)])),
      );
    }
    default:
      return anyJson;
  }
}

/** Bodies that are certainly invalid for the schema: each arbitrary names its fault. */
function invalidBodies(schema: JsonSchema, components: Record<string, JsonSchema>): fc.Arbitrary<[string, string]>[] {
  const resolved = resolve(schema, components);
  const base = filler(resolved, components) as fc.Arbitrary<Record<string, unknown>>;
  const bodies: fc.Arbitrary<[string, string]>[] = [
    fc
      .constantFrom('{', '{"a":', '[1,2', 'null,', '{"amount": 1e}', '\u0000', '{"__proto__": {"x": 1}, ')
      .map((text): [string, string] => ['malformed JSON', text]),
  ];
  const topWrong = wrongType(resolved);
  if (topWrong)
    bodies.push(topWrong.map((value): [string, string] => ['body of the wrong type', JSON.stringify(value)]));
  if (!types(resolved).includes('object')) return bodies;
  for (const required of resolved.required ?? []) {
    bodies.push(
      base.map((value): [string, string] => {
        const copy: Record<string, unknown> = { ...value, unexpectedField: 'x' };
        delete copy[required];
        return [`missing ${required}`, JSON.stringify(copy)];
      }),
    );
  }
  for (const [name, property] of Object.entries(resolved.properties ?? {})) {
    const target = resolve(property, components);
    for (const [fault, arbitrary] of [
      ['wrong type', wrongType(target)],
      ['out of bounds', outOfBounds(target)],
    ] as const) {
      if (!arbitrary) continue;
      bodies.push(
        fc
          .tuple(base, arbitrary)
          .map(([value, bad]): [string, string] => [`${name}: ${fault}`, JSON.stringify({ ...value, [name]: bad })]),
      );
    }
  }
  return bodies;
}

describe('every route refuses hostile input with a 4xx problem and changes nothing', () => {
  let harness: PaymentsHarness;
  let operations: Operation[];
  let components: Record<string, JsonSchema>;
  let actors: Actor[];
  const owned: Owned[] = [];
  let countsBefore: Map<string, number>;

  async function rowCounts(): Promise<Map<string, number>> {
    const { db } = harness.fixture;
    const { rows } = await db.query<{ table_name: string }>(
      `select table_name from information_schema.tables
       where table_schema = current_schema() and table_type = 'BASE TABLE' order by table_name`,
    );
    const counts = new Map<string, number>();
    for (const { table_name: table } of rows) {
      if (LOG_TABLES.has(table)) continue;
      const result = await db.query<{ n: string }>(`select count(*)::text as n from "${table}"`);
      counts.set(table, Number(result.rows[0]?.n ?? 0));
    }
    return counts;
  }

  beforeAll(async () => {
    harness = await openPaymentsHarness();
    const { app } = harness.fixture;
    const alice = await harness.newCustomer(1_000_00n);
    const bob = await harness.newCustomer(1_000_00n);
    const shop = await harness.newMerchant();
    const otherShop = await harness.newMerchant(30, '老李烧烤');

    // Things Alice, Bob and the shops own, whose ids the fuzzer offers to everyone else.
    const request = await app.inject({
      method: 'POST',
      url: '/v1/wallet/transfers',
      headers: { ...alice.headers, 'idempotency-key': 'fuzz-setup-transfer' },
      payload: { phone: bob.phone, amount: 1_00, pin: PIN },
    });
    expect(request.statusCode, request.body).toBe(201);
    const order = await app.inject({
      method: 'POST',
      url: '/v1/merchant/qr-codes/dynamic',
      headers: { ...shop.headers, 'idempotency-key': 'fuzz-setup-order' },
      payload: { amount: 12_34, description: 'fuzz' },
    });
    expect(order.statusCode, order.body).toBe(201);
    const orderBody = order.json<{ id: string; qrPayload: string }>();
    const paid = await app.inject({
      method: 'POST',
      url: '/v1/payments/qr/pay',
      headers: { ...alice.headers, 'idempotency-key': 'fuzz-setup-pay' },
      payload: { payload: orderBody.qrPayload, pin: PIN },
    });
    expect(paid.statusCode, paid.body).toBe(201);
    const paymentId = paid.json<{ id: string }>().id;
    const devices = await app.inject({ url: '/v1/me/devices', headers: alice.headers });
    const aliceDevice = devices.json<{ devices: Array<{ id: string }> }>().devices[0]?.id;
    expect(aliceDevice).toBeDefined();
    owned.push(
      { owners: ['shop'], id: orderBody.id },
      { owners: ['shop', 'alice'], id: paymentId },
      { owners: ['alice'], id: aliceDevice! },
      { owners: ['alice'], id: alice.customerId },
      { owners: ['shop', 'ops'], id: shop.id },
    );

    actors = [
      { name: 'nobody', headers: {} },
      { name: 'forged', headers: { authorization: 'Bearer forged-token-0000000000000000000000' } },
      { name: 'malformed', headers: { authorization: 'Basic Og==' } },
      { name: 'alice', headers: alice.headers },
      { name: 'bob', headers: bob.headers },
      { name: 'shop', headers: shop.headers },
      { name: 'otherShop', headers: otherShop.headers },
      { name: 'ops', headers: harness.ops },
    ];

    const document = (await app.inject({ url: '/openapi.json' })).json<{
      paths: Record<
        string,
        Record<string, { parameters?: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>
      >;
      components?: { schemas?: Record<string, JsonSchema> };
    }>();
    components = document.components?.schemas ?? {};
    operations = [];
    for (const [path, methods] of Object.entries(document.paths)) {
      if (!path.startsWith('/v1/')) continue;
      for (const [method, operation] of Object.entries(methods)) {
        const parameters = operation.parameters ?? [];
        const probeUrl = path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000');
        const probe = await app.inject({
          method: method.toUpperCase() as Operation['method'],
          url: probeUrl,
          payload: {},
        });
        operations.push({
          method: method.toUpperCase() as Operation['method'],
          path,
          parameters,
          body: operation.requestBody?.content['application/json']?.schema ?? null,
          requiresAuth: probe.statusCode === 401,
          takesIdempotencyKey: parameters.some(
            (parameter) => parameter.in === 'header' && parameter.name === 'idempotency-key',
          ),
        });
      }
    }
    expect(operations.length).toBeGreaterThan(50);
    countsBefore = await rowCounts();
  }, 300_000);

  afterAll(async () => {
    await harness?.close();
  });

  function arbitraryCase(operation: Operation): fc.Arbitrary<FuzzCase> {
    const pathParameters = [...operation.path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1]!);
    const queryParameters = operation.parameters.filter((parameter) => parameter.in === 'query');
    const faults: fc.Arbitrary<{
      fault: string;
      actor?: Actor;
      path?: Record<string, string>;
      query?: string;
      body?: string;
      dropKey?: boolean;
    }>[] = [];
    const signedIn = actors.filter((actor) => ['alice', 'bob', 'shop', 'otherShop', 'ops'].includes(actor.name));
    const unauthenticated = actors.filter((actor) => ['nobody', 'forged', 'malformed'].includes(actor.name));

    if (operation.requiresAuth) {
      faults.push(fc.constantFrom(...unauthenticated).map((actor) => ({ fault: `auth: ${actor.name}`, actor })));
    }
    if (operation.body) {
      faults.push(
        fc
          .oneof(...invalidBodies(operation.body, components))
          .map(([fault, body]) => ({ fault: `body ${fault}`, body })),
      );
    }
    if (pathParameters.length > 0) {
      const bad = fc.oneof(
        hostileString.filter((value) => value.length > 0),
        fc.constantFrom('0', '-1', 'null', '%2e%2e', "1'or'1'='1"),
      );
      faults.push(
        fc.tuple(fc.constantFrom(...pathParameters), bad).map(([name, value]) => ({
          fault: `path ${name}`,
          path: { [name]: value },
        })),
      );
      if (!SHAREABLE.has(`${operation.method} ${operation.path}`)) {
        // Another party's id, asked for by someone else: must be refused as unknown (or forbidden).
        faults.push(
          fc
            .tuple(fc.constantFrom(...owned), fc.constantFrom(...signedIn), fc.constantFrom(...pathParameters))
            .filter(([item, actor]) => !item.owners.includes(actor.name))
            .map(([item, actor, name]) => ({
              fault: `${item.owners[0]}'s id as ${actor.name}`,
              actor,
              path: { [name]: item.id },
            })),
        );
      }
    }
    for (const parameter of queryParameters) {
      const schema = parameter.schema ? resolve(parameter.schema, components) : {};
      const bad = outOfBounds(schema);
      const badType = types(schema).some((type) => type === 'integer' || type === 'number')
        ? fc.constantFrom('abc', '1e999', '', '0x10', '-')
        : null;
      for (const arbitrary of [bad, badType]) {
        if (arbitrary) {
          faults.push(
            arbitrary.map((value) => ({
              fault: `query ${parameter.name}`,
              query: `${parameter.name}=${encodeHostile(String(value))}`,
            })),
          );
        }
      }
    }
    if (operation.takesIdempotencyKey) {
      faults.push(
        fc
          .constantFrom('missing', 'overlong', 'empty')
          .map((kind) => ({ fault: `idempotency key ${kind}`, dropKey: true, query: kind })),
      );
    }
    if (faults.length === 0) throw new Error(`no fault applies to ${operation.method} ${operation.path}`);

    return fc
      .tuple(fc.oneof(...faults), fc.constantFrom(...actors), fc.boolean())
      .map(([fault, randomActor, extraHeaders]) => {
        const actor = fault.actor ?? randomActor;
        let url = operation.path.replace(/\{([^}]+)\}/g, (_match, name: string) =>
          encodeHostile(fault.path?.[name] ?? '00000000-0000-4000-8000-00000000f022'),
        );
        if (fault.query && !fault.dropKey) url += `?${fault.query}`;
        const headers: Record<string, string> = { ...actor.headers };
        if (operation.takesIdempotencyKey) {
          if (!fault.dropKey) headers['idempotency-key'] = `fuzz-${Math.random().toString(36).slice(2)}`;
          else if (fault.query === 'overlong') headers['idempotency-key'] = 'k'.repeat(5_000);
          else if (fault.query === 'empty') headers['idempotency-key'] = '';
        }
        if (extraHeaders) {
          headers['x-forwarded-for'] = '999.1.1.1, <script>';
          headers['x-request-id'] = 'r'.repeat(300);
        }
        let payload: string | undefined;
        if (operation.body || fault.body !== undefined) {
          // A fault elsewhere (auth, path, query, key) still sends a body, an empty object.
          payload = fault.body ?? '{}';
          headers['content-type'] = 'application/json';
        }
        return {
          url,
          method: operation.method,
          headers,
          ...(payload !== undefined ? { payload } : {}),
          fault: fault.fault,
        };
      });
  }

  it(`answers ${CASES_PER_ROUTE} hostile requests a route with a 4xx problem, changing nothing`, async () => {
    const { app, ledger } = harness.fixture;
    const failures: string[] = [];
    let requests = 0;
    for (const operation of operations) {
      await fc.assert(
        fc.asyncProperty(arbitraryCase(operation), async (request) => {
          requests += 1;
          const response = await app.inject({
            method: request.method,
            url: request.url,
            headers: request.headers,
            ...(request.payload !== undefined ? { payload: request.payload } : {}),
          });
          const label = `${request.method} ${request.url.slice(0, 120)} [${request.fault}] → ${response.statusCode}`;
          if (response.statusCode < 400 || response.statusCode >= 500) {
            failures.push(`${label}: ${response.body.slice(0, 300)}`);
            return;
          }
          const type = String(response.headers['content-type'] ?? '');
          if (!type.startsWith('application/problem+json')) {
            failures.push(`${label}: content-type ${type}`);
            return;
          }
          const problem = response.json<{ code?: unknown; status?: unknown }>();
          if (typeof problem.code !== 'string' || problem.status !== response.statusCode) {
            failures.push(`${label}: not a problem: ${response.body.slice(0, 200)}`);
          }
        }),
        { numRuns: CASES_PER_ROUTE, seed: Number(process.env.FUZZ_SEED ?? 20261125), endOnFailure: true },
      );
    }
    expect(failures.slice(0, 30), `${failures.length} of ${requests} requests misanswered`).toEqual([]);
    expect(requests).toBeGreaterThanOrEqual(operations.length * CASES_PER_ROUTE);

    const verification = await ledger.verify();
    expect(verification.ok, JSON.stringify(verification)).toBe(true);
    const countsAfter = await rowCounts();
    const changed = [...countsAfter].filter(([table, count]) => countsBefore.get(table) !== count);
    expect(changed.map(([table, count]) => `${table}: ${countsBefore.get(table)} → ${count}`)).toEqual([]);
  }, 900_000);
});
