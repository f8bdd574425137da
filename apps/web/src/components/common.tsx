/** Small building blocks every screen uses: the page frame, loading / error / empty states, the demo SMS link. */
import { Button, DotLoading, ErrorBlock, NavBar } from 'antd-mobile';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { errorMessage } from '../lib/api.js';

export function Page(props: {
  title: string;
  testId: string;
  children: ReactNode;
  back?: string | false;
  right?: ReactNode;
}) {
  const navigate = useNavigate();
  const { t } = useTranslation();
  const back = props.back ?? '/';
  return (
    <div className="page" data-testid={props.testId}>
      <NavBar
        className="nav"
        back={back === false ? null : t('common.back')}
        backIcon={back !== false}
        onBack={() => {
          if (back !== false) void navigate(back);
        }}
        right={props.right}
      >
        <h1 className="nav-title">{props.title}</h1>
      </NavBar>
      <main className="page-body">{props.children}</main>
    </div>
  );
}

export function Loading({ testId = 'loading' }: { testId?: string }) {
  const { t } = useTranslation();
  return (
    <div className="state" role="status" aria-live="polite" data-testid={testId}>
      <DotLoading color="primary" />
      <span>{t('common.loading')}</span>
    </div>
  );
}

export function LoadError({
  error,
  onRetry,
  testId = 'load-error',
}: {
  error: unknown;
  onRetry?: () => void;
  testId?: string;
}) {
  const { t } = useTranslation();
  return (
    <ErrorBlock status="default" title={errorMessage(t, error)} description="" data-testid={testId}>
      {onRetry && (
        <Button size="small" color="primary" fill="outline" onClick={onRetry} data-testid={`${testId}-retry`}>
          {t('common.retry')}
        </Button>
      )}
    </ErrorBlock>
  );
}

export function Empty({
  title,
  testId = 'empty',
  children,
}: {
  title?: string;
  testId?: string;
  children?: ReactNode;
}) {
  const { t } = useTranslation();
  return (
    <ErrorBlock status="empty" title={title ?? t('common.empty')} description="" data-testid={testId}>
      {children}
    </ErrorBlock>
  );
}

/**
 * Demo only: the bank simulator keeps every text message in an inbox. Shown when the app runs on a local
 * host (or VITE_DEMO_SMS_INBOX_URL is set at build time), never as a real feature.
 */
export function DemoSmsLink({ phone }: { phone: string | null }) {
  const { t } = useTranslation();
  const configured = import.meta.env.VITE_DEMO_SMS_INBOX_URL as string | undefined;
  const local = ['localhost', '127.0.0.1'].includes(window.location.hostname);
  if (!phone || (!configured && !local)) return null;
  const base = configured ?? `${window.location.protocol}//${window.location.hostname}:3100/sms/inbox`;
  return (
    <a
      className="demo-link"
      href={`${base}?to=${encodeURIComponent(phone)}`}
      target="_blank"
      rel="noreferrer"
      data-testid="demo-sms-inbox"
    >
      <span className="demo-badge">{t('common.demoBadge')}</span> {t('common.demoInbox')}
    </a>
  );
}
