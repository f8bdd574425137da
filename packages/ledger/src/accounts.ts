/** Account creation and closing: direct SQL, each in its own transaction. */
import type { SqlExecutor } from '@yika/db';
import { isUuid } from './ids.js';
import { nowMicros } from './engine.js';
import { ACCOUNT_COLUMNS, toAccount, type AccountRow } from './rows.js';
import { AccountFlags, type AccountInput, type AccountResult, type AccountResultCode } from './types.js';

const CREATION_FLAGS = AccountFlags.debitsMustNotExceedCredits | AccountFlags.creditsMustNotExceedDebits;

function validateAccount(input: AccountInput): AccountResultCode | null {
  const flags = input.flags ?? 0;
  if (!isUuid(input.id)) return 'id_must_be_uuid';
  // `closed` is reserved: accounts are closed with closeAccount, never created closed.
  if ((flags & ~CREATION_FLAGS) !== 0) return 'flags_are_unknown';
  if (flags === CREATION_FLAGS) return 'flags_are_mutually_exclusive';
  if (!input.ledger) return 'ledger_must_not_be_zero';
  if (!input.code) return 'code_must_not_be_zero';
  return null;
}

export async function createAccounts(tx: SqlExecutor, inputs: readonly AccountInput[]): Promise<AccountResult[]> {
  const results: AccountResult[] = inputs.map((input) => ({ id: input.id, result: validateAccount(input) ?? 'ok' }));
  const valid = inputs.filter((_, index) => results[index]!.result === 'ok');
  const firstById = new Map<string, AccountInput>();
  for (const input of valid) if (!firstById.has(input.id)) firstById.set(input.id, input);
  const fresh = [...firstById.values()];
  const now = nowMicros();
  const inserted = new Set<string>();
  if (fresh.length > 0) {
    const { rows } = await tx.query<{ id: string }>(
      `insert into ledger_accounts (id, ledger, code, flags, owner_ref, created_at, last_transfer_at)
       select id, ledger, code, flags, owner_ref, $6, $6
       from unnest($1::uuid[], $2::int[], $3::int[], $4::int[], $5::text[]) as t(id, ledger, code, flags, owner_ref)
       on conflict (id) do nothing
       returning id`,
      [
        fresh.map((input) => input.id),
        fresh.map((input) => input.ledger),
        fresh.map((input) => input.code),
        fresh.map((input) => input.flags ?? 0),
        fresh.map((input) => input.ownerRef ?? null),
        String(now),
      ],
    );
    for (const row of rows) inserted.add(row.id);
  }
  const existingIds = valid.filter((input) => !inserted.has(input.id)).map((input) => input.id);
  const existing = new Map<string, AccountRow>();
  if (existingIds.length > 0) {
    const { rows } = await tx.query<AccountRow>(
      `select ${ACCOUNT_COLUMNS} from ledger_accounts where id = any($1::uuid[])`,
      [[...new Set(existingIds)]],
    );
    for (const row of rows) existing.set(row.id, row);
  }
  const claimed = new Set<string>();
  return results.map((result, index) => {
    if (result.result !== 'ok') return result;
    const input = inputs[index]!;
    if (inserted.has(input.id) && !claimed.has(input.id)) {
      claimed.add(input.id);
      return result;
    }
    // Already stored (before, or earlier in this same call).
    const stored = existing.get(input.id) ?? null;
    return { id: input.id, result: compareAccount(input, stored, firstById.get(input.id)!) };
  });
}

function compareAccount(input: AccountInput, row: AccountRow | null, first: AccountInput): AccountResultCode {
  const stored = row
    ? { flags: row.flags & ~AccountFlags.closed, ledger: row.ledger, code: row.code, ownerRef: row.owner_ref }
    : { flags: first.flags ?? 0, ledger: first.ledger, code: first.code, ownerRef: first.ownerRef ?? null };
  if ((input.flags ?? 0) !== stored.flags) return 'exists_with_different_flags';
  if (input.ledger !== stored.ledger) return 'exists_with_different_ledger';
  if (input.code !== stored.code) return 'exists_with_different_code';
  if ((input.ownerRef ?? null) !== stored.ownerRef) return 'exists_with_different_owner_ref';
  return 'exists';
}

export type CloseAccountResult =
  'ok' | 'account_not_found' | 'account_already_closed' | 'account_has_pending_transfers';

/** Closes an account to new transfers. Refused while it has pending (reserved) amounts. */
export async function closeAccount(tx: SqlExecutor, id: string): Promise<CloseAccountResult> {
  if (!isUuid(id)) return 'account_not_found';
  const { rows } = await tx.query<AccountRow>(
    `select ${ACCOUNT_COLUMNS} from ledger_accounts where id = $1 for update`,
    [id],
  );
  const row = rows[0];
  if (row === undefined) return 'account_not_found';
  const account = toAccount(row);
  if ((account.flags & AccountFlags.closed) !== 0) return 'account_already_closed';
  if (account.debitsPending !== 0n || account.creditsPending !== 0n) return 'account_has_pending_transfers';
  await tx.query('update ledger_accounts set flags = flags | $2 where id = $1', [id, AccountFlags.closed]);
  return 'ok';
}
