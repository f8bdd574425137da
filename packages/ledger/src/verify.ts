/**
 * The invariant checker. Per ledger (currency) debits equal credits, pending and posted alike; every
 * account's counters equal the sums of its transfers; every transfer names accounts that exist on its
 * ledger; every pending transfer's state agrees with the transfer that resolved it.
 */
import type { SqlExecutor } from '@yika/db';
import { pendingStateCodes } from './schema.js';
import { TransferFlags } from './types.js';

export interface LedgerVerification {
  ok: boolean;
  violations: string[];
  accounts: number;
  transfers: number;
  /** Totals per ledger, as decimal strings of minor units. */
  ledgers: {
    ledger: number;
    debitsPosted: string;
    creditsPosted: string;
    debitsPending: string;
    creditsPending: string;
  }[];
}

/** Most violations listed; the count of the rest is reported. */
const VIOLATIONS_LISTED_MAX = 100;

const { pending, voidPending } = TransferFlags;

export async function verifyLedger(db: SqlExecutor): Promise<LedgerVerification> {
  const violations: string[] = [];
  const totals = await db.query<{ ledger: number; dp: string; dpo: string; cp: string; cpo: string }>(
    `select ledger, sum(debits_pending)::text as dp, sum(debits_posted)::text as dpo,
            sum(credits_pending)::text as cp, sum(credits_posted)::text as cpo
     from ledger_accounts group by ledger order by ledger`,
  );
  for (const row of totals.rows) {
    if (row.dpo !== row.cpo)
      violations.push(`ledger ${row.ledger}: posted debits ${row.dpo} ≠ posted credits ${row.cpo}`);
    if (row.dp !== row.cp)
      violations.push(`ledger ${row.ledger}: pending debits ${row.dp} ≠ pending credits ${row.cp}`);
  }

  const mismatched = await db.query<{ id: string; field: string; stored: string; derived: string }>(
    `with effects as (
       select debit_account_id as account_id,
              case when flags & ${pending} <> 0 then amount else 0 end as dp,
              case when flags & ${pending | voidPending} = 0 then amount else 0 end as dpo,
              0::bigint as cp, 0::bigint as cpo
       from ledger_transfers
       union all
       select credit_account_id, 0, 0,
              case when flags & ${pending} <> 0 then amount else 0 end,
              case when flags & ${pending | voidPending} = 0 then amount else 0 end
       from ledger_transfers
       union all
       -- a post or void releases the whole pending amount
       select r.debit_account_id, -p.amount, 0, 0, 0 from ledger_transfers r join ledger_transfers p on p.id = r.pending_id
       union all
       select r.credit_account_id, 0, 0, -p.amount, 0 from ledger_transfers r join ledger_transfers p on p.id = r.pending_id
     ),
     derived as (
       select account_id, sum(dp) as dp, sum(dpo) as dpo, sum(cp) as cp, sum(cpo) as cpo from effects group by account_id
     ),
     compared as (
       select a.id,
              a.debits_pending, coalesce(d.dp, 0) as dp, a.debits_posted, coalesce(d.dpo, 0) as dpo,
              a.credits_pending, coalesce(d.cp, 0) as cp, a.credits_posted, coalesce(d.cpo, 0) as cpo
       from ledger_accounts a left join derived d on d.account_id = a.id
     )
     select id, field, stored::text, derived::text from compared,
       lateral (values ('debits_pending', debits_pending::numeric, dp::numeric),
                       ('debits_posted', debits_posted::numeric, dpo::numeric),
                       ('credits_pending', credits_pending::numeric, cp::numeric),
                       ('credits_posted', credits_posted::numeric, cpo::numeric)) as v(field, stored, derived)
     where stored <> derived
     order by id, field
     limit ${VIOLATIONS_LISTED_MAX + 1}`,
  );
  for (const row of mismatched.rows) {
    violations.push(`account ${row.id}: ${row.field} is ${row.stored} but its transfers sum to ${row.derived}`);
  }

  const orphans = await db.query<{ id: string; problem: string }>(
    `select t.id, case when d.id is null then 'debit account missing' when c.id is null then 'credit account missing'
                       else 'ledger differs from its accounts' end as problem
     from ledger_transfers t
     left join ledger_accounts d on d.id = t.debit_account_id
     left join ledger_accounts c on c.id = t.credit_account_id
     where d.id is null or c.id is null or d.ledger <> t.ledger or c.ledger <> t.ledger
     limit ${VIOLATIONS_LISTED_MAX + 1}`,
  );
  for (const row of orphans.rows) violations.push(`transfer ${row.id}: ${row.problem}`);

  const states = await db.query<{ id: string; state: number | null; resolved_by: string | null }>(
    `select p.id, p.pending_state as state, r.id as resolved_by
     from ledger_transfers p left join ledger_transfers r on r.pending_id = p.id
     where p.flags & ${pending} <> 0
       and ((p.pending_state = ${pendingStateCodes.pending}) <> (r.id is null) or p.pending_state is null)
     limit ${VIOLATIONS_LISTED_MAX + 1}`,
  );
  for (const row of states.rows) {
    violations.push(
      `pending transfer ${row.id}: state ${row.state ?? 'null'} but resolved by ${row.resolved_by ?? 'nothing'}`,
    );
  }

  const counts = await db.query<{ accounts: string; transfers: string }>(
    'select (select count(*) from ledger_accounts)::text as accounts, (select count(*) from ledger_transfers)::text as transfers',
  );
  const listed = violations.slice(0, VIOLATIONS_LISTED_MAX);
  if (violations.length > VIOLATIONS_LISTED_MAX) listed.push(`… and more violations not listed`);
  return {
    ok: violations.length === 0,
    violations: listed,
    accounts: Number(counts.rows[0]!.accounts),
    transfers: Number(counts.rows[0]!.transfers),
    ledgers: totals.rows.map((row) => ({
      ledger: row.ledger,
      debitsPosted: row.dpo,
      creditsPosted: row.cpo,
      debitsPending: row.dp,
      creditsPending: row.cp,
    })),
  };
}
