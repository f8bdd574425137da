/**
 * One batch against the database: load and lock, apply the rules in memory, write with set-based SQL.
 * Runs inside a transaction the caller owns (the batching writer's, or a business flow's).
 */
import type { SqlExecutor } from '@yika/db';
import { applyTransfers, type AccountState, type BatchOutcome } from './apply.js';
import { isUuid } from './ids.js';
import { invariant } from './invariant.js';
import {
  ACCOUNT_STATE_COLUMNS,
  TRANSFER_COLUMNS,
  toAccountState,
  toTransfer,
  type AccountStateRow,
  type TransferRow,
} from './rows.js';
import { pendingStateCodes } from './schema.js';
import { TransferFlags, type Transfer, type TransferInput, type TransferResult } from './types.js';

const RESOLVING_FLAGS = TransferFlags.postPending | TransferFlags.voidPending;

/** The current time in microseconds since the epoch. */
export function nowMicros(): number {
  return Date.now() * 1000;
}

export interface BatchMode {
  /**
   * Skip looking up the batch's own transfer ids, assuming none is stored yet (resubmissions are rare).
   * Transfers the rules refused are checked after all, and the batch is applied again if one is stored,
   * because `exists` takes precedence over every other result. A stored id among accepted transfers makes
   * the insert fail with a unique violation: the transaction rolls back and the caller runs the batch
   * again without this assumption. Only for callers that own the transaction.
   */
  assumeNew: boolean;
}

export async function executeBatch(
  tx: SqlExecutor,
  segments: readonly (readonly TransferInput[])[],
  mode: BatchMode = { assumeNew: false },
): Promise<TransferResult[][]> {
  const inputs = segments.flat();
  const pendingIds = uniqueUuids(
    inputs.filter((input) => ((input.flags ?? 0) & RESOLVING_FLAGS) !== 0).map((input) => input.pendingId),
  );

  // A post or void may omit its accounts: learn them from the pending transfer (immutable) before locking.
  const pendingAccounts = pendingIds.length > 0 ? await loadTransferAccounts(tx, pendingIds) : [];
  const involved: (string | undefined)[] = [];
  for (const input of inputs) involved.push(input.debitAccountId, input.creditAccountId);
  for (const row of pendingAccounts) involved.push(row.debit_account_id, row.credit_account_id);
  const accountIds = uniqueUuids(involved);

  const locked = await lockAccounts(tx, accountIds);
  // Read after locking: a concurrent writer that touched these accounts has committed by now.
  const ownIds = uniqueUuids(inputs.map((input) => input.id));
  const known = await loadTransfers(tx, mode.assumeNew ? pendingIds : uniqueUuids([...ownIds, ...pendingIds]));
  const now = nowMicros();
  let accounts = accountStates(locked);
  let outcome = applyTransfers({ accounts, transfers: known, now }, segments);

  if (mode.assumeNew) {
    const refused = uniqueUuids(
      outcome.results
        .flat()
        .filter((result) => result.result !== 'ok')
        .map((result) => result.id),
    );
    const stored = await loadTransfers(tx, refused);
    if (stored.size > 0) {
      const transfers = await loadTransfers(tx, uniqueUuids([...ownIds, ...pendingIds]));
      accounts = accountStates(locked);
      outcome = applyTransfers({ accounts, transfers, now }, segments);
    }
  }
  await writeOutcome(tx, outcome, accounts);
  return outcome.results;
}

function uniqueUuids(values: readonly (string | null | undefined)[]): string[] {
  const unique = new Set<string>();
  for (const value of values) if (value != null && !unique.has(value) && isUuid(value)) unique.add(value);
  return [...unique];
}

async function loadTransferAccounts(tx: SqlExecutor, ids: string[]) {
  const { rows } = await tx.query<{ debit_account_id: string; credit_account_id: string }>(
    'select debit_account_id, credit_account_id from ledger_transfers where id = any($1::uuid[])',
    [ids],
  );
  return rows;
}

/**
 * Locks rows in id order, so that concurrent batches cannot deadlock on each other: PostgreSQL locks each
 * row as it leaves the sort.
 */
async function lockAccounts(tx: SqlExecutor, ids: string[]): Promise<AccountStateRow[]> {
  if (ids.length === 0) return [];
  const { rows } = await tx.query<AccountStateRow>(
    `select ${ACCOUNT_STATE_COLUMNS} from ledger_accounts where id = any($1::uuid[]) order by id for update`,
    [arrayLiteral(ids)],
  );
  return rows;
}

/** Fresh account states for one application of the rules, which changes them in place. */
function accountStates(rows: readonly AccountStateRow[]): Map<string, AccountState> {
  return new Map(rows.map((row) => [row.id, toAccountState(row)]));
}

async function loadTransfers(tx: SqlExecutor, ids: string[]): Promise<Map<string, Transfer>> {
  const transfers = new Map<string, Transfer>();
  if (ids.length === 0) return transfers;
  const { rows } = await tx.query<TransferRow>(
    `select ${TRANSFER_COLUMNS} from ledger_transfers where id = any($1::uuid[])`,
    [ids],
  );
  for (const row of rows) transfers.set(row.id, toTransfer(row));
  return transfers;
}

