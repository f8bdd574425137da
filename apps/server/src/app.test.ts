import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Database } from '@yika/db';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { serverMigrations } from './migrations.js';
import { DomainError } from './platform/errors.js';
import type { AppModule } from './platform/module.js';
import { buildTestApp, openMigratedDatabase, type TestApp } from './test/app-fixture.js';

class InsufficientFundsError extends DomainError {
  constructor() {
    super({
      code: 'insufficient_funds',
      status: 422,
      title: 'Insufficient funds',
      detail: 'The wallet holds less than 12.00 CNY.',
      extensions: { shortfall: 1200 },
    });
  }
}

/** Routes that exist only in these tests, registered the way a domain module registers its own. */
const testModule: AppModule = {
  name: 'test',
  routes: async (app) => {
    app.post(
      '/test/payments',
      {
        schema: {
          body: z.object({
            amount: z.number().int().positive(),
            currency: z.string().length(3),
            payee: z.object({ name: z.string().min(1) }),
          }),
          response: { 201: z.object({ accepted: z.literal(true) }) },
        },
      },
      async (_request, reply) => reply.code(201).send({ accepted: true }),
    );
    app.get(
      '/test/items/:id',
      {
        schema: {
          params: z.object({ id: z.uuid() }),
          querystring: z.object({ limit: z.coerce.number().int().max(100).optional() }),
          response: { 200: z.object({ id: z.string() }) },
        },
      },
      async (request) => ({ id: request.params.id }),
    );
    app.get('/test/boom', async () => {
      throw new Error('connection to db.internal:5432 refused; password=hunter2');
    });
    app.get('/test/broke', async () => {
      throw new InsufficientFundsError();
    });
  },
};

const json = { 'content-type': 'application/json' };

// One migrated database for the whole file: opening one costs seconds, an app on top of it milliseconds.
let db: Database;
beforeAll(async () => {
  db = await openMigratedDatabase();
});
afterAll(async () => {
  await db.close();
});

