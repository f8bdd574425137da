/**
 * One batch against the database: load and lock, apply the rules in memory, write with set-based SQL.
 * Runs inside a transaction the caller owns (the batching writer's, or a business flow's).
 */
import type { SqlExecutor } from '@yika/db';
import { applyTransfers, type BatchOutcome } from './apply.js';
import { isUuid } from './ids.js';
import { invariant } from './invariant.js';
import {
  ACCOUNT_COLUMNS,
  TRANSFER_COLUMNS,
  toAccountState,
  toTransfer,
  type AccountRow,
  type TransferRow,
} from './rows.js';
import { pendingStateCodes } from './schema.js';
import { TransferFlags, type Transfer, type TransferInput, type TransferResult } from './types.js';

const RESOLVING_FLAGS = TransferFlags.postPending | TransferFlags.voidPending;

/** The current time in microseconds since the epoch. */
export function nowMicros(): number {
  return Date.now() * 1000;
}

export async function executeBatch(
  tx: SqlExecutor,
  segments: readonly (readonly TransferInput[])[],
): Promise<TransferResult[][]> {
  const inputs = segments.flat();
  const transferIds = uniqueUuids(inputs.map((input) => input.id));
  const pendingIds = uniqueUuids(
    inputs.filter((input) => ((input.flags ?? 0) & RESOLVING_FLAGS) !== 0).map((input) => input.pendingId),
  );

  // A post or void may omit its accounts: learn them from the pending transfer (immutable) before locking.
  const pendingAccounts = pendingIds.length > 0 ? await loadTransferAccounts(tx, pendingIds) : [];
  const accountIds = uniqueUuids([
    ...inputs.flatMap((input) => [input.debitAccountId, input.creditAccountId]),
    ...pendingAccounts.flatMap((row) => [row.debit_account_id, row.credit_account_id]),
  ]).sort();

  const accounts = await lockAccounts(tx, accountIds);
  // Read after locking: a concurrent writer that touched these accounts has committed by now.
  const transfers = await loadTransfers(tx, uniqueUuids([...transferIds, ...pendingIds]));

  const outcome = applyTransfers({ accounts, transfers, now: nowMicros() }, segments);
  await writeOutcome(tx, outcome, accounts);
  return outcome.results;
}

function uniqueUuids(values: readonly (string | null | undefined)[]): string[] {
  return [...new Set(values.filter((value): value is string => isUuid(value)))];
}

async function loadTransferAccounts(tx: SqlExecutor, ids: string[]) {
  const { rows } = await tx.query<{ debit_account_id: string; credit_account_id: string }>(
    'select debit_account_id, credit_account_id from ledger_transfers where id = any($1::uuid[])',
    [ids],
  );
  return rows;
}

/** Locks rows in id order, so that concurrent batches cannot deadlock on each other. */
async function lockAccounts(tx: SqlExecutor, ids: string[]) {
  const accounts = new Map<string, ReturnType<typeof toAccountState>>();
  if (ids.length === 0) return accounts;
  const { rows } = await tx.query<AccountRow>(
    `select ${ACCOUNT_COLUMNS} from ledger_accounts where id = any($1::uuid[]) order by id for update`,
    [ids],
  );
  for (const row of rows) accounts.set(row.id, toAccountState(row));
  return accounts;
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

async function writeOutcome(
  tx: SqlExecutor,
  outcome: BatchOutcome,
  accounts: Map<string, ReturnType<typeof toAccountState>>,
): Promise<void> {
  if (outcome.created.length > 0) await insertTransfers(tx, outcome.created);
  if (outcome.changedAccountIds.size > 0) {
    await updateAccounts(tx, [...outcome.changedAccountIds].map((id) => accounts.get(id)!));
  }
  if (outcome.pendingStates.size > 0) await updatePendingStates(tx, outcome.pendingStates);
}

async function insertTransfers(tx: SqlExecutor, created: Transfer[]): Promise<void> {
  const columns = {
    id: [] as string[],
    debit: [] as string[],
    credit: [] as string[],
    amount: [] as string[],
    ledger: [] as number[],
    code: [] as number[],
    flags: [] as number[],
    pendingId: [] as (string | null)[],
    timeout: [] as number[],
    expiresAt: [] as (string | null)[],
    pendingState: [] as (number | null)[],
    metadata: [] as (string | null)[],
    timestamp: [] as string[],
  };
  for (const transfer of created) {
    columns.id.push(transfer.id);
    columns.debit.push(transfer.debitAccountId);
    columns.credit.push(transfer.creditAccountId);
    columns.amount.push(transfer.amount.toString());
    columns.ledger.push(transfer.ledger);
    columns.code.push(transfer.code);
    columns.flags.push(transfer.flags);
    columns.pendingId.push(transfer.pendingId);
    columns.timeout.push(transfer.timeoutSeconds);
    columns.expiresAt.push(transfer.expiresAt === null ? null : String(transfer.expiresAt));
    columns.pendingState.push(transfer.pendingState === null ? null : pendingStateCodes[transfer.pendingState]);
    columns.metadata.push(transfer.metadata === null ? null : JSON.stringify(transfer.metadata));
    columns.timestamp.push(String(transfer.timestamp));
  }
  const { affectedRows } = await tx.query(
    `insert into ledger_transfers (${TRANSFER_COLUMNS})
     select id, debit, credit, amount, ledger, code, flags, pending_id, timeout, expires_at, pending_state, metadata::jsonb, ts
     from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bigint[], $5::int[], $6::int[], $7::int[], $8::uuid[],
                 $9::int[], $10::bigint[], $11::smallint[], $12::text[], $13::bigint[])
       as t(id, debit, credit, amount, ledger, code, flags, pending_id, timeout, expires_at, pending_state, metadata, ts)`,
    Object.values(columns),
  );
  invariant(affectedRows === created.length, `inserted ${affectedRows} of ${created.length} transfers`);
}

async function updateAccounts(tx: SqlExecutor, changed: ReturnType<typeof toAccountState>[]): Promise<void> {
  const { affectedRows } = await tx.query(
    `update ledger_accounts a
     set debits_pending = v.dp, debits_posted = v.dpo, credits_pending = v.cp, credits_posted = v.cpo,
         last_transfer_at = v.ts
     from unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
       as v(id, dp, dpo, cp, cpo, ts)
     where a.id = v.id`,
    [
      changed.map((account) => account.id),
      changed.map((account) => account.debitsPending.toString()),
      changed.map((account) => account.debitsPosted.toString()),
      changed.map((account) => account.creditsPending.toString()),
      changed.map((account) => account.creditsPosted.toString()),
      changed.map((account) => String(account.lastTransferAt)),
    ],
  );
  invariant(affectedRows === changed.length, `updated ${affectedRows} of ${changed.length} accounts`);
}

async function updatePendingStates(tx: SqlExecutor, states: BatchOutcome['pendingStates']): Promise<void> {
  const ids = [...states.keys()];
  const { affectedRows } = await tx.query(
    `update ledger_transfers t set pending_state = v.state
     from unnest($1::uuid[], $2::smallint[]) as v(id, state)
     where t.id = v.id and t.pending_state = ${pendingStateCodes.pending}`,
    [ids, ids.map((id) => pendingStateCodes[states.get(id)!])],
  );
  invariant(affectedRows === ids.length, `resolved ${affectedRows} of ${ids.length} pending transfers`);
}