/**
 * Writes the outcome in one statement: new transfers, account counters, and resolved pending transfers.
 * A pending transfer created and resolved in the same batch is inserted in its final state, because the
 * statement's parts all see the table as it was before it.
 */
async function writeOutcome(
  tx: SqlExecutor,
  outcome: BatchOutcome,
  accounts: Map<string, AccountState>,
): Promise<void> {
  const resolvedStates = new Map(outcome.pendingStates);
  const created = outcome.created.map((transfer) => {
    const finalState = resolvedStates.get(transfer.id);
    if (finalState === undefined) return transfer;
    resolvedStates.delete(transfer.id);
    return { ...transfer, pendingState: finalState };
  });
  const changed = [...outcome.changedAccountIds].map((id) => accounts.get(id)!);
  const resolvedIds = [...resolvedStates.keys()];

  const { rows } = await tx.query<{ inserted: number | bigint; updated: number | bigint; resolved: number | bigint }>(
    `with inserted as (
       insert into ledger_transfers (${TRANSFER_COLUMNS})
       select id, debit, credit, amount, ledger, code, flags, pending_id, timeout, expires_at, pending_state, metadata::jsonb, ts
       from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::int[], $6::int[], $7::int[], $8::uuid[],
                   $9::int[], $10::bigint[], $11::smallint[], $12::text[], $13::bigint[])
         as t(id, debit, credit, amount, ledger, code, flags, pending_id, timeout, expires_at, pending_state, metadata, ts)
       returning 1
     ), updated as (
       update ledger_accounts a
       set debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo,
           last_transfer_at = v.ts
       from unnest($14::uuid[], $15::bigint[], $16::bigint[], $17::bigint[], $18::bigint[], $19::bigint[])
         as v(id, dp, dpo, cp, cpo, ts)
       where a.id = v.id
       returning 1
     ), resolved as (
       update ledger_transfers t set pending_state = v.state
       from unnest($20::uuid[], $21::smallint[]) as v(id, state)
       where t.id = v.id and t.pending_state = ${pendingStateCodes.pending}
       returning 1
     )
     select (select count(*) from inserted) as inserted, (select count(*) from updated) as updated,
            (select count(*) from resolved) as resolved`,
    [
      ...transferColumns(created),
      arrayLiteral(changed.map((account) => account.id)),
      arrayLiteral(changed.map((account) => account.debitsPending)),
      arrayLiteral(changed.map((account) => account.debitsPosted)),
      arrayLiteral(changed.map((account) => account.creditsPending)),
      arrayLiteral(changed.map((account) => account.creditsPosted)),
      arrayLiteral(changed.map((account) => account.lastTransferAt)),
      arrayLiteral(resolvedIds),
      arrayLiteral(resolvedIds.map((id) => pendingStateCodes[resolvedStates.get(id)!])),
    ],
  );
  const counts = rows[0]!;
  invariant(Number(counts.inserted) === created.length, `inserted ${counts.inserted} of ${created.length} transfers`);
  invariant(Number(counts.updated) === changed.length, `updated ${counts.updated} of ${changed.length} accounts`);
  invariant(
    Number(counts.resolved) === resolvedIds.length,
    `resolved ${counts.resolved} of ${resolvedIds.length} pending transfers`,
  );
}

/** The transfers as the thirteen column arrays of the insert, in TRANSFER_COLUMNS order. */
function transferColumns(created: readonly Transfer[]): unknown[] {
  const columns: unknown[][] = Array.from({ length: 13 }, () => []);
  const [
    id,
    debit,
    credit,
    amount,
    ledger,
    code,
    flags,
    pendingId,
    timeout,
    expiresAt,
    pendingState,
    metadata,
    timestamp,
  ] = columns as [
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
    unknown[],
  ];
  for (const t of created) {
    id.push(t.id);
    debit.push(t.debitAccountId);
    credit.push(t.creditAccountId);
    amount.push(t.amount);
    ledger.push(t.ledger);
    code.push(t.code);
    flags.push(t.flags);
    pendingId.push(t.pendingId);
    timeout.push(t.timeoutSeconds);
    expiresAt.push(t.expiresAt);
    pendingState.push(t.pendingState === null ? null : pendingStateCodes[t.pendingState]);
    metadata.push(t.metadata === null ? null : JSON.stringify(t.metadata));
    timestamp.push(t.timestamp);
  }
  // Metadata is free text: the driver quotes it. Every other column is uuids or numbers.
  return columns.map((values) =>
    values === metadata ? values : arrayLiteral(values as (string | number | bigint | null)[]),
  );
}

/**
 * A PostgreSQL array literal of validated uuids and numbers, which need no quoting. Building it here is
 * several times cheaper than the driver's generic array encoding, which matters at 8,000 rows a batch.
 */
function arrayLiteral(values: readonly (string | number | bigint | null)[]): string {
  let literal = '{';
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index];
    if (index > 0) literal += ',';
    literal += value === null || value === undefined ? 'NULL' : String(value);
  }
  return literal + '}';
}
