/** The page's words in each language. zh-CN is the default; every key exists in both. */
export const languages = ['zh-CN', 'en'] as const;
export type Language = (typeof languages)[number];

const zhCN = {
  documentTitle: 'Yika 一卡',
  tagline: '一张卡，连接支付、转账、积分与信用。',
  comingSoonTitle: '钱包即将上线',
  comingSoonBody: '我们正在搭建钱包、商户收款与运营后台。服务端已经运行，API 文档现在就可以查看。',
  apiDocs: '查看 API 文档',
  switchLabel: 'Switch to English',
  switchText: 'English',
  footer: '开源项目 · Apache-2.0',
};

const en: typeof zhCN = {
  documentTitle: 'Yika 一卡',
  tagline: 'One card for payments, transfers, rewards and credit.',
  comingSoonTitle: 'The wallet is coming soon',
  comingSoonBody:
    'We are building the wallet, merchant checkout and the operations console. The server is already running and its API reference is available now.',
  apiDocs: 'Open the API reference',
  switchLabel: '切换到中文',
  switchText: '中文',
  footer: 'Open source · Apache-2.0',
};

export type Messages = typeof zhCN;

export const messages: Record<Language, Messages> = { 'zh-CN': zhCN, en };

const STORAGE_KEY = 'yika.language';

export function initialLanguage(): Language {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch {
    // storage blocked (private mode): fall back to the default
  }
  return 'zh-CN';
}

export function saveLanguage(language: Language): void {
  try {
    window.localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not remembered, still switched
  }
}
