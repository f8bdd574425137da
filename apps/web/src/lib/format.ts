/** Formatting hooks bound to the current language. */
import { useTranslation } from 'react-i18next';
import { formatFen } from './money.js';

export function useFormat() {
  const { i18n } = useTranslation();
  const locale = i18n.language === 'en' ? 'en' : 'zh-CN';
  return {
    locale,
    money: (fen: number | bigint, signed = false) => formatFen(fen, locale, { signed }),
    dateTime: (iso: string) =>
      new Intl.DateTimeFormat(locale, { month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' }).format(
        new Date(iso),
      ),
    date: (iso: string) => new Intl.DateTimeFormat(locale, { dateStyle: 'medium' }).format(new Date(iso)),
  };
}
