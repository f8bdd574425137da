/**
 * Merchants: onboarding and review, their ledger accounts, API keys and webhook endpoints. Knows nothing
 * of HTTP. A merchant collects money only while approved; its accounts are opened on approval.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database } from '@yika/db';
import { newId, type Ledger } from '@yika/ledger';
import type { DataCipher } from '../../platform/crypto.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { merchantAccounts, merchantSettlementAccountId } from './chart.js';

export type MerchantStatus = 'pending' | 'approved' | 'rejected' | 'suspended';

export interface MerchantApplication {
  legalName: string;
  displayName: string;
  mcc: string;
  contactName: string;
  contactPhone: string;
  contactEmail?: string | undefined;
  city: string;
  feeRateBps: number;
}

export interface MerchantView {
  id: string;
  legalName: string;
  displayName: string;
  mcc: string;
  contactName: string;
  contactPhone: string;
  contactEmail: string | null;
  city: string;
  feeRateBps: number;
  status: MerchantStatus;
  statusReason: string | null;
  createdAt: string;
}

export interface ApiKeyView {
  id: string;
  prefix: string;
  label: string | null;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface WebhookEndpointView {
  id: string;
  url: string;
  createdAt: string;
  disabledAt: string | null;
}

export type MerchantDecision = 'approve' | 'reject' | 'suspend' | 'reinstate';

/** Which status each decision may start from, and where it leads. */
const transitions: Record<MerchantDecision, { from: MerchantStatus[]; to: MerchantStatus }> = {
  approve: { from: ['pending'], to: 'approved' },
  reject: { from: ['pending'], to: 'rejected' },
  suspend: { from: ['approved'], to: 'suspended' },
  reinstate: { from: ['suspended'], to: 'approved' },
};

/** Most live API keys and webhook endpoints per merchant. */
export const API_KEYS_MAX = 20;
export const WEBHOOK_ENDPOINTS_MAX = 10;

export class MerchantError extends DomainError {}

export const merchantNotActive = (status: string) =>
  new MerchantError({
    code: 'merchant_not_active',
    status: 403,
    title: 'Merchant not active',
    detail: `This merchant is ${status}: it cannot collect payments.`,
  });

interface MerchantRow {
  id: string;
  legal_name: string;
  display_name: string;
  mcc: string;
  contact_name: string;
  contact_phone: string;
  contact_email: string | null;
  city: string;
  fee_rate_bps: number;
  status: MerchantStatus;
  status_reason: string | null;
  created_at: Date | string;
}

const iso = (value: Date | string | null): string | null => (value === null ? null : new Date(value).toISOString());

function merchantView(row: MerchantRow): MerchantView {
  return {
    id: row.id,
    legalName: row.legal_name,
    displayName: row.display_name,
    mcc: row.mcc,
    contactName: row.contact_name,
    contactPhone: row.contact_phone,
    contactEmail: row.contact_email,
    city: row.city,
    feeRateBps: row.fee_rate_bps,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: iso(row.created_at)!,
  };
}

interface ApiKeyRow {
  id: string;
  merchant_id: string;
  prefix: string;
  secret_hash: string;
  label: string | null;
  created_at: Date | string;
  last_used_at: Date | string | null;
  revoked_at: Date | string | null;
}

function apiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    prefix: row.prefix,
    label: row.label,
    createdAt: iso(row.created_at)!,
    lastUsedAt: iso(row.last_used_at),
    revokedAt: iso(row.revoked_at),
  };
}

const KEY_PATTERN = /^yk_([0-9a-f]{16})_[A-Za-z0-9_-]{43}$/;
const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');

export function webhookSecretContext(endpointId: string): string {
  return `merchant-webhook:${endpointId}:secret`;
}

