/**
 * Merchants: onboarding and review, their ledger accounts, API keys and webhook endpoints. Knows nothing
 * of HTTP. A merchant collects money only while approved; its accounts are opened on approval.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Database, SqlExecutor } from '@yika/db';
import { newId, type Ledger } from '@yika/ledger';
import type { AuditActor, AuditTrail } from '../../platform/audit.js';
import type { DataCipher } from '../../platform/crypto.js';
import type { MerchantRole } from '../../platform/merchant-auth.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import { checkOutboundUrl, type Resolver } from '../../platform/ssrf.js';
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

export interface StoreView {
  id: string;
  name: string;
  city: string;
  createdAt: string;
  closedAt: string | null;
}

export interface MemberView {
  id: string;
  customerId: string;
  phoneMasked: string;
  role: MerchantRole;
  storeId: string | null;
  createdAt: string;
}

export interface MembershipView {
  merchantId: string;
  displayName: string;
  status: MerchantStatus;
  role: MerchantRole;
  storeId: string | null;
}

/** What the merchants module needs of identity: staff are ordinary customers, found by phone. */
export interface StaffDirectory {
  findCustomerByPhone(phone: string): Promise<{ customerId: string } | null>;
  getCustomer(customerId: string): Promise<{ phone: string }>;
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
/** Most open stores and live staff members per merchant. */
export const STORES_MAX = 50;
export const MEMBERS_MAX = 200;
/** Most memberships listed for one customer. */
export const MEMBERSHIPS_LIST_MAX = 100;

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

export function notifyKeySecretContext(merchantId: string): string {
  return `merchant-notify:${merchantId}:secret`;
}

/** A new notify key: random, shown to the merchant, kept encrypted. */
export function newNotifyKeySecret(): string {
  return `nksec_${randomBytes(32).toString('base64url')}`;
}

/** `+86******8000`: the country code and last four digits. */
function maskPhone(phone: string): string {
  return `${phone.slice(0, phone.startsWith('+86') ? 3 : 2)}******${phone.slice(-4)}`;
}

interface StoreRow {
  id: string;
  merchant_id: string;
  name: string;
  city: string;
  created_at: Date | string;
  closed_at: Date | string | null;
}

function storeView(row: StoreRow): StoreView {
  return { id: row.id, name: row.name, city: row.city, createdAt: iso(row.created_at)!, closedAt: iso(row.closed_at) };
}

interface MemberRow {
  id: string;
  merchant_id: string;
  customer_id: string;
  phone_masked: string;
  role: MerchantRole;
  store_id: string | null;
  created_at: Date | string;
}

function memberView(row: MemberRow): MemberView {
  return {
    id: row.id,
    customerId: row.customer_id,
    phoneMasked: row.phone_masked,
    role: row.role,
    storeId: row.store_id,
    createdAt: iso(row.created_at)!,
  };
}

const count = async (db: SqlExecutor, sql: string, params: unknown[]): Promise<number> => {
  const { rows } = await db.query<{ count: string | number | bigint }>(sql, params);
  return Number(rows[0]?.count ?? 0);
};

export class MerchantsService {
  readonly #db: Database;
  readonly #ledger: Ledger;
  readonly #cipher: DataCipher;
  readonly #staff: StaffDirectory | undefined;
  readonly #urls: { allowPrivate: boolean; resolve?: Resolver };
  readonly #audit: AuditTrail | undefined;

  constructor(options: {
    db: Database;
    ledger: Ledger;
    cipher: DataCipher;
    staff?: StaffDirectory;
    /** Accept webhook and notify URLs on loopback/private networks (tests, demo). Default false. */
    allowPrivateNetworks?: boolean;
    /** DNS for the SSRF check (tests). */
    resolve?: Resolver;
    /** Staff changes (who may act for the merchant) are recorded here, in their own transaction. */
    audit?: AuditTrail;
  }) {
    this.#audit = options.audit;
    this.#db = options.db;
    this.#ledger = options.ledger;
    this.#cipher = options.cipher;
    this.#staff = options.staff;
    this.#urls = {
      allowPrivate: options.allowPrivateNetworks ?? false,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    };
  }

