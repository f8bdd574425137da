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

  const params: unknown[] = [];
  const t = {
    id: unnestColumn(
      params,
      'id',
      'uuid',
      created.map((x) => x.id),
      { alwaysArray: true },
    ),
    debit: unnestColumn(
      params,
      'debit',
      'uuid',
      created.map((x) => x.debitAccountId),
    ),
    credit: unnestColumn(
      params,
      'credit',
      'uuid',
      created.map((x) => x.creditAccountId),
    ),
    amount: unnestColumn(
      params,
      'amount',
      'bigint',
      created.map((x) => x.amount),
    ),
    ledger: unnestColumn(
      params,
      'ledger',
      'int',
      created.map((x) => x.ledger),
    ),
    code: unnestColumn(
      params,
      'code',
      'int',
      created.map((x) => x.code),
    ),
    flags: unnestColumn(
      params,
      'flags',
      'int',
      created.map((x) => x.flags),
    ),
    pendingId: unnestColumn(
      params,
      'pending_id',
      'uuid',
      created.map((x) => x.pendingId),
    ),
    timeout: unnestColumn(
      params,
      'timeout',
      'int',
      created.map((x) => x.timeoutSeconds),
    ),
    expiresAt: unnestColumn(
      params,
      'expires_at',
      'bigint',
      created.map((x) => x.expiresAt),
    ),
    pendingState: unnestColumn(
      params,
      'pending_state',
      'smallint',
      created.map((x) => (x.pendingState === null ? null : pendingStateCodes[x.pendingState])),
    ),
    metadata: unnestColumn(
      params,
      'metadata',
      'text',
      created.map((x) => (x.metadata === null ? null : JSON.stringify(x.metadata))),
      { freeText: true },
    ),
    ts: unnestColumn(
      params,
      'ts',
      'bigint',
      created.map((x) => x.timestamp),
    ),
  };
  const v = {
    id: unnestColumn(
      params,
      'id',
      'uuid',
      changed.map((account) => account.id),
      { alwaysArray: true },
    ),
    dp: unnestColumn(
      params,
      'dp',
      'bigint',
      changed.map((account) => account.debitsPending),
    ),
    dpo: unnestColumn(
      params,
      'dpo',
      'bigint',
      changed.map((account) => account.debitsPosted),
    ),
    cp: unnestColumn(
      params,
      'cp',
      'bigint',
      changed.map((account) => account.creditsPending),
    ),
    cpo: unnestColumn(
      params,
      'cpo',
      'bigint',
      changed.map((account) => account.creditsPosted),
    ),
    ts: unnestColumn(
      params,
      'ts',
      'bigint',
      changed.map((account) => account.lastTransferAt),
    ),
  };
  const r = {
    id: unnestColumn(params, 'id', 'uuid', resolvedIds, { alwaysArray: true }),
    state: unnestColumn(
      params,
      'state',
      'smallint',
      resolvedIds.map((id) => pendingStateCodes[resolvedStates.get(id)!]),
    ),
  };
  const columns = (set: Record<string, UnnestColumn>) => Object.values(set);
  const from = (set: Record<string, UnnestColumn>, alias: string) =>
    `unnest(${columns(set)
      .map((c) => c.array)
      .join(', ')}) as ${alias}(${columns(set)
      .map((c) => c.name)
      .join(', ')})`;

  const { rows } = await tx.query<{ inserted: number | bigint; updated: number | bigint; resolved: number | bigint }>(
    `with inserted as (
       insert into ledger_transfers (${TRANSFER_COLUMNS})
       select ${columns(t)
         .map((c) => (c === t.metadata ? `(${c.value('t')})::jsonb` : c.value('t')))
         .join(', ')}
       from ${from(t, 't')}
       returning 1
     ), updated as (
       update ledger_accounts a
       set debits_pending = ${v.dp.value('v')}, debits_posted = ${v.dpo.value('v')},
           credits_pending = ${v.cp.value('v')}, credits_posted = ${v.cpo.value('v')}, last_transfer_at = ${v.ts.value('v')}
       from ${from(v, 'v')}
       where a.id = v.id
       returning 1
     ), resolved as (
       update ledger_transfers t set pending_state = ${r.state.value('r')}
       from ${from(r, 'r')}
       where t.id = r.id and t.pending_state = ${pendingStateCodes.pending}
       returning 1
     )
     select (select count(*) from inserted) as inserted, (select count(*) from updated) as updated,
            (select count(*) from resolved) as resolved`,
    params,
  );
  const counts = rows[0]!;
  invariant(Number(counts.inserted) === created.length, `inserted ${counts.inserted} of ${created.length} transfers`);
  invariant(Number(counts.updated) === changed.length, `updated ${counts.updated} of ${changed.length} accounts`);
  invariant(
    Number(counts.resolved) === resolvedIds.length,
    `resolved ${counts.resolved} of ${resolvedIds.length} pending transfers`,
  );
}

type Scalar = string | number | bigint | null;

/** One column of an `unnest(...)` source: the array parameter, and the expression that reads a row's value. */
interface UnnestColumn {
  name: string;
  array: string;
  value: (alias: string) => string;
}

/**
 * Adds a column's values to `params`. A column whose values are all equal (flags, ledger, nulls: most
 * columns of most batches) travels as an empty array plus one scalar, because PostgreSQL parses every
 * element of an array parameter and that parsing was a large part of a batch's cost. `unnest` pads the
 * empty array with nulls and `coalesce` puts the scalar in their place. Ids always travel as arrays,
 * so the row count is right.
 */
function unnestColumn(
  params: unknown[],
  name: string,
  type: string,
  values: readonly Scalar[],
  options: { alwaysArray?: boolean; freeText?: boolean } = {},
): UnnestColumn {
  const first = values[0] ?? null;
  const uniform = !options.alwaysArray && values.every((value) => value === first);
  // Free text needs the driver's quoting; uuids and numbers need none.
  params.push(uniform ? '{}' : options.freeText ? values : arrayLiteral(values));
  const array = `$${params.length}::${type}[]`;
  if (!uniform) return { name, array, value: (alias) => `${alias}.${name}` };
  params.push(first === null ? null : String(first));
  const scalar = `$${params.length}::${type}`;
  return { name, array, value: (alias) => `coalesce(${alias}.${name}, ${scalar})` };
}

/**
 * A PostgreSQL array literal of validated uuids and numbers, which need no quoting. Building it here is
 * several times cheaper than the driver's generic array encoding, which matters at 8,000 rows a batch.
 */
function arrayLiteral(values: readonly Scalar[]): string {
  let literal = '{';
  for (let index = 0; index < values.length; index += 1) {
    const value = values[index];
    if (index > 0) literal += ',';
    literal += value === null || value === undefined ? 'NULL' : String(value);
  }
  return literal + '}';
}
