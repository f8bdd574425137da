/**
 * The wallet's part of the chart of accounts. Ledger ids are ISO 4217 numeric currency codes; account
 * and transfer codes are Yika's own. Account ids derive from stable keys, so creating them is idempotent
 * and no mapping table is needed.
 */
import { AccountFlags, accountIdFor, type AccountInput } from '@yika/ledger';

export const CNY = { code: 'CNY', ledger: 156 } as const;

export const AccountCode = {
  /** A customer's stored value. It may never go below zero. */
  customerWallet: 1001,
  /** Money in flight between Yika and the bank: card top-ups and withdrawals clear through it. */
  bankClearing: 2001,
} as const;

export const TransferCode = {
  topUp: 101,
  withdrawal: 102,
  p2p: 103,
} as const;

export function walletAccountId(customerId: string): string {
  return accountIdFor('wallet', customerId);
}

export const BANK_CLEARING_ACCOUNT_ID = accountIdFor('system', 'bank-clearing.CNY');

export function walletAccount(customerId: string): AccountInput {
  return {
    id: walletAccountId(customerId),
    ledger: CNY.ledger,
    code: AccountCode.customerWallet,
    flags: AccountFlags.debitsMustNotExceedCredits,
    ownerRef: `customer:${customerId}`,
  };
}

export const systemAccounts: AccountInput[] = [
  {
    id: BANK_CLEARING_ACCOUNT_ID,
    ledger: CNY.ledger,
    code: AccountCode.bankClearing,
    ownerRef: 'system:bank-clearing',
  },
];
