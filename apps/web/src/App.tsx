import { useEffect, useState } from 'react';
import { initialLanguage, messages, saveLanguage, type Language } from './messages.js';

export function App() {
  const [language, setLanguage] = useState<Language>(initialLanguage);
  const text = messages[language];

  useEffect(() => {
    document.documentElement.lang = language;
    document.title = text.documentTitle;
    saveLanguage(language);
  }, [language, text.documentTitle]);

  const otherLanguage: Language = language === 'zh-CN' ? 'en' : 'zh-CN';

  return (
    <div className="page" data-testid="wallet-home">
      <header className="bar">
        <span className="brand" aria-hidden="true">
          一
        </span>
        <button
          type="button"
          className="language-toggle"
          data-testid="language-toggle"
          aria-label={text.switchLabel}
          lang={otherLanguage}
          onClick={() => setLanguage(otherLanguage)}
        >
          {text.switchText}
        </button>
      </header>
      <main className="content">
        <h1 data-testid="app-title">Yika 一卡</h1>
        <p className="tagline" data-testid="tagline">
          {text.tagline}
        </p>
        <section className="card" aria-labelledby="coming-soon-title" data-testid="coming-soon">
          <h2 id="coming-soon-title">{text.comingSoonTitle}</h2>
          <p>{text.comingSoonBody}</p>
          <a className="button" href="/docs" data-testid="api-docs-link">
            {text.apiDocs}
          </a>
        </section>
      </main>
      <footer className="footer">{text.footer}</footer>
    </div>
  );
}
