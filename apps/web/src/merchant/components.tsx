/** Building blocks of every portal page: loading / error / empty states, money, dates, problem messages. */
import { Alert, Button, Empty, Result, Spin } from 'antd';
import type { TFunction } from 'i18next';
import type { ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { ApiError } from '../lib/api.js';
import { formatFen } from '../lib/money.js';

/** A localized sentence for an error: the portal's words for its code, else the wallet's, else the detail. */
export function problemText(t: TFunction, error: unknown): string {
  if (error instanceof ApiError) {
    const known = t(`errors.${error.code}`, { ns: ['merchant', 'translation'], defaultValue: '' });
    if (known) return known;
    return error.message || t('errors.generic', { ns: 'merchant' });
  }
  return t('errors.generic', { ns: 'merchant' });
}

export function errorCode(error: unknown): string | null {
  return error instanceof ApiError ? error.code : null;
}

export function PageLoading({ testId = 'portal-loading' }: { testId?: string }) {
  const { t } = useTranslation('merchant');
  return (
    <div className="portal-state" role="status" aria-live="polite" data-testid={testId}>
      <Spin />
      <span>{t('common.loading')}</span>
    </div>
  );
}

export function PageError({
  error,
  onRetry,
  testId = 'portal-error',
}: {
  error: unknown;
  onRetry?: () => void;
  testId?: string;
}) {
  const { t } = useTranslation('merchant');
  return (
    <Result
      status="warning"
      title={problemText(t, error)}
      data-testid={testId}
      extra={
        onRetry && (
          <Button onClick={onRetry} data-testid={`${testId}-retry`}>
            {t('common.retry')}
          </Button>
        )
      }
    />
  );
}

export function InlineError({ error, testId }: { error: unknown; testId: string }) {
  const { t } = useTranslation('merchant');
  if (!error) return null;
  return (
    <Alert
      type="error"
      showIcon
      title={problemText(t, error)}
      role="alert"
      data-testid={testId}
      style={{ marginBottom: 16 }}
    />
  );
}

export function EmptyState({ text, testId, children }: { text?: string; testId: string; children?: ReactNode }) {
  const { t } = useTranslation('merchant');
  return (
    <Empty description={text ?? t('common.empty')} data-testid={testId}>
      {children}
    </Empty>
  );
}

/** ¥ amount from fen, in tabular figures; `data-fen` carries the exact value for tests. */
export function Money({ fen, testId, signed }: { fen: number; testId?: string; signed?: boolean }) {
  const { i18n } = useTranslation();
  return (
    <span className="money" data-fen={fen} data-testid={testId}>
      {formatFen(fen, i18n.language, { signed })}
    </span>
  );
}

/** Date and time in the viewer's language, Asia/Shanghai (business time of the platform). */
export function formatDateTime(iso: string | null | undefined, language: string): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(language === 'en' ? 'en-GB' : 'zh-CN', {
    timeZone: 'Asia/Shanghai',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hour12: false,
  }).format(new Date(iso));
}

export function PageTitle({ title, extra, testId }: { title: string; extra?: ReactNode; testId: string }) {
  return (
    <div className="portal-page-title">
      <h1 data-testid={testId}>{title}</h1>
      {extra && <div className="portal-page-actions">{extra}</div>}
    </div>
  );
}
