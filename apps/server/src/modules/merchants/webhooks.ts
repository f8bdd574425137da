/**
 * Webhook delivery: outbox events about a merchant become one delivery per live endpoint, posted signed
 * (HMAC-SHA256 over `${t}.${body}`, header `yika-signature: t=…,v1=…`) and retried with exponential
 * back-off up to a bounded number of attempts; every attempt is logged, and any delivery can be replayed.
 *
 * Order notifications: a `payment.succeeded` event whose order has a notify URL also becomes a delivery
 * to that URL, the same body and machinery, signed with the merchant's notify key (one per merchant,
 * shown to its owner in the portal, created here on first need).
 *
 * Requests go out through the SSRF guard (platform/ssrf.ts): the address connected to is checked, and
 * redirects are not followed.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Database, SqlExecutor } from '@yika/db';
import { isUuid, newId } from '@yika/ledger';
import type { DataCipher } from '../../platform/crypto.js';
import { NotFoundError } from '../../platform/errors.js';
import { dispatchEvents, type OutboxEvent } from '../../platform/outbox.js';
import { guardedLookup, literalHostForbidden, type Resolver } from '../../platform/ssrf.js';
import { newNotifyKeySecret, notifyKeySecretContext, webhookSecretContext } from './merchants.service.js';

export const SIGNATURE_HEADER = 'yika-signature';
/** Most deliveries attempted in one round. */
export const DELIVERY_BATCH_MAX = 50;
/** Back-off never waits longer than this between attempts. */
export const RETRY_DELAY_MAX_MS = 6 * 3_600_000;

export interface WebhookOptions {
  db: Database;
  cipher: DataCipher;
  attemptsMax: number;
  retryBaseMs: number;
  timeoutMs: number;
  /** Deliver to loopback/private addresses too (tests, demo): config WEBHOOK_ALLOW_PRIVATE_NETWORKS. */
  allowPrivateNetworks: boolean;
  /** DNS for the SSRF guard; tests pass their own to play DNS rebinding. */
  resolve?: Resolver;
  now?: () => Date;
}

/** Largest response body read from a receiver (it is discarded: only the status counts). */
const RESPONSE_BYTES_MAX = 64 * 1024;

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  /** The webhook endpoint, or null for an order notification (then `notifyUrl` is set). */
  endpointId: string | null;
  notifyUrl: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  replayOf: string | null;
  createdAt: string;
  log: { attemptedAt: string; responseStatus: number | null; error: string | null; durationMs: number }[];
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`. */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const v1 = createHmac('sha256', secret).update(`${unixSeconds}.${body}`, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${v1}`;
}

