/**
 * Card number checks and the BIN table: which bank issued a card and what kind it is, from its first
 * digits. A starter table of common mainland issuers; unknown BINs are accepted as "其他银行 / Other bank".
 */

/** Luhn (ISO/IEC 7812-1) check of a card number given as digits. */
export function luhnValid(digits: string): boolean {
  if (!/^\d{12,19}$/.test(digits)) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = digits.charCodeAt(digits.length - 1 - index) - 48;
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

export interface BinInfo {
  bankCode: string;
  bankName: { 'zh-CN': string; en: string };
  cardType: 'debit' | 'credit';
}

const BINS: [prefix: string, info: BinInfo][] = [
  ['622202', { bankCode: 'ICBC', bankName: { 'zh-CN': '中国工商银行', en: 'ICBC' }, cardType: 'debit' }],
  ['622208', { bankCode: 'ICBC', bankName: { 'zh-CN': '中国工商银行', en: 'ICBC' }, cardType: 'debit' }],
  [
    '621700',
    { bankCode: 'CCB', bankName: { 'zh-CN': '中国建设银行', en: 'China Construction Bank' }, cardType: 'debit' },
  ],
  [
    '436742',
    { bankCode: 'CCB', bankName: { 'zh-CN': '中国建设银行', en: 'China Construction Bank' }, cardType: 'debit' },
  ],
  [
    '622848',
    { bankCode: 'ABC', bankName: { 'zh-CN': '中国农业银行', en: 'Agricultural Bank of China' }, cardType: 'debit' },
  ],
  ['621661', { bankCode: 'BOC', bankName: { 'zh-CN': '中国银行', en: 'Bank of China' }, cardType: 'debit' }],
  ['601382', { bankCode: 'BOC', bankName: { 'zh-CN': '中国银行', en: 'Bank of China' }, cardType: 'debit' }],
  ['622588', { bankCode: 'CMB', bankName: { 'zh-CN': '招商银行', en: 'China Merchants Bank' }, cardType: 'debit' }],
  ['621483', { bankCode: 'CMB', bankName: { 'zh-CN': '招商银行', en: 'China Merchants Bank' }, cardType: 'debit' }],
  ['622262', { bankCode: 'BOCOM', bankName: { 'zh-CN': '交通银行', en: 'Bank of Communications' }, cardType: 'debit' }],
  [
    '621799',
    {
      bankCode: 'PSBC',
      bankName: { 'zh-CN': '中国邮政储蓄银行', en: 'Postal Savings Bank of China' },
      cardType: 'debit',
    },
  ],
  ['625802', { bankCode: 'CMB', bankName: { 'zh-CN': '招商银行', en: 'China Merchants Bank' }, cardType: 'credit' }],
  [
    '628290',
    { bankCode: 'CCB', bankName: { 'zh-CN': '中国建设银行', en: 'China Construction Bank' }, cardType: 'credit' },
  ],
];

const OTHER: BinInfo = { bankCode: 'OTHER', bankName: { 'zh-CN': '其他银行', en: 'Other bank' }, cardType: 'debit' };

/** The issuer of a card number, by its longest matching prefix. */
export function lookupBin(digits: string): BinInfo {
  let best: BinInfo = OTHER;
  let bestLength = 0;
  for (const [prefix, info] of BINS) {
    if (digits.startsWith(prefix) && prefix.length > bestLength) {
      best = info;
      bestLength = prefix.length;
    }
  }
  return best;
}

/** A bank's display names by its code (as stored with a bound card). */
export function bankNameOf(bankCode: string): BinInfo['bankName'] {
  return BINS.find(([, info]) => info.bankCode === bankCode)?.[1].bankName ?? OTHER.bankName;
}