export class MerchantsService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #cipher: DataCipher;

  constructor(options: { db: Database; ledger: Ledger; cipher: DataCipher }) {
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#cipher = options.cipher;
  }

  /** An application to join: pending until operations decide. */
  async apply(input: MerchantApplication): Promise<MerchantView> {
    const id = newId();
    await this.#db.query(
      `insert into merchants (id, legal_name, display_name, mcc, contact_name, contact_phone, contact_email, city, fee_rate_bps, status)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending')`,
      [
        id,
        input.legalName,
        input.displayName,
        input.mcc,
        input.contactName,
        input.contactPhone,
        input.contactEmail ?? null,
        input.city,
        input.feeRateBps,
      ],
    );
    return this.get(id);
  }

  async get(merchantId: string): Promise<MerchantView> {
    const { rows } = await this.#db.query<MerchantRow>(`select * from merchants where id = $1`, [merchantId]);
    if (!rows[0]) throw new NotFoundError('No such merchant.');
    return merchantView(rows[0]);
  }

  /** The merchant, if it may collect money now; else `merchant_not_active`. */
  async activeMerchant(merchantId: string): Promise<MerchantView & { settlementAccountId: string }> {
    const merchant = await this.get(merchantId);
    if (merchant.status !== 'approved') throw merchantNotActive(merchant.status);
    return { ...merchant, settlementAccountId: merchantSettlementAccountId(merchantId) };
  }

  settlementAccountId(merchantId: string): string {
    return merchantSettlementAccountId(merchantId);
  }

  /** Operations' review decision. Approval opens the merchant's ledger accounts (idempotently). */
  async decide(merchantId: string, decision: MerchantDecision, reason?: string): Promise<MerchantView> {
    const rule = transitions[decision];
    // Accounts are opened only for a decision that can apply (checked again under the row lock below).
    if (rule.to === 'approved' && rule.from.includes((await this.get(merchantId)).status)) {
      const results = await this.#ledger.createAccounts(merchantAccounts(merchantId));
      const refused = results.find((result) => result.result !== 'ok' && result.result !== 'exists');
      if (refused) throw new Error(`merchant account refused by the ledger: ${refused.result}`);
    }
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<MerchantRow>(`select * from merchants where id = $1 for update`, [merchantId]);
      const row = rows[0];
      if (!row) throw new NotFoundError('No such merchant.');
      if (!rule.from.includes(row.status)) {
        throw new MerchantError({
          code: 'merchant_status_conflict',
          status: 409,
          title: 'Decision not possible in this status',
          detail: `A ${row.status} merchant cannot be given "${decision}".`,
          extensions: { merchantStatus: row.status },
        });
      }
      const { rows: updated } = await tx.query<MerchantRow>(
        `update merchants set status = $2, status_reason = $3, updated_at = now() where id = $1 returning *`,
        [merchantId, rule.to, reason ?? null],
      );
      return merchantView(updated[0]!);
    });
  }

  /** A new API key: the secret is returned once and only its hash is kept. */
  async createApiKey(merchantId: string, label?: string): Promise<ApiKeyView & { secret: string }> {
    const merchant = await this.get(merchantId);
    if (merchant.status === 'rejected') throw merchantNotActive(merchant.status);
    const { rows: live } = await this.#db.query<{ count: string | number | bigint }>(
      `select count(*) as count from merchant_api_keys where merchant_id = $1 and revoked_at is null`,
      [merchantId],
    );
    if (Number(live[0]?.count ?? 0) >= API_KEYS_MAX) throw tooMany('API keys', API_KEYS_MAX);
    const prefix = randomBytes(8).toString('hex');
    const secret = `yk_${prefix}_${randomBytes(32).toString('base64url')}`;
    const id = newId();
    const { rows } = await this.#db.query<ApiKeyRow>(
      `insert into merchant_api_keys (id, merchant_id, prefix, secret_hash, label) values ($1, $2, $3, $4, $5) returning *`,
      [id, merchantId, prefix, sha256(secret), label ?? null],
    );
    return { ...apiKeyView(rows[0]!), secret };
  }

  async listApiKeys(merchantId: string): Promise<ApiKeyView[]> {
    const { rows } = await this.#db.query<ApiKeyRow>(
      `select * from merchant_api_keys where merchant_id = $1 order by created_at desc limit ${API_KEYS_MAX * 5}`,
      [merchantId],
    );
    return rows.map(apiKeyView);
  }

  async revokeApiKey(merchantId: string, keyId: string): Promise<ApiKeyView> {
    const { rows } = await this.#db.query<ApiKeyRow>(
      `update merchant_api_keys set revoked_at = coalesce(revoked_at, now()) where id = $1 and merchant_id = $2 returning *`,
      [keyId, merchantId],
    );
    if (!rows[0]) throw new NotFoundError('No such API key.');
    return apiKeyView(rows[0]);
  }

  /** The merchant a bearer key belongs to, or null (unknown, malformed or revoked key). */
  async authenticate(key: string): Promise<{ merchantId: string; keyId: string } | null> {
    const match = KEY_PATTERN.exec(key);
    if (!match) return null;
    const { rows } = await this.#db.query<ApiKeyRow>(
      `select * from merchant_api_keys where prefix = $1 and revoked_at is null`,
      [match[1]],
    );
    const row = rows[0];
    if (!row) return null;
    const expected = Buffer.from(row.secret_hash, 'hex');
    const actual = Buffer.from(sha256(key), 'hex');
    if (expected.length !== actual.length || !timingSafeEqual(expected, actual)) return null;
    await this.#db.query(`update merchant_api_keys set last_used_at = now() where id = $1`, [row.id]);
    return { merchantId: row.merchant_id, keyId: row.id };
  }

  /** A webhook endpoint with a new signing secret, returned once and kept encrypted. */
  async addWebhookEndpoint(merchantId: string, url: string): Promise<WebhookEndpointView & { secret: string }> {
    await this.get(merchantId);
    const { rows: live } = await this.#db.query<{ count: string | number | bigint }>(
      `select count(*) as count from merchant_webhook_endpoints where merchant_id = $1 and disabled_at is null`,
      [merchantId],
    );
    if (Number(live[0]?.count ?? 0) >= WEBHOOK_ENDPOINTS_MAX) throw tooMany('webhook endpoints', WEBHOOK_ENDPOINTS_MAX);
    const id = newId();
    const secret = `whsec_${randomBytes(32).toString('base64url')}`;
    const { rows } = await this.#db.query<{ id: string; url: string; created_at: Date; disabled_at: Date | null }>(
      `insert into merchant_webhook_endpoints (id, merchant_id, url, secret_ciphertext) values ($1, $2, $3, $4) returning *`,
      [id, merchantId, url, this.#cipher.encrypt(secret, webhookSecretContext(id))],
    );
    const row = rows[0]!;
    return { id, url: row.url, createdAt: iso(row.created_at)!, disabledAt: null, secret };
  }

  async listWebhookEndpoints(merchantId: string): Promise<WebhookEndpointView[]> {
    const { rows } = await this.#db.query<{ id: string; url: string; created_at: Date; disabled_at: Date | null }>(
      `select id, url, created_at, disabled_at from merchant_webhook_endpoints where merchant_id = $1 order by created_at`,
      [merchantId],
    );
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      createdAt: iso(row.created_at)!,
      disabledAt: iso(row.disabled_at),
    }));
  }

  async disableWebhookEndpoint(merchantId: string, endpointId: string): Promise<void> {
    const { rows } = await this.#db.query(
      `update merchant_webhook_endpoints set disabled_at = coalesce(disabled_at, now()) where id = $1 and merchant_id = $2 returning id`,
      [endpointId, merchantId],
    );
    if (!rows[0]) throw new NotFoundError('No such webhook endpoint.');
  }
}

function tooMany(what: string, max: number) {
  return new MerchantError({
    code: 'limit_reached',
    status: 409,
    title: 'Too many',
    detail: `A merchant may have at most ${max} live ${what}.`,
  });
}
