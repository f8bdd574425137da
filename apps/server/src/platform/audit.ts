/**
 * The audit trail (ADR 12): an append-only, hash-chained record of every sensitive action.
 *
 * Each record holds `seq` (1, 2, 3, … without gaps), the previous record's hash, and
 * `hash = SHA-256(canonical JSON of its own fields, seq and prev_hash included)`. A keyed MAC of each hash
 * (HMAC-SHA256 under the never-rotated index key, through `DataCipher.blindIndex`) means someone with
 * write access to the database but not to the configuration cannot rewrite the chain and recompute it.
 * The chain head (last seq, its hash and MAC) lives in its own one-row table, so cutting records off the
 * end is detected too. Appends lock that row, so the chain stays linear however many processes write.
 *
 * `record(tx, …)` appends inside the caller's transaction: an action and its record commit together or
 * not at all. Call it last in the transaction (after the action's other row locks), so the head lock is
 * held as briefly as possible and never taken before another lock (no lock-order deadlocks).
 */
import { createHash } from 'node:crypto';
import type { Database, Migration, SqlExecutor } from '@yika/db';
import { newId } from '@yika/ledger';
import { currentRequestId } from './audit-context.js';
import type { DataCipher } from './crypto.js';

/**
 * The append-only triggers (also re-created by tests after they tamper). A first line of defence only:
 * whoever can drop a trigger can edit rows, and `verify` catches that through the chain and its MACs.
 */
export const AUDIT_APPEND_ONLY_SQL = `
create or replace function audit_records_append_only() returns trigger language plpgsql as $$
begin
  raise exception 'audit_records is append-only (% refused)', tg_op using errcode = '42501';
end;
$$;
create trigger audit_records_no_update_delete before update or delete on audit_records
  for each row execute function audit_records_append_only();
create trigger audit_records_no_truncate before truncate on audit_records
  for each statement execute function audit_records_append_only();
`;

export const auditMigrations: readonly Migration[] = [
  {
    id: 'audit/0001_records_and_chain_head',
    sql: `
create table audit_records (
  seq bigint primary key check (seq > 0),
  id uuid not null unique,
  occurred_at timestamptz not null,
  action text not null,
  actor_type text not null,
  actor_id text not null,
  subject_type text not null,
  subject_id text not null,
  request_id text,
  before_json text,
  after_json text,
  detail_json text,
  prev_hash text not null,
  hash text not null,
  mac text not null
);
create index audit_records_subject on audit_records (subject_type, subject_id, seq desc);
create index audit_records_actor on audit_records (actor_type, actor_id, seq desc);

create table audit_chain_head (
  id integer primary key check (id = 1),
  seq bigint not null check (seq >= 0),
  hash text not null,
  mac text
);
insert into audit_chain_head (id, seq, hash, mac)
  values (1, 0, '0000000000000000000000000000000000000000000000000000000000000000', null);

${AUDIT_APPEND_ONLY_SQL}`,
  },
];

export const GENESIS_HASH = '0'.repeat(64);
/** Records read per query while verifying: memory stays flat however long the chain is. */
export const AUDIT_VERIFY_BATCH_SIZE = 1_000;
/** Largest canonical JSON of one of before / after / detail. Records are evidence, not data dumps. */
export const AUDIT_FIELD_BYTES_MAX = 8_192;
/** Most records one `list` call returns. */
export const AUDIT_LIST_LIMIT_MAX = 500;

const ACTION_PATTERN = /^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,3}$/;
const TYPE_PATTERN = /^[a-z][a-z0-9_]{0,39}$/;
const ID_LENGTH_MAX = 128;
const REQUEST_ID_LENGTH_MAX = 128;
const MAC_PURPOSE = 'audit.chain';
const REDACTED = '[redacted]';
/** Keys whose values are secrets or plain personal data: replaced wherever they appear in a record. */
const SECRET_KEY_PATTERN =
  /^(pin|newpin|oldpin|password|passcode|token|secret|code|otp|totp|cvv|cvn|cardnumber|card_number|idnumber|id_number|realname|real_name|name|phone|mobile|email|privatekey|apikey|api_key|signingsecret|authorization|cookie)$/i;