describe('the HTTP platform', () => {
  let fixture: TestApp;
  beforeAll(async () => {
    fixture = await buildTestApp({ db, modules: [testModule] });
  });
  afterAll(async () => {
    await fixture.close();
  });

  describe('health', () => {
    it('/healthz answers 200 while the process runs', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/healthz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ok' });
    });

    it('/readyz answers 200 when the database answers and every migration is applied', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(200);
      expect(response.json()).toEqual({ status: 'ready', checks: { database: 'ok', migrations: 'ok' } });
    });
  });

  describe('problem documents', () => {
    it('answers an unknown route with a 404 problem', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/v1/nothing-here?x=1' });
      expect(response.statusCode).toBe(404);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(response.json()).toEqual({
        type: 'urn:yika:problem:not_found',
        title: 'Not found',
        status: 404,
        detail: 'No route for GET /v1/nothing-here.',
        instance: '/v1/nothing-here',
        code: 'not_found',
        requestId: response.headers['x-request-id'],
      });
    });

    it('lists every invalid body field by path', async () => {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/test/payments',
        headers: json,
        payload: { amount: -5, currency: 'CN', payee: {} },
      });
      expect(response.statusCode).toBe(400);
      const problem = response.json();
      expect(problem).toMatchObject({ code: 'validation_failed', status: 400, title: 'Request validation failed' });
      const fields = (problem.errors as { field: string; in: string; message: string }[]).map((error) => [
        error.in,
        error.field,
      ]);
      expect(fields).toEqual(
        expect.arrayContaining([
          ['body', 'amount'],
          ['body', 'currency'],
          ['body', 'payee.name'],
        ]),
      );
      for (const error of problem.errors as { message: string }[]) expect(error.message).not.toBe('');
    });

    it('names invalid path parameters and query parameters too', async () => {
      const params = await fixture.app.inject({ method: 'GET', url: '/v1/test/items/not-a-uuid' });
      expect(params.statusCode).toBe(400);
      expect(params.json().errors).toEqual([expect.objectContaining({ in: 'params', field: 'id' })]);
      const query = await fixture.app.inject({
        method: 'GET',
        url: '/v1/test/items/0192f1b4-3c5e-7a2b-9c1d-2e3f4a5b6c7d?limit=1000',
      });
      expect(query.statusCode).toBe(400);
      expect(query.json().errors).toEqual([expect.objectContaining({ in: 'querystring', field: 'limit' })]);
    });

    it('accepts a valid body', async () => {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/test/payments',
        headers: json,
        payload: { amount: 1200, currency: 'CNY', payee: { name: '茶馆' } },
      });
      expect(response.statusCode).toBe(201);
      expect(response.json()).toEqual({ accepted: true });
    });

    it('answers malformed JSON with a 400 problem, not a 500', async () => {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/test/payments',
        headers: json,
        payload: '{"amount": 12,',
      });
      expect(response.statusCode).toBe(400);
      expect(response.json()).toMatchObject({ code: 'malformed_json', status: 400 });
    });

    it('answers a body of an unsupported media type with 415', async () => {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/test/payments',
        headers: { 'content-type': 'application/xml' },
        payload: '<payment/>',
      });
      expect(response.statusCode).toBe(415);
      expect(response.json()).toMatchObject({ code: 'unsupported_media_type' });
    });

    it('maps a domain error to its own status, code and extension members', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/v1/test/broke' });
      expect(response.statusCode).toBe(422);
      expect(response.json()).toMatchObject({
        type: 'urn:yika:problem:insufficient_funds',
        title: 'Insufficient funds',
        code: 'insufficient_funds',
        detail: 'The wallet holds less than 12.00 CNY.',
        shortfall: 1200,
      });
    });

    it('answers an unexpected error with a generic 500 and logs it with the request id', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/v1/test/boom' });
      expect(response.statusCode).toBe(500);
      const problem = response.json();
      expect(problem).toMatchObject({ code: 'internal_error', status: 500, title: 'Internal server error' });
      expect(response.body).not.toMatch(/hunter2|db\.internal|stack|Error:/);
      const requestId = response.headers['x-request-id'];
      expect(problem.requestId).toBe(requestId);
      const logged = fixture.logs.find((line) => line.reqId === requestId && line.level >= 50);
      expect(logged?.err?.message).toContain('hunter2');
    });
  });

  describe('request ids', () => {
    it('keeps a well-formed incoming x-request-id', async () => {
      const response = await fixture.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': 'edge-7f3a.42:1' },
      });
      expect(response.headers['x-request-id']).toBe('edge-7f3a.42:1');
      expect(fixture.logs.some((line) => line.reqId === 'edge-7f3a.42:1')).toBe(true);
    });

    it('replaces a malformed one and generates one when absent', async () => {
      const malformed = await fixture.app.inject({
        method: 'GET',
        url: '/healthz',
        headers: { 'x-request-id': 'bad id\twith spaces' },
      });
      expect(malformed.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      const absent = await fixture.app.inject({ method: 'GET', url: '/healthz' });
      expect(absent.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(absent.headers['x-request-id']).not.toBe(malformed.headers['x-request-id']);
    });

    it('returns the id on error responses too', async () => {
      const response = await fixture.app.inject({
        method: 'GET',
        url: '/v1/missing',
        headers: { 'x-request-id': 'trace-1' },
      });
      expect(response.headers['x-request-id']).toBe('trace-1');
      expect(response.json().requestId).toBe('trace-1');
    });
  });

  describe('metrics', () => {
    it('counts requests by method, route pattern and status, with process metrics', async () => {
      await fixture.app.inject({ method: 'GET', url: '/v1/test/items/0192f1b4-3c5e-7a2b-9c1d-2e3f4a5b6c7d' });
      await fixture.app.inject({ method: 'GET', url: '/v1/test/items/0192f1b4-3c5e-7a2b-9c1d-2e3f4a5b6c7e' });
      await fixture.app.inject({ method: 'GET', url: '/v1/no/such/route' });
      const response = await fixture.app.inject({ method: 'GET', url: '/metrics' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/plain/);
      const text = response.body;
      expect(text).toMatch(/^http_requests_total\{method="GET",route="\/v1\/test\/items\/:id",status_code="200"\} 2$/m);
      expect(text).toMatch(/^http_requests_total\{method="GET",route="\(unmatched\)",status_code="404"\} \d+$/m);
      expect(text).toMatch(
        /^http_request_duration_seconds_count\{method="GET",route="\/v1\/test\/items\/:id",status_code="200"\} 2$/m,
      );
      expect(text).toContain('process_cpu_user_seconds_total');
      expect(text).not.toContain('0192f1b4'); // raw URLs never become labels
    });
  });

  describe('API description', () => {
    it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/openapi.json' });
      expect(response.statusCode).toBe(200);
      const document = response.json();
      expect(document.openapi).toBe('3.1.0');
      expect(document.info.title).toBe('Yika API');
      expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz', '/v1/test/payments']));
      expect(document.paths['/healthz'].get.responses['200']).toBeDefined();
      expect(document.paths['/readyz'].get.responses['503']).toBeDefined();
      expect(document.paths['/v1/test/payments'].post.requestBody.content['application/json'].schema.required).toEqual(
        expect.arrayContaining(['amount', 'currency', 'payee']),
      );
      for (const hidden of ['/metrics', '/openapi.json', '/docs']) expect(document.paths[hidden]).toBeUndefined();
    });

    it('serves the interactive reference at /docs under a CSP that allows it', async () => {
      const response = await fixture.app.inject({ method: 'GET', url: '/docs' });
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      const csp = String(response.headers['content-security-policy']);
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('upgrade-insecure-requests');
      const script = await fixture.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
      expect(script.statusCode).toBe(200);
    });
  });

  it('sets security headers on every response', async () => {
    const response = await fixture.app.inject({ method: 'GET', url: '/healthz' });
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['strict-transport-security']).toBeDefined();
  });
});

