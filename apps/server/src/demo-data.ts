/**
 * Demo data for a fresh install: a few CNY ledger accounts and transfers between them. Every id is
 * derived from a fixed key, so seeding again finds everything already there (`exists`) and changes
 * nothing. Account and transfer codes are placeholders until the wallet module defines the real ones.
 */
import {
  AccountFlags,
  TransferFlags,
  transferId,
  type AccountInput,
  type Ledger,
  type TransferInput,
} from '@yika/ledger';

/** ISO 4217 numeric code of the renminbi: the ledger every demo account is on. */
export const CNY = 156;

const DEMO_KEY = 'yika-demo-data';

/** A stable UUID (v5) for a named demo record. */
function demoId(name: string): string {
  return transferId(DEMO_KEY, name);
}

const AccountCode = { bankSettlement: 1, customerWallet: 100, merchantSettlement: 200 } as const;
const TransferCode = { topUp: 1, peerToPeer: 2, payment: 3 } as const;

export const demoAccountIds = {
  bank: demoId('account/bank-settlement'),
  alice: demoId('account/alice-wallet'),
  bob: demoId('account/bob-wallet'),
  teaHouse: demoId('account/tea-house-merchant'),
} as const;

const demoAccounts: AccountInput[] = [
  // The bank side of customer money: debited when money comes in, so it may run "negative".
  { id: demoAccountIds.bank, ledger: CNY, code: AccountCode.bankSettlement, ownerRef: 'system:bank-settlement' },
  {
    id: demoAccountIds.alice,
    ledger: CNY,
    code: AccountCode.customerWallet,
    flags: AccountFlags.debitsMustNotExceedCredits,
    ownerRef: 'demo:alice',
  },
  {
    id: demoAccountIds.bob,
    ledger: CNY,
    code: AccountCode.customerWallet,
    flags: AccountFlags.debitsMustNotExceedCredits,
    ownerRef: 'demo:bob',
  },
  {
    id: demoAccountIds.teaHouse,
    ledger: CNY,
    code: AccountCode.merchantSettlement,
    flags: AccountFlags.debitsMustNotExceedCredits,
    ownerRef: 'demo:merchant-tea-house',
  },
];

/** Amounts in fen (CNY minor units). Submitted as one linked chain: all of it lands, or none. */
const demoTransfers: TransferInput[] = [
  {
    id: demoId('transfer/alice-top-up'),
    debitAccountId: demoAccountIds.bank,
    creditAccountId: demoAccountIds.alice,
    amount: 100_000n,
    code: TransferCode.topUp,
    metadata: { note: 'Demo top-up' },
  },
  {
    id: demoId('transfer/bob-top-up'),
    debitAccountId: demoAccountIds.bank,
    creditAccountId: demoAccountIds.bob,
    amount: 50_000n,
    code: TransferCode.topUp,
    metadata: { note: 'Demo top-up' },
  },
  {
    id: demoId('transfer/alice-pays-bob'),
    debitAccountId: demoAccountIds.alice,
    creditAccountId: demoAccountIds.bob,
    amount: 8_888n,
    code: TransferCode.peerToPeer,
    metadata: { note: '红包' },
  },
  {
    id: demoId('transfer/bob-buys-tea'),
    debitAccountId: demoAccountIds.bob,
    creditAccountId: demoAccountIds.teaHouse,
    amount: 2_500n,
    code: TransferCode.payment,
    metadata: { note: 'Oolong tea' },
  },
].map((transfer, index, all) => ({
  ...transfer,
  ledger: CNY,
  flags: index < all.length - 1 ? TransferFlags.linked : TransferFlags.none,
}));

export interface SeedReport {
  accountsCreated: number;
  accountsExisting: number;
  transfersCreated: number;
  transfersExisting: number;
}

export class SeedError extends Error {
  override readonly name = 'SeedError';
}

/** Creates whatever demo data is missing. Safe to run any number of times, from several processes. */
export async function seedDemoData(ledger: Ledger): Promise<SeedReport> {
  const accountResults = await ledger.createAccounts(demoAccounts);
  const badAccount = accountResults.find((result) => result.result !== 'ok' && result.result !== 'exists');
  if (badAccount) throw new SeedError(`demo account ${badAccount.id}: ${badAccount.result}`);

  const transferResults = await ledger.submit(demoTransfers);
  const badTransfer = transferResults.find((result) => result.result !== 'ok' && result.result !== 'exists');
  if (badTransfer) throw new SeedError(`demo transfer ${badTransfer.id}: ${badTransfer.result}`);

  const count = (results: readonly { result: string }[], code: string) =>
    results.filter((result) => result.result === code).length;
  return {
    accountsCreated: count(accountResults, 'ok'),
    accountsExisting: count(accountResults, 'exists'),
    transfersCreated: count(transferResults, 'ok'),
    transfersExisting: count(transferResults, 'exists'),
  };
}

/** True when every demo account exists (the demo data has been seeded before). */
export async function demoDataPresent(ledger: Ledger): Promise<boolean> {
  const found = await ledger.lookupAccounts(Object.values(demoAccountIds));
  return found.length === Object.keys(demoAccountIds).length;
}

export function formatSeedReport(report: SeedReport): string {
  return (
    `demo data: ${report.accountsCreated} accounts created, ${report.accountsExisting} already present; ` +
    `${report.transfersCreated} transfers created, ${report.transfersExisting} already present`
  );
}
