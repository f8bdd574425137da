import { Button } from 'antd-mobile';
import { GlobalOutline } from 'antd-mobile-icons';
import { useTranslation } from 'react-i18next';
import { setLanguage } from '../i18n.js';

/** Switches between 中文 and English; the choice is remembered. */
export function LanguageToggle() {
  const { t, i18n } = useTranslation();
  const other = i18n.language === 'en' ? 'zh-CN' : 'en';
  return (
    <Button
      size="small"
      fill="none"
      className="language-toggle"
      aria-label={t('app.switchLanguageLabel')}
      onClick={() => void setLanguage(other)}
      data-testid="language-toggle"
    >
      <GlobalOutline /> {t('app.switchLanguage')}
    </Button>
  );
}