const NESTING_DEPTH_MAX = 8;

export type AuditActorType = 'customer' | 'staff' | 'merchant_key' | 'system';

export interface AuditActor {
  type: AuditActorType;
  id: string;
}

export interface AuditSubject {
  /** e.g. `customer`, `card`, `merchant`, `risk_rule`. */
  type: string;
  id: string;
}

export type AuditJson = string | number | boolean | null | AuditJson[] | { [key: string]: AuditJson | undefined };

export interface AuditEntry {
  /** `<domain>.<verb>`, e.g. `identity.pin_changed`, `cards.bound`, `merchants.approved`. */
  action: string;
  actor: AuditActor;
  subject: AuditSubject;
  /** Defaults to the id of the HTTP request being served (audit-context.ts), if any. */
  requestId?: string | undefined;
  before?: AuditJson | undefined;
  after?: AuditJson | undefined;
  detail?: AuditJson | undefined;
}

export interface AuditRecord {
  seq: bigint;
  id: string;
  occurredAt: Date;
  action: string;
  actor: AuditActor;
  subject: AuditSubject;
  requestId: string | null;
  before: unknown;
  after: unknown;
  detail: unknown;
  prevHash: string;
  hash: string;
}

export type AuditBreakReason =
  /** The record's fields do not give its stored hash: a field was edited (or rows were swapped). */
  | 'hash_mismatch'
  /** The record does not point at the hash of the record before it. */
  | 'prev_hash_mismatch'
  /** The hash is not MACed with our key: the record was rewritten by someone without the key. */
  | 'mac_mismatch'
  /** A record with this seq should exist and does not (deleted, or the tail was cut off). */
  | 'missing'
  /** A record past the chain head: added without going through `record`. */
  | 'beyond_head'
  /** The chain head does not match the last record, or its MAC is wrong. */
  | 'head_mismatch';

export interface AuditVerifyReport {
  ok: boolean;
  /** Records checked. */
  records: number;
  head: { seq: bigint; hash: string };
  firstBroken?: { seq: bigint; reason: AuditBreakReason };
}

/** A programmer error in what was passed to `record` (never a customer's input): fix the caller. */
export class AuditEntryError extends Error {
  override readonly name = 'AuditEntryError';
}

interface RecordRow {
  seq: bigint | number | string;
  id: string;
  occurred_at: Date;
  action: string;
  actor_type: string;
  actor_id: string;
  subject_type: string;
  subject_id: string;
  request_id: string | null;
  before_json: string | null;
  after_json: string | null;
  detail_json: string | null;
  prev_hash: string;
  hash: string;
  mac: string;
}

const RECORD_COLUMNS = `seq, id, occurred_at, action, actor_type, actor_id, subject_type, subject_id, request_id,
  before_json, after_json, detail_json, prev_hash, hash, mac`;

export interface AuditTrailOptions {
  db: Database;
  /** Its index key MACs each hash (a keyed chain anchor). */
  cipher: DataCipher;
  now?: () => Date;
}

export class AuditTrail {
  readonly #db: Database;
  readonly #cipher: DataCipher;
  readonly #now: () => Date;

  constructor(options: AuditTrailOptions) {
    this.#db = options.db;
    this.#cipher = options.cipher;
    this.#now = options.now ?? (() => new Date());
  }