describe('readiness when not ready', () => {
  it('answers 503 naming the pending migrations', async () => {
    const fixture = await buildTestApp({
      db,
      migrations: [...serverMigrations, { id: 'zz/9999_not_yet', sql: 'select 1' }],
    });
    try {
      const response = await fixture.app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(response.json()).toMatchObject({
        code: 'not_ready',
        reason: 'migrations_pending',
        pendingMigrations: ['zz/9999_not_yet'],
        detail: '1 database migration(s) pending: zz/9999_not_yet.',
      });
    } finally {
      await fixture.close();
    }
  });

  it('answers 503 when the database does not answer', async () => {
    const broken: Database = {
      ...db,
      query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
    };
    const fixture = await buildTestApp({ db: broken, startRisk: false });
    try {
      const response = await fixture.app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'not_ready', reason: 'database_unreachable' });
      expect(response.body).not.toContain('ECONNREFUSED');
      const healthz = await fixture.app.inject({ method: 'GET', url: '/healthz' });
      expect(healthz.statusCode).toBe(200);
    } finally {
      await fixture.close();
    }
  });
});

describe('limits', () => {
  it('answers a body over BODY_LIMIT_BYTES with 413', async () => {
    const fixture = await buildTestApp({ db, modules: [testModule], env: { BODY_LIMIT_BYTES: '1024' } });
    try {
      const response = await fixture.app.inject({
        method: 'POST',
        url: '/v1/test/payments',
        headers: json,
        payload: JSON.stringify({ amount: 1, currency: 'CNY', payee: { name: 'x'.repeat(2_000) } }),
      });
      expect(response.statusCode).toBe(413);
      expect(response.json()).toMatchObject({ code: 'payload_too_large', status: 413 });
    } finally {
      await fixture.close();
    }
  });

  it('answers requests over RATE_LIMIT_MAX with a 429 problem and retry-after; probes are exempt', async () => {
    const fixture = await buildTestApp({ db, modules: [testModule], env: { RATE_LIMIT_MAX: '2' } });
    try {
      const url = '/v1/test/items/0192f1b4-3c5e-7a2b-9c1d-2e3f4a5b6c7d';
      expect((await fixture.app.inject({ method: 'GET', url })).statusCode).toBe(200);
      expect((await fixture.app.inject({ method: 'GET', url })).statusCode).toBe(200);
      const limited = await fixture.app.inject({ method: 'GET', url });
      expect(limited.statusCode).toBe(429);
      expect(limited.headers['content-type']).toBe('application/problem+json; charset=utf-8');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
      expect(limited.json()).toMatchObject({ code: 'rate_limited', status: 429, title: 'Too many requests' });
      expect(limited.headers['x-request-id']).toBeDefined();
      for (let attempt = 0; attempt < 5; attempt += 1) {
        expect((await fixture.app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
      }
    } finally {
      await fixture.close();
    }
  });
});

describe('the web app', () => {
  let distDir: string;
  let fixture: TestApp;
  beforeAll(async () => {
    distDir = await mkdtemp(join(tmpdir(), 'yika-web-dist-'));
    await mkdir(join(distDir, 'assets'));
    await writeFile(join(distDir, 'index.html'), '<!doctype html><title>Yika 一卡</title><div id="root"></div>');
    await writeFile(join(distDir, 'assets', 'index-abc123.js'), 'console.log("yika")');
    fixture = await buildTestApp({ db, env: { WEB_DIST_DIR: distDir } });
  });
  afterAll(async () => {
    await fixture.close();
    await rm(distDir, { recursive: true, force: true });
  });

  it('serves index.html at / and fingerprinted assets with a long cache', async () => {
    const page = await fixture.app.inject({ method: 'GET', url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Yika 一卡');
    expect(page.headers['cache-control']).toBe('no-cache');
    const asset = await fixture.app.inject({ method: 'GET', url: '/assets/index-abc123.js' });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('answers browser navigation to a client-side route with index.html', async () => {
    const response = await fixture.app.inject({
      method: 'GET',
      url: '/merchant/orders/42',
      headers: { accept: 'text/html,application/xhtml+xml' },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
    expect(response.body).toContain('<div id="root">');
  });

  it('never answers API paths or non-HTML requests with the page', async () => {
    const api = await fixture.app.inject({ method: 'GET', url: '/v1/unknown', headers: { accept: 'text/html' } });
    expect(api.statusCode).toBe(404);
    expect(api.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    const asset = await fixture.app.inject({ method: 'GET', url: '/assets/missing.js', headers: { accept: '*/*' } });
    expect(asset.statusCode).toBe(404);
    const post = await fixture.app.inject({ method: 'POST', url: '/merchant', headers: { accept: 'text/html' } });
    expect(post.statusCode).toBe(404);
  });

  it('says how to build the web app when it is not built', async () => {
    const unbuilt = await buildTestApp({ db, env: { WEB_DIST_DIR: join(distDir, 'does-not-exist') } });
    try {
      const response = await unbuilt.app.inject({ method: 'GET', url: '/' });
      expect(response.statusCode).toBe(200);
      expect(response.body).toContain('npm run build');
      const navigation = await unbuilt.app.inject({ method: 'GET', url: '/ops', headers: { accept: 'text/html' } });
      expect(navigation.body).toContain('npm run build');
    } finally {
      await unbuilt.close();
    }
  });
});
