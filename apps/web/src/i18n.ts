/** react-i18next with zh-CN by default; the English switch is remembered in localStorage. */
import i18n from 'i18next';
import { initReactI18next } from 'react-i18next';
import { languages, resources, type Language } from './locales.js';

const STORAGE_KEY = 'yika.language';

function savedLanguage(): Language {
  try {
    const saved = window.localStorage.getItem(STORAGE_KEY);
    if ((languages as readonly string[]).includes(saved ?? '')) return saved as Language;
  } catch {
    // storage blocked (private mode): the default
  }
  return 'zh-CN';
}

export function currentLanguage(): Language {
  return i18n.language === 'en' ? 'en' : 'zh-CN';
}

export async function setLanguage(language: Language): Promise<void> {
  try {
    window.localStorage.setItem(STORAGE_KEY, language);
  } catch {
    // not remembered, still switched
  }
  await i18n.changeLanguage(language);
}

export async function initI18n(): Promise<void> {
  await i18n.use(initReactI18next).init({
    resources,
    lng: savedLanguage(),
    fallbackLng: 'zh-CN',
    interpolation: { escapeValue: false }, // React escapes
    returnNull: false,
  });
  const apply = (language: string) => {
    document.documentElement.lang = language;
  };
  apply(i18n.language);
  i18n.on('languageChanged', apply);
}

export { i18n };
