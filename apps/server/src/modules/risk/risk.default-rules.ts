/**
 * The rule set installed as version 1 when no version exists. Amounts are fen (100 fen = 1 yuan). A bank
 * tunes these in the console, with a dry-run against recent traffic before each change goes live.
 */
import type { RiskEventKind, RiskRuleSetInput } from './risk.rules.js';

const paying: RiskEventKind[] = ['withdrawal', 'p2p_transfer', 'qr_payment', 'code_payment'];
const everything: RiskEventKind[] = ['top_up', 'withdrawal', 'p2p_transfer', 'qr_payment', 'code_payment', 'refund'];

export const defaultRuleSet: RiskRuleSetInput = {
  lists: {
    blocked_phones: [],
    blocked_cards: [],
    blocked_devices: [],
    blocked_merchants: [],
    blocked_ips: [],
    trusted_payees: [],
  },
  rules: [
    {
      id: 'blocked_party',
      name: 'Blocked phone, device, card, IP or payee',
      appliesTo: everything,
      when: {
        type: 'any',
        conditions: [
          { type: 'list', list: 'blocked_phones', field: 'phone' },
          { type: 'list', list: 'blocked_phones', field: 'counterpartyPhone' },
          { type: 'list', list: 'blocked_devices', field: 'deviceId' },
          { type: 'list', list: 'blocked_cards', field: 'cardFingerprint' },
          { type: 'list', list: 'blocked_ips', field: 'ip' },
        ],
      },
      decision: 'deny',
      hard: true,
      reason: {
        code: 'blocked_party',
        text: {
          'zh-CN': '出于安全原因，此笔交易无法完成，请联系客服。',
          en: 'For your security this payment cannot be made. Please contact customer service.',
        },
      },
    },
    {
      id: 'blocked_merchant',
      name: 'Blocked merchant',
      appliesTo: ['qr_payment', 'code_payment', 'refund'],
      when: { type: 'list', list: 'blocked_merchants', field: 'merchantId' },
      decision: 'deny',
      hard: true,
      reason: {
        code: 'merchant_blocked',
        text: { 'zh-CN': '该商户暂不可收款。', en: 'This merchant cannot accept payments at the moment.' },
      },
    },
    {
      id: 'attempts_burst',
      name: 'Ten or more attempts by one customer in a minute',
      appliesTo: everything,
      when: { type: 'velocity', dimension: 'customer', measure: 'attempts', windowSeconds: 60, atLeast: 10 },
      decision: 'deny',
      reason: {
        code: 'too_many_attempts',
        text: {
          'zh-CN': '操作过于频繁（1 分钟内 {windowCount} 次），请稍后再试。',
          en: 'Too many attempts ({windowCount} in a minute). Please try again later.',
        },
      },
    },
    {
      id: 'device_many_attempts',
      name: 'Thirty or more attempts from one device in an hour',
      appliesTo: paying,
      when: { type: 'velocity', dimension: 'device', measure: 'attempts', windowSeconds: 3_600, atLeast: 30 },
      decision: 'review',
      reason: {
        code: 'device_velocity',
        text: {
          'zh-CN': '此设备近期交易异常频繁，交易需人工审核。',
          en: 'Unusually many payments from this device: this one will be reviewed.',
        },
      },
    },
    {
      id: 'hourly_count',
      name: 'Twenty or more payments by one customer in an hour',
      appliesTo: paying,
      when: { type: 'velocity', dimension: 'customer', measure: 'count', windowSeconds: 3_600, atLeast: 20 },
      decision: 'challenge',
      reason: {
        code: 'payment_velocity',
        text: {
          'zh-CN': '1 小时内已付款 {windowCount} 笔，请验证身份后继续。',
          en: 'You have made {windowCount} payments in an hour. Please confirm it is you.',
        },
      },
    },
    {
      id: 'daily_amount',
      name: 'More than 20,000 yuan out in 24 hours',
      appliesTo: paying,
      when: { type: 'velocity', dimension: 'customer', measure: 'amount', windowSeconds: 86_400, atLeast: 2_000_000 },
      decision: 'challenge',
      reason: {
        code: 'daily_amount_high',
        text: {
          'zh-CN': '24 小时内付款累计 {windowAmountFen:yuan} 元，请验证身份后继续。',
          en: 'You have paid {windowAmountFen:yuan} yuan in 24 hours. Please confirm it is you.',
        },
      },
    },
    {
      id: 'large_amount',
      name: '50,000 yuan or more in one payment',
      appliesTo: paying,
      when: { type: 'amount', atLeast: 5_000_000 },
      decision: 'review',
      reason: {
        code: 'large_amount',
        text: {
          'zh-CN': '大额交易需人工审核，资金已为您冻结保留。',
          en: 'Large payments are reviewed; the money is held for you meanwhile.',
        },
      },
    },
    {
      id: 'new_device_large',
      name: '2,000 yuan or more from a device not used for payments before',
      appliesTo: paying,
      when: { type: 'new_device', amountAtLeast: 200_000 },
      decision: 'challenge',
      reason: {
        code: 'new_device',
        text: {
          'zh-CN': '您正在新设备上进行较大金额付款，请验证身份。',
          en: 'A large payment from a new device: please confirm it is you.',
        },
      },
    },
    {
      id: 'new_payee_large',
      name: '5,000 yuan or more to someone never paid before',
      appliesTo: ['p2p_transfer'],
      when: { type: 'new_payee', amountAtLeast: 500_000 },
      decision: 'challenge',
      reason: {
        code: 'new_payee',
        text: {
          'zh-CN': '首次向该收款人转账较大金额，请确认对方身份，谨防诈骗。',
          en: 'A large first payment to this person: make sure you know them, and beware of scams.',
        },
      },
    },
    {
      id: 'unusual_hour',
      name: '1,000 yuan or more at an hour this customer rarely pays',
      appliesTo: paying,
      when: { type: 'unusual_hour', minObservations: 20, shareBelow: 0.03, amountAtLeast: 100_000 },
      decision: 'challenge',
      reason: {
        code: 'unusual_time',
        text: {
          'zh-CN': '此时段的付款与您的习惯不符，请验证身份。',
          en: 'This payment is at an unusual time for you: please confirm it is you.',
        },
      },
    },
    {
      id: 'amount_outlier',
      name: 'Far above what this customer usually pays',
      appliesTo: paying,
      when: { type: 'amount_outlier', zScoreAtLeast: 4, minObservations: 10, coldStartAmountAtLeast: 1_000_000 },
      decision: 'challenge',
      reason: {
        code: 'unusual_amount',
        text: {
          'zh-CN': '该笔金额明显高于您平时的付款金额，请验证身份。',
          en: 'This amount is much higher than you usually pay: please confirm it is you.',
        },
      },
    },
    {
      id: 'class_one_large',
      name: 'Class I account paying 500 yuan or more',
      appliesTo: paying,
      when: {
        type: 'all',
        conditions: [
          { type: 'account_class', classes: ['I'] },
          { type: 'amount', atLeast: 50_000 },
        ],
      },
      decision: 'challenge',
      reason: {
        code: 'unverified_account_large',
        text: {
          'zh-CN': '您的账户尚未实名认证，较大金额付款需验证身份。',
          en: 'Your account is not verified yet: larger payments need a second check.',
        },
      },
    },
    {
      id: 'trusted_payee',
      name: 'Trusted payees soften new-payee and unusual-amount checks',
      appliesTo: paying,
      when: { type: 'list', list: 'trusted_payees', field: 'counterpartyId' },
      decision: 'allow',
      effect: 'soften',
      softens: ['new_payee_large', 'amount_outlier', 'unusual_hour'],
      reason: {
        code: 'trusted_payee',
        text: { 'zh-CN': '收款方为可信收款人。', en: 'The payee is trusted.' },
      },
    },
  ],
};
