/**
 * The merchants' part of the chart of accounts. Ids derive from stable keys (as the wallet's do), so
 * opening them is idempotent and needs no mapping table.
 */
import { AccountFlags, accountIdFor, type AccountInput } from '@yika/ledger';

/** CNY on the ledger: ISO 4217 numeric 156, as in the wallet's chart. */
export const CNY = { code: 'CNY', ledger: 156, numeric: '156' } as const;

export const MerchantAccountCode = {
  /** Money collected for a merchant and not yet settled to its bank ("awaiting settlement"). */
  merchantSettlement: 3001,
  /** Yika's income from merchant fees (MDR). */
  feeIncome: 4001,
} as const;

export function merchantSettlementAccountId(merchantId: string): string {
  return accountIdFor('merchant-settlement', merchantId);
}

export const FEE_INCOME_ACCOUNT_ID = accountIdFor('system', 'merchant-fee-income.CNY');

export function merchantAccounts(merchantId: string): AccountInput[] {
  return [
    {
      id: FEE_INCOME_ACCOUNT_ID,
      ledger: CNY.ledger,
      code: MerchantAccountCode.feeIncome,
      // Fees are only ever returned in proportion to what was taken, so the account never goes below zero.
      flags: AccountFlags.debitsMustNotExceedCredits,
      ownerRef: 'system:merchant-fee-income',
    },
    {
      id: merchantSettlementAccountId(merchantId),
      ledger: CNY.ledger,
      code: MerchantAccountCode.merchantSettlement,
      // A refund can only give back what the merchant holds awaiting settlement.
      flags: AccountFlags.debitsMustNotExceedCredits,
      ownerRef: `merchant:${merchantId}`,
    },
  ];
}