  /**
   * Appends one record inside `tx` (the transaction of the action it records). Values under keys that
   * name secrets or personal data (pin, token, phone, name, idNumber, …) are replaced by "[redacted]":
   * pass masked forms under other keys (`maskedPhone`, `last4`) when they matter.
   */
  async record(tx: SqlExecutor, entry: AuditEntry): Promise<{ seq: bigint; hash: string }> {
    const fields = this.#fields(entry);
    const { rows } = await tx.query<{ seq: bigint | number | string; hash: string }>(
      'select seq, hash from audit_chain_head where id = 1 for update',
    );
    const head = rows[0];
    if (!head) throw new Error('audit chain head is missing: run the migrations');
    const seq = BigInt(head.seq) + 1n;
    const id = newId();
    const hash = recordHash({ ...fields, id, seq, prevHash: head.hash });
    const mac = this.#mac(seq, hash);
    await tx.query(
      `insert into audit_records (${RECORD_COLUMNS})
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
      [
        seq.toString(),
        id,
        fields.occurredAt,
        fields.action,
        fields.actorType,
        fields.actorId,
        fields.subjectType,
        fields.subjectId,
        fields.requestId,
        fields.beforeJson,
        fields.afterJson,
        fields.detailJson,
        head.hash,
        hash,
        mac,
      ],
    );
    await tx.query('update audit_chain_head set seq = $1, hash = $2, mac = $3 where id = 1', [
      seq.toString(),
      hash,
      mac,
    ]);
    return { seq, hash };
  }

  /** Appends in a transaction of its own, for actions whose own writes are already committed. */
  async recordNow(entry: AuditEntry): Promise<{ seq: bigint; hash: string }> {
    return this.#db.transaction((tx) => this.record(tx, entry));
  }

  /**
   * Walks the chain up to the head as it stands when called, in batches of `AUDIT_VERIFY_BATCH_SIZE`;
   * stops at the first broken record. Safe while appends continue: they land past that head.
   */
  async verify(options: { batchSize?: number } = {}): Promise<AuditVerifyReport> {
    const batchSize = Math.min(Math.max(options.batchSize ?? AUDIT_VERIFY_BATCH_SIZE, 1), 10_000);
    const headRow = await this.#headRow();
    const head = { seq: BigInt(headRow.seq), hash: headRow.hash };
    const walked = await this.#walk(head.seq, batchSize);
    const broken = (seq: bigint, reason: AuditBreakReason): AuditVerifyReport => ({
      ok: false,
      records: walked.checked,
      head,
      firstBroken: { seq, reason },
    });
    if (walked.broken) return broken(walked.broken.seq, walked.broken.reason);
    const headMacOk = head.seq === 0n ? headRow.mac === null : this.#macMatches(head.seq, head.hash, headRow.mac ?? '');
    if (head.hash !== walked.lastHash || !headMacOk) return broken(head.seq, 'head_mismatch');
    const beyond = await this.#firstBeyondHead();
    if (beyond !== null) return broken(beyond, 'beyond_head');
    return { ok: true, records: walked.checked, head };
  }

  async #headRow(): Promise<{ seq: bigint | number | string; hash: string; mac: string | null }> {
    const { rows } = await this.#db.query<{ seq: bigint | number | string; hash: string; mac: string | null }>(
      'select seq, hash, mac from audit_chain_head where id = 1',
    );
    if (!rows[0]) throw new Error('audit chain head is missing: run the migrations');
    return rows[0];
  }

  /** Checks records 1..`lastSeq` in order: numbering, hash, MAC and link to the previous record. */
  async #walk(
    lastSeq: bigint,
    batchSize: number,
  ): Promise<{ checked: number; lastHash: string; broken?: { seq: bigint; reason: AuditBreakReason } }> {
    let expectedSeq = 1n;
    let prevHash = GENESIS_HASH;
    let checked = 0;
    const broken = (seq: bigint, reason: AuditBreakReason) => ({
      checked,
      lastHash: prevHash,
      broken: { seq, reason },
    });
    // Bounded by the head: each pass advances past `batchSize` records or ends.
    while (expectedSeq <= lastSeq) {
      const { rows } = await this.#db.query<RecordRow>(
        `select ${RECORD_COLUMNS} from audit_records where seq >= $1 and seq <= $2 order by seq limit $3`,
        [expectedSeq.toString(), lastSeq.toString(), batchSize],
      );
      for (const row of rows) {
        const seq = BigInt(row.seq);
        if (seq !== expectedSeq) return broken(expectedSeq, 'missing');
        const hash = recordHash({ ...fieldsOf(row), id: row.id, seq, prevHash: row.prev_hash });
        if (hash !== row.hash) return broken(seq, 'hash_mismatch');
        if (!this.#macMatches(seq, row.hash, row.mac)) return broken(seq, 'mac_mismatch');
        if (row.prev_hash !== prevHash) return broken(seq, 'prev_hash_mismatch');
        checked += 1;
        prevHash = row.hash;
        expectedSeq = seq + 1n;
      }
      if (rows.length < batchSize) break;
    }
    if (expectedSeq <= lastSeq) return broken(expectedSeq, 'missing');
    return { checked, lastHash: prevHash };
  }

  /**
   * The first record past the chain head, if any: one that was inserted without `record`. The largest
   * seq is read before the head, so an append committing meanwhile never looks like one.
   */
  async #firstBeyondHead(): Promise<bigint | null> {
    const { rows } = await this.#db.query<{ max: bigint | number | string | null }>(
      'select max(seq) as max from audit_records',
    );
    const max = rows[0]?.max;
    if (max === null || max === undefined) return null;
    const head = BigInt((await this.#headRow()).seq);
    if (BigInt(max) <= head) return null;
    const first = await this.#db.query<{ seq: bigint | number | string }>(
      'select min(seq) as seq from audit_records where seq > $1 and seq <= $2',
      [head.toString(), String(max)],
    );
    return BigInt(first.rows[0]?.seq ?? max);
  }

  /** Records about one subject (or by one actor), newest first; `beforeSeq` pages further back. */
  async list(
    filter: { subject?: AuditSubject; actor?: AuditActor; beforeSeq?: bigint; limit?: number } = {},
  ): Promise<AuditRecord[]> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.subject) {
      params.push(filter.subject.type, filter.subject.id);
      conditions.push(`subject_type = $${params.length - 1} and subject_id = $${params.length}`);
    }
    if (filter.actor) {
      params.push(filter.actor.type, filter.actor.id);
      conditions.push(`actor_type = $${params.length - 1} and actor_id = $${params.length}`);
    }
    if (filter.beforeSeq !== undefined) {
      params.push(filter.beforeSeq.toString());
      conditions.push(`seq < $${params.length}`);
    }
    params.push(Math.min(Math.max(filter.limit ?? 50, 1), AUDIT_LIST_LIMIT_MAX));
    const { rows } = await this.#db.query<RecordRow>(
      `select ${RECORD_COLUMNS} from audit_records ${conditions.length ? `where ${conditions.join(' and ')}` : ''}
        order by seq desc limit $${params.length}`,
      params,
    );
    return rows.map(toRecord);
  }

  #fields(entry: AuditEntry): HashedFields {
    if (!ACTION_PATTERN.test(entry.action))
      throw new AuditEntryError(`audit action ${JSON.stringify(entry.action)} must be like domain.verb`);
    for (const [what, party] of [
      ['actor', entry.actor],
      ['subject', entry.subject],
    ] as const) {
      if (!TYPE_PATTERN.test(party.type))
        throw new AuditEntryError(`audit ${what} type ${JSON.stringify(party.type)} is invalid`);
      if (party.id.length === 0 || party.id.length > ID_LENGTH_MAX)
        throw new AuditEntryError(`audit ${what} id must be 1-${ID_LENGTH_MAX} characters`);
    }
    const requestId = entry.requestId ?? currentRequestId() ?? null;
    return {
      occurredAt: this.#now(),
      action: entry.action,
      actorType: entry.actor.type,
      actorId: entry.actor.id,
      subjectType: entry.subject.type,
      subjectId: entry.subject.id,
      requestId: requestId === null ? null : requestId.slice(0, REQUEST_ID_LENGTH_MAX),
      beforeJson: jsonField('before', entry.before),
      afterJson: jsonField('after', entry.after),
      detailJson: jsonField('detail', entry.detail),
    };
  }

  #mac(seq: bigint, hash: string): string {
    return this.#cipher.blindIndex(MAC_PURPOSE, `${seq}:${hash}`);
  }

  #macMatches(seq: bigint, hash: string, mac: string): boolean {
    return /^[0-9a-f]{64}$/.test(mac) && this.#cipher.matchesBlindIndex(MAC_PURPOSE, `${seq}:${hash}`, mac);
  }
}

interface HashedFields {
  occurredAt: Date;
  action: string;
  actorType: string;
  actorId: string;
  subjectType: string;
  subjectId: string;
  requestId: string | null;
  beforeJson: string | null;
  afterJson: string | null;
  detailJson: string | null;
}

function fieldsOf(row: RecordRow): HashedFields {
  return {
    occurredAt: row.occurred_at,
    action: row.action,
    actorType: row.actor_type,
    actorId: row.actor_id,
    subjectType: row.subject_type,
    subjectId: row.subject_id,
    requestId: row.request_id,
    beforeJson: row.before_json,
    afterJson: row.after_json,
    detailJson: row.detail_json,
  };
}

/** The chain's hash: SHA-256 (hex) of the canonical JSON of every field, seq and prev_hash included. */
export function recordHash(fields: HashedFields & { id: string; seq: bigint; prevHash: string }): string {
  const canonical = canonicalJson({
    v: 1,
    seq: fields.seq.toString(),
    id: fields.id,
    prevHash: fields.prevHash,
    occurredAt: fields.occurredAt.toISOString(),
    action: fields.action,
    actor: { type: fields.actorType, id: fields.actorId },
    subject: { type: fields.subjectType, id: fields.subjectId },
    requestId: fields.requestId,
    before: fields.beforeJson,
    after: fields.afterJson,
    detail: fields.detailJson,
  });
  return createHash('sha256').update(canonical, 'utf8').digest('hex');
}

/** JSON with object keys sorted at every level and no whitespace: one text for one value. */
export function canonicalJson(value: AuditJson | undefined): string {
  return JSON.stringify(sortKeys(value ?? null, 0));
}

function sortKeys(value: AuditJson, depth: number): AuditJson {
  if (depth > NESTING_DEPTH_MAX) throw new AuditEntryError(`audit values nest at most ${NESTING_DEPTH_MAX} deep`);
  if (Array.isArray(value)) return value.map((item) => sortKeys(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    const sorted: Record<string, AuditJson> = {};
    for (const key of Object.keys(value).sort()) {
      const item = value[key];
      if (item !== undefined) sorted[key] = sortKeys(item, depth + 1);
    }
    return sorted;
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw new AuditEntryError('audit numbers must be finite');
  return value;
}

/** Replaces the values of secret-looking keys, at any depth. */
export function redact(value: AuditJson, depth = 0): AuditJson {
  if (depth > NESTING_DEPTH_MAX) throw new AuditEntryError(`audit values nest at most ${NESTING_DEPTH_MAX} deep`);
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, AuditJson> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      out[key] = SECRET_KEY_PATTERN.test(key) ? REDACTED : redact(item, depth + 1);
    }
    return out;
  }
  return value;
}

function jsonField(what: string, value: AuditJson | undefined): string | null {
  if (value === undefined) return null;
  const text = canonicalJson(redact(value));
  if (Buffer.byteLength(text, 'utf8') > AUDIT_FIELD_BYTES_MAX) {
    throw new AuditEntryError(`audit ${what} is larger than ${AUDIT_FIELD_BYTES_MAX} bytes`);
  }
  return text;
}

function toRecord(row: RecordRow): AuditRecord {
  const parse = (text: string | null): unknown => (text === null ? null : (JSON.parse(text) as unknown));
  return {
    seq: BigInt(row.seq),
    id: row.id,
    occurredAt: row.occurred_at,
    action: row.action,
    actor: { type: row.actor_type as AuditActorType, id: row.actor_id },
    subject: { type: row.subject_type, id: row.subject_id },
    requestId: row.request_id,
    before: parse(row.before_json),
    after: parse(row.after_json),
    detail: parse(row.detail_json),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** `+8613800138000` → `+86138****8000`: enough to recognise, not enough to call. */
export function maskPhone(phone: string): string {
  if (phone.length < 8) return '*'.repeat(phone.length);
  return `${phone.slice(0, phone.length - 8)}****${phone.slice(-4)}`;
}

/** An IPv4 address without its last octet, an IPv6 address cut to its /48: the network, not the host. */
export function maskIp(ip: string | undefined): string | null {
  if (!ip) return null;
  const v4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(ip);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (ip.includes(':')) return `${ip.split(':').slice(0, 3).join(':')}::/48`;
  return null;
}