  /**
   * Refuses (422 `webhook_url_forbidden`) a URL we would POST to that reaches a loopback, private,
   * link-local, CGNAT, multicast or metadata address. For webhook endpoints and orders' notify URLs.
   */
  async checkOutboundUrl(url: string): Promise<void> {
    await checkOutboundUrl(url, this.#urls);
  }

  /**
   * An application to join: pending until operations decide. With `ownerCustomerId` (the signed-in
   * applicant) that customer becomes the merchant's owner in the same transaction.
   */
  async apply(input: MerchantApplication, ownerCustomerId?: string): Promise<MerchantView> {
    const id = newId();
    const ownerPhone =
      ownerCustomerId === undefined ? null : (await this.#directory().getCustomer(ownerCustomerId)).phone;
    await this.#db.transaction(async (tx) => {
      await tx.query(
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
      if (ownerCustomerId !== undefined && ownerPhone !== null) {
        await tx.query(
          `insert into merchant_members (id, merchant_id, customer_id, phone_masked, role) values ($1, $2, $3, $4, 'owner')`,
          [newId(), id, ownerCustomerId, maskPhone(ownerPhone)],
        );
      }
    });
    return this.get(id);
  }

  #directory(): StaffDirectory {
    if (!this.#staff) throw new Error('MerchantsService was built without a staff directory (identity)');
    return this.#staff;
  }

  // ---- staff and stores ----

  /** The customer's live membership of the merchant, with the merchant's status; null when none. */
  async membership(
    merchantId: string,
    customerId: string,
  ): Promise<{ role: MerchantRole; storeId: string | null; merchantStatus: MerchantStatus } | null> {
    const { rows } = await this.#db.query<{ role: MerchantRole; store_id: string | null; status: MerchantStatus }>(
      `select m.role, m.store_id, x.status from merchant_members m join merchants x on x.id = m.merchant_id
       where m.merchant_id = $1 and m.customer_id = $2 and m.removed_at is null`,
      [merchantId, customerId],
    );
    const row = rows[0];
    return row ? { role: row.role, storeId: row.store_id, merchantStatus: row.status } : null;
  }

