/**
 * Entry of the merchant portal chunk: loaded by src/main.tsx only for paths under /merchant, so the wallet
 * never downloads Ant Design. Adds the portal's words as the `merchant` i18next namespace.
 */
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { i18n } from '../i18n.js';
import { merchantResources } from './locales.js';
import { PortalApp } from './PortalApp.js';
import './portal.css';

export function renderMerchantPortal(element: HTMLElement): void {
  for (const [language, words] of Object.entries(merchantResources)) {
    i18n.addResourceBundle(language, 'merchant', words, true, true);
  }
  document.documentElement.classList.add('merchant-portal');
  document.title = i18n.t('app.title', { ns: 'merchant' });
  createRoot(element).render(
    <StrictMode>
      <PortalApp />
    </StrictMode>,
  );
}