/** Exponential back-off after the n-th failed attempt (n ≥ 1): base × 2^(n−1), capped. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  return Math.min(baseMs * 2 ** Math.min(attempt - 1, 30), RETRY_DELAY_MAX_MS);
}

interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  merchant_id: string;
  endpoint_id: string | null;
  notify_url: string | null;
  body: string;
  status: DeliveryView['status'];
  attempts: number;
  next_attempt_at: Date | string;
  replay_of: string | null;
  created_at: Date | string;
}

interface DueRow extends DeliveryRow {
  endpoint_url: string | null;
  endpoint_secret: string | null;
  notify_secret: string | null;
}

export class WebhookService {
  readonly #options: WebhookOptions;

  constructor(options: WebhookOptions) {
    this.#options = options;
  }

  /** One round of the job: turn new outbox events into deliveries, then attempt the due ones. */
  async run(): Promise<{ events: number; attempted: number }> {
    const events = await dispatchEvents(this.#options.db, (tx, batch) => this.#fanOut(tx, batch));
    const attempted = await this.deliverDue();
    return { events, attempted };
  }

  async #fanOut(tx: SqlExecutor, events: OutboxEvent[]): Promise<void> {
    for (const event of events) {
      // Anything else is not a merchant's event; skipping it keeps one odd event from blocking the outbox.
      const match = /^merchant:(.+)$/.exec(event.subject);
      if (!match || !isUuid(match[1]!)) continue;
      const merchantId = match[1];
      const { rows: endpoints } = await tx.query<{ id: string }>(
        `select id from merchant_webhook_endpoints where merchant_id = $1 and disabled_at is null`,
        [merchantId],
      );
      const body = JSON.stringify({ id: event.id, type: event.type, createdAt: event.createdAt, data: event.payload });
      for (const endpoint of endpoints) {
        await tx.query(
          `insert into merchant_webhook_deliveries (id, event_id, event_type, merchant_id, endpoint_id, body, status)
           values ($1, $2, $3, $4, $5, $6, 'pending')`,
          [newId(), event.id, event.type, merchantId, endpoint.id, body],
        );
      }
      const notifyUrl = event.type === 'payment.succeeded' ? event.payload.notifyUrl : undefined;
      if (typeof notifyUrl === 'string' && /^https?:\/\//.test(notifyUrl) && notifyUrl.length <= 2_000) {
        await tx.query(
          `insert into merchant_notify_keys (merchant_id, secret_ciphertext) values ($1, $2) on conflict (merchant_id) do nothing`,
          [merchantId, this.#options.cipher.encrypt(newNotifyKeySecret(), notifyKeySecretContext(merchantId))],
        );
        await tx.query(
          `insert into merchant_webhook_deliveries (id, event_id, event_type, merchant_id, notify_url, body, status)
           values ($1, $2, $3, $4, $5, $6, 'pending')`,
          [newId(), event.id, event.type, merchantId, notifyUrl, body],
        );
      }
    }
  }

  /** Attempts every due delivery (at most DELIVERY_BATCH_MAX); returns how many were attempted. */
  async deliverDue(): Promise<number> {
    // Claim: push next_attempt_at past the request timeout so another process does not send it meanwhile.
    const leaseMs = this.#options.timeoutMs + 5_000;
    const { rows } = await this.#options.db.query<DueRow>(
      `with due as (
         select id from merchant_webhook_deliveries where status = 'pending' and next_attempt_at <= now()
         order by next_attempt_at limit $1 for update skip locked
       )
       update merchant_webhook_deliveries d set next_attempt_at = now() + ($2 || ' milliseconds')::interval
       from due
       where d.id = due.id
       returning d.*,
         (select e.url from merchant_webhook_endpoints e where e.id = d.endpoint_id) as endpoint_url,
         (select e.secret_ciphertext from merchant_webhook_endpoints e where e.id = d.endpoint_id) as endpoint_secret,
         (select k.secret_ciphertext from merchant_notify_keys k where k.merchant_id = d.merchant_id) as notify_secret`,
      [DELIVERY_BATCH_MAX, String(leaseMs)],
    );
    await Promise.all(rows.map((row) => this.#attempt(row)));
    return rows.length;
  }

  async #attempt(row: DueRow): Promise<void> {
    const target = this.#target(row);
    const now = this.#options.now?.() ?? new Date();
    const started = performance.now();
    let responseStatus: number | null = null;
    let error: string | null = null;
    try {
      if (!target) throw new Error('endpoint or notify key missing');
      const signature = signWebhook(target.secret, row.body, Math.floor(now.getTime() / 1000));
      responseStatus = await this.#post(target.url, row.body, {
        'content-type': 'application/json',
        [SIGNATURE_HEADER]: signature,
        'yika-event-id': row.event_id,
      });
    } catch (caught) {
      error = caught instanceof Error ? caught.message.slice(0, 200) : 'request failed';
    }
    const durationMs = Math.round(performance.now() - started);
    const succeeded = responseStatus !== null && responseStatus >= 200 && responseStatus < 300;
    if (!succeeded && error === null) error = `HTTP ${responseStatus}`;
    const attempts = row.attempts + 1;
    const status = succeeded ? 'succeeded' : attempts >= this.#options.attemptsMax ? 'failed' : 'pending';
    await this.#options.db.transaction(async (tx) => {
      await tx.query(
        `insert into merchant_webhook_attempts (id, delivery_id, response_status, error, duration_ms) values ($1, $2, $3, $4, $5)`,
        [newId(), row.id, responseStatus, error, durationMs],
      );
      await tx.query(
        `update merchant_webhook_deliveries set attempts = $2, status = $3,
           next_attempt_at = now() + ($4 || ' milliseconds')::interval,
           completed_at = case when $3 = 'pending' then null else now() end
         where id = $1`,
        [row.id, attempts, status, String(retryDelayMs(attempts, this.#options.retryBaseMs))],
      );
    });
  }

  #target(row: DueRow): { url: string; secret: string } | null {
    const cipher = this.#options.cipher;
    if (row.endpoint_id !== null && row.endpoint_url !== null && row.endpoint_secret !== null) {
      return {
        url: row.endpoint_url,
        secret: cipher.decrypt(row.endpoint_secret, webhookSecretContext(row.endpoint_id)),
      };
    }
    if (row.notify_url !== null && row.notify_secret !== null) {
      return {
        url: row.notify_url,
        secret: cipher.decrypt(row.notify_secret, notifyKeySecretContext(row.merchant_id)),
      };
    }
    return null;
  }

  /** POSTs through the SSRF guard; resolves to the response status. Redirects are answers, not followed. */
  #post(target: string, body: string, headers: Record<string, string>): Promise<number> {
    const url = new URL(target);
    const allowPrivate = this.#options.allowPrivateNetworks;
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new Error('not an http(s) URL'));
    if (literalHostForbidden(url, allowPrivate)) {
      return Promise.reject(new Error(`forbidden address ${url.hostname} (SSRF guard)`));
    }
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const lookup = guardedLookup({
      allowPrivate,
      ...(this.#options.resolve ? { resolve: this.#options.resolve } : {}),
    });
    return new Promise<number>((resolve, reject) => {
      const request = send(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          lookup,
          timeout: this.#options.timeoutMs,
          signal: AbortSignal.timeout(this.#options.timeoutMs),
        },
        (response) => {
          let read = 0;
          response.on('data', (chunk: Buffer) => {
            read += chunk.length;
            if (read > RESPONSE_BYTES_MAX) response.destroy();
          });
          response.on('error', () => resolve(response.statusCode ?? 0));
          response.on('close', () => resolve(response.statusCode ?? 0));
        },
      );
      request.on('timeout', () => request.destroy(new Error('timed out')));
      request.on('error', reject);
      request.end(body);
    });
  }

  async deliveries(merchantId: string, limit = 50): Promise<DeliveryView[]> {
    const { rows } = await this.#options.db.query<DeliveryRow>(
      `select * from merchant_webhook_deliveries where merchant_id = $1 order by created_at desc, id desc limit $2`,
      [merchantId, Math.min(Math.max(limit, 1), 100)],
    );
    return Promise.all(rows.map((row) => this.#view(row)));
  }

  async delivery(merchantId: string, deliveryId: string): Promise<DeliveryView> {
    const { rows } = await this.#options.db.query<DeliveryRow>(
      `select * from merchant_webhook_deliveries where id = $1 and merchant_id = $2`,
      [deliveryId, merchantId],
    );
    if (!rows[0]) throw new NotFoundError('No such webhook delivery.');
    return this.#view(rows[0]);
  }

  /** Sends a delivery's event again, as a new delivery to the same endpoint, attempted at the next round. */
  async replay(merchantId: string, deliveryId: string): Promise<DeliveryView> {
    const original = await this.delivery(merchantId, deliveryId);
    const id = newId();
    await this.#options.db.query(
      `insert into merchant_webhook_deliveries (id, event_id, event_type, merchant_id, endpoint_id, notify_url, body, status, replay_of)
       select $1, event_id, event_type, merchant_id, endpoint_id, notify_url, body, 'pending', id from merchant_webhook_deliveries where id = $2`,
      [id, original.id],
    );
    return this.delivery(merchantId, id);
  }

  async #view(row: DeliveryRow): Promise<DeliveryView> {
    const { rows } = await this.#options.db.query<{
      attempted_at: Date | string;
      response_status: number | null;
      error: string | null;
      duration_ms: number;
    }>(
      `select attempted_at, response_status, error, duration_ms from merchant_webhook_attempts where delivery_id = $1 order by attempted_at limit 100`,
      [row.id],
    );
    return {
      id: row.id,
      eventId: row.event_id,
      eventType: row.event_type,
      endpointId: row.endpoint_id,
      notifyUrl: row.notify_url,
      status: row.status,
      attempts: row.attempts,
      nextAttemptAt: row.status === 'pending' ? new Date(row.next_attempt_at).toISOString() : null,
      replayOf: row.replay_of,
      createdAt: new Date(row.created_at).toISOString(),
      log: rows.map((attempt) => ({
        attemptedAt: new Date(attempt.attempted_at).toISOString(),
        responseStatus: attempt.response_status,
        error: attempt.error,
        durationMs: attempt.duration_ms,
      })),
    };
  }
}