  /** Every merchant the customer works for (most recent first, at most MEMBERSHIPS_LIST_MAX). */
  async memberships(customerId: string): Promise<MembershipView[]> {
    const { rows } = await this.#db.query<{
      merchant_id: string;
      display_name: string;
      status: MerchantStatus;
      role: MerchantRole;
      store_id: string | null;
    }>(
      `select m.merchant_id, x.display_name, x.status, m.role, m.store_id
       from merchant_members m join merchants x on x.id = m.merchant_id
       where m.customer_id = $1 and m.removed_at is null order by m.created_at desc, m.id limit ${MEMBERSHIPS_LIST_MAX}`,
      [customerId],
    );
    return rows.map((row) => ({
      merchantId: row.merchant_id,
      displayName: row.display_name,
      status: row.status,
      role: row.role,
      storeId: row.store_id,
    }));
  }

  async listStores(merchantId: string): Promise<StoreView[]> {
    const { rows } = await this.#db.query<StoreRow>(
      `select * from merchant_stores where merchant_id = $1 order by closed_at is not null, created_at, id limit ${STORES_MAX * 4}`,
      [merchantId],
    );
    return rows.map(storeView);
  }

  /** An open store of the merchant, or 404: for other modules taking a `storeId` (e.g. cashier charges). */
  async openStore(merchantId: string, storeId: string): Promise<StoreView> {
    const { rows } = await this.#db.query<StoreRow>(
      `select * from merchant_stores where id = $1 and merchant_id = $2 and closed_at is null`,
      [storeId, merchantId],
    );
    if (!rows[0]) throw storeNotFound();
    return storeView(rows[0]);
  }

  async createStore(merchantId: string, input: { name: string; city: string }): Promise<StoreView> {
    return this.#db.transaction(async (tx) => {
      await this.#lockMerchant(tx, merchantId);
      const open = await count(
        tx,
        `select count(*) as count from merchant_stores where merchant_id = $1 and closed_at is null`,
        [merchantId],
      );
      if (open >= STORES_MAX) throw tooMany('open stores', STORES_MAX);
      const { rows } = await tx.query<StoreRow>(
        `insert into merchant_stores (id, merchant_id, name, city) values ($1, $2, $3, $4) returning *`,
        [newId(), merchantId, input.name, input.city],
      );
      return storeView(rows[0]!);
    });
  }

  async updateStore(merchantId: string, storeId: string, input: { name?: string; city?: string }): Promise<StoreView> {
    const { rows } = await this.#db.query<StoreRow>(
      `update merchant_stores set name = coalesce($3, name), city = coalesce($4, city)
       where id = $1 and merchant_id = $2 and closed_at is null returning *`,
      [storeId, merchantId, input.name ?? null, input.city ?? null],
    );
    if (!rows[0]) throw storeNotFound();
    return storeView(rows[0]);
  }

  /** Closes a store for good; refused while staff are still bound to it (they would lose their scope). */
  async closeStore(merchantId: string, storeId: string): Promise<StoreView> {
    return this.#db.transaction(async (tx) => {
      await this.#lockMerchant(tx, merchantId);
      const bound = await count(
        tx,
        `select count(*) as count from merchant_members where merchant_id = $1 and store_id = $2 and removed_at is null`,
        [merchantId, storeId],
      );
      if (bound > 0) {
        throw new MerchantError({
          code: 'store_has_staff',
          status: 409,
          title: 'Store still has staff',
          detail: `${bound} staff member(s) still work at this store: move or remove them first.`,
          extensions: { staffCount: bound },
        });
      }
      const { rows } = await tx.query<StoreRow>(
        `update merchant_stores set closed_at = coalesce(closed_at, now()) where id = $1 and merchant_id = $2 returning *`,
        [storeId, merchantId],
      );
      if (!rows[0]) throw storeNotFound();
      return storeView(rows[0]);
    });
  }

  async listMembers(merchantId: string): Promise<MemberView[]> {
    const { rows } = await this.#db.query<MemberRow>(
      `select * from merchant_members where merchant_id = $1 and removed_at is null order by created_at, id limit ${MEMBERS_MAX}`,
      [merchantId],
    );
    return rows.map(memberView);
  }

  /** Adds a registered customer, found by their phone number, as staff. */
  async addMember(
    merchantId: string,
    input: { phone: string; role: MerchantRole; storeId?: string | null | undefined },
    actor?: AuditActor,
  ): Promise<MemberView> {
    const found = await this.#directory().findCustomerByPhone(input.phone);
    if (!found) {
      throw new MerchantError({
        code: 'staff_phone_unknown',
        status: 422,
        title: 'No Yika user with this phone number',
        detail: 'Staff sign in with the Yika wallet: ask them to register with this number first.',
      });
    }
    const { phone } = await this.#directory().getCustomer(found.customerId);
    return this.#db.transaction(async (tx) => {
      await this.#lockMerchant(tx, merchantId);
      const live = await count(
        tx,
        `select count(*) as count from merchant_members where merchant_id = $1 and removed_at is null`,
        [merchantId],
      );
      if (live >= MEMBERS_MAX) throw tooMany('staff members', MEMBERS_MAX);
      const storeId = input.storeId ?? null;
      if (storeId !== null) await this.#openStore(tx, merchantId, storeId);
      const existing = await count(
        tx,
        `select count(*) as count from merchant_members where merchant_id = $1 and customer_id = $2 and removed_at is null`,
        [merchantId, found.customerId],
      );
      if (existing > 0) {
        throw new MerchantError({
          code: 'staff_already_member',
          status: 409,
          title: 'Already on the staff',
          detail: 'This person is already a member of the merchant: change their role instead.',
        });
      }
      const { rows } = await tx.query<MemberRow>(
        `insert into merchant_members (id, merchant_id, customer_id, phone_masked, role, store_id)
         values ($1, $2, $3, $4, $5, $6) returning *`,
        [newId(), merchantId, found.customerId, maskPhone(phone), input.role, storeId],
      );
      const member = memberView(rows[0]!);
      await this.#record(tx, 'merchants.staff_added', actor, merchantId, {
        after: { memberId: member.id, customerId: member.customerId, role: member.role, storeId },
      });
      return member;
    });
  }

  /** Changes a member's role and/or store; the last owner cannot be demoted. */
  async updateMember(
    merchantId: string,
    memberId: string,
    input: { role?: MerchantRole | undefined; storeId?: string | null | undefined },
    actor?: AuditActor,
  ): Promise<MemberView> {
    return this.#db.transaction(async (tx) => {
      await this.#lockMerchant(tx, merchantId);
      const member = await this.#liveMember(tx, merchantId, memberId);
      const role = input.role ?? member.role;
      if (member.role === 'owner' && role !== 'owner') await this.#keepAnOwner(tx, merchantId);
      const storeId = input.storeId === undefined ? member.store_id : input.storeId;
      if (storeId !== null && storeId !== member.store_id) await this.#openStore(tx, merchantId, storeId);
      const { rows } = await tx.query<MemberRow>(
        `update merchant_members set role = $2, store_id = $3 where id = $1 returning *`,
        [memberId, role, storeId],
      );
      await this.#record(tx, 'merchants.staff_changed', actor, merchantId, {
        before: { memberId, customerId: member.customer_id, role: member.role, storeId: member.store_id },
        after: { memberId, customerId: member.customer_id, role, storeId },
      });
      return memberView(rows[0]!);
    });
  }

  /** Removes a member (the row stays, marked removed); the last owner cannot be removed. */
  async removeMember(merchantId: string, memberId: string, actor?: AuditActor): Promise<void> {
    await this.#db.transaction(async (tx) => {
      await this.#lockMerchant(tx, merchantId);
      const member = await this.#liveMember(tx, merchantId, memberId);
      if (member.role === 'owner') await this.#keepAnOwner(tx, merchantId);
      await tx.query(`update merchant_members set removed_at = now() where id = $1`, [memberId]);
      await this.#record(tx, 'merchants.staff_removed', actor, merchantId, {
        before: { memberId, customerId: member.customer_id, role: member.role, storeId: member.store_id },
      });
    });
  }

  /** Appends to the audit trail last in the transaction (audit.ts: the head lock is taken after ours). */
  async #record(
    tx: SqlExecutor,
    action: string,
    actor: AuditActor | undefined,
    merchantId: string,
    change: { before?: Record<string, string | null>; after?: Record<string, string | null> },
  ): Promise<void> {
    if (!this.#audit) return;
    await this.#audit.record(tx, {
      action,
      actor: actor ?? { type: 'system', id: 'merchants' },
      subject: { type: 'merchant', id: merchantId },
      before: change.before,
      after: change.after,
    });
  }

  /** Serialises staff and store changes of one merchant (the owner count and limits are checked under it). */
  async #lockMerchant(tx: SqlExecutor, merchantId: string): Promise<void> {
    const { rows } = await tx.query(`select id from merchants where id = $1 for update`, [merchantId]);
    if (!rows[0]) throw new NotFoundError('No such merchant.');
  }

  async #liveMember(tx: SqlExecutor, merchantId: string, memberId: string): Promise<MemberRow> {
    const { rows } = await tx.query<MemberRow>(
      `select * from merchant_members where id = $1 and merchant_id = $2 and removed_at is null`,
      [memberId, merchantId],
    );
    if (!rows[0]) throw new NotFoundError('No such staff member.');
    return rows[0];
  }

  async #openStore(tx: SqlExecutor, merchantId: string, storeId: string): Promise<void> {
    const open = await count(
      tx,
      `select count(*) as count from merchant_stores where id = $1 and merchant_id = $2 and closed_at is null`,
      [storeId, merchantId],
    );
    if (open === 0) throw storeNotFound();
  }

  /** Throws unless another live owner remains besides the one being demoted or removed. */
  async #keepAnOwner(tx: SqlExecutor, merchantId: string): Promise<void> {
    const owners = await count(
      tx,
      `select count(*) as count from merchant_members where merchant_id = $1 and role = 'owner' and removed_at is null`,
      [merchantId],
    );
    if (owners <= 1) {
      throw new MerchantError({
        code: 'last_owner',
        status: 409,
        title: 'The last owner must stay',
        detail: 'A merchant always keeps at least one owner: make someone else owner first.',
      });
    }
  }

  // ---- notify key ----

  /**
   * The key that signs notifications to orders' notify URLs (`t=…,v1=…` like webhooks), created on first
   * use. Unlike an endpoint's secret it can be shown again: the merchant's server needs it to verify.
   */
  async notifyKey(merchantId: string): Promise<{ secret: string; createdAt: string }> {
    await this.get(merchantId);
    const secret = newNotifyKeySecret();
    await this.#db.query(
      `insert into merchant_notify_keys (merchant_id, secret_ciphertext) values ($1, $2) on conflict (merchant_id) do nothing`,
      [merchantId, this.#cipher.encrypt(secret, notifyKeySecretContext(merchantId))],
    );
    return this.#readNotifyKey(merchantId);
  }

  /** Replaces the notify key at once (notifications already signed with the old one stay valid as sent). */
  async rotateNotifyKey(merchantId: string): Promise<{ secret: string; createdAt: string }> {
    await this.get(merchantId);
    const secret = newNotifyKeySecret();
    await this.#db.query(
      `insert into merchant_notify_keys (merchant_id, secret_ciphertext) values ($1, $2)
       on conflict (merchant_id) do update set secret_ciphertext = excluded.secret_ciphertext, created_at = now()`,
      [merchantId, this.#cipher.encrypt(secret, notifyKeySecretContext(merchantId))],
    );
    return this.#readNotifyKey(merchantId);
  }

  async #readNotifyKey(merchantId: string): Promise<{ secret: string; createdAt: string }> {
    const { rows } = await this.#db.query<{ secret_ciphertext: string; created_at: Date | string }>(
      `select secret_ciphertext, created_at from merchant_notify_keys where merchant_id = $1`,
      [merchantId],
    );
    const row = rows[0]!;
    return {
      secret: this.#cipher.decrypt(row.secret_ciphertext, notifyKeySecretContext(merchantId)),
      createdAt: iso(row.created_at)!,
    };
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
    await this.checkOutboundUrl(url);
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

const storeNotFound = () => new NotFoundError('No such open store.');

function tooMany(what: string, max: number) {
  return new MerchantError({
    code: 'limit_reached',
    status: 409,
    title: 'Too many',
    detail: `A merchant may have at most ${max} live ${what}.`,
  });
}
