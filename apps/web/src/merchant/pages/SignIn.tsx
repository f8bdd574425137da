/** Staff sign in like wallet customers: phone, then the SMS code (a new number is registered by the server). */
import { Button, Card, Form, Input, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation } from 'react-router';
import { call, yika } from '../../lib/api.js';
import { displayPhone, normalizePhone } from '../../lib/phone.js';
import { useSession } from '../../session.js';
import { InlineError, PageLoading } from '../components.js';
import { LanguageSwitch } from '../PortalApp.js';

/** Demo only: the bank simulator's SMS inbox, on a local host (like the wallet's link). */
function demoInboxUrl(phone: string): string | null {
  const configured = import.meta.env.VITE_DEMO_SMS_INBOX_URL as string | undefined;
  const local = ['localhost', '127.0.0.1'].includes(window.location.hostname);
  if (!configured && !local) return null;
  const base = configured ?? `${window.location.protocol}//${window.location.hostname}:3100/sms/inbox`;
  return `${base}?to=${encodeURIComponent(phone)}`;
}

export function SignIn() {
  const { t } = useTranslation('merchant');
  const { state, refresh } = useSession();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? '/';
  const [phone, setPhone] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [resendAt, setResendAt] = useState(0);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (resendAt <= now) return;
    const timer = window.setTimeout(() => setNow(Date.now()), 1000);
    return () => window.clearTimeout(timer);
  }, [resendAt, now]);

  if (state.status === 'loading') return <PageLoading testId="portal-session-loading" />;
  if (state.status === 'signed-in') return <Navigate to={from} replace />;
  const waitSeconds = Math.max(0, Math.ceil((resendAt - now) / 1000));

  async function sendCode(normalized: string) {
    setBusy(true);
    setError(null);
    try {
      const sent = await call(yika.POST('/v1/auth/otp', { body: { phone: normalized } }));
      setPhone(normalized);
      setResendAt(Date.now() + sent.resendAfterSeconds * 1000);
      setNow(Date.now());
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function signIn(code: string) {
    if (!phone) return;
    setBusy(true);
    setError(null);
    try {
      await call(
        yika.POST('/v1/auth/sessions', {
          body: { phone, code: code.trim(), client: 'web', deviceName: 'Merchant portal' },
        }),
      );
      await refresh();
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  const inbox = phone ? demoInboxUrl(phone) : null;
  return (
    <main className="portal-signin" data-testid="portal-signin">
      <div className="portal-signin-top">
        <LanguageSwitch />
      </div>
      <Card className="portal-signin-card">
        <div className="portal-brand portal-brand-large">
          <span className="portal-brand-mark" aria-hidden="true">
            一卡
          </span>
          <span className="portal-brand-name">{t('app.title')}</span>
        </div>
        <Typography.Paragraph type="secondary">{t('signIn.subtitle')}</Typography.Paragraph>
        {phone === null ? (
          <Form
            layout="vertical"
            requiredMark={false}
            onFinish={(values: { phone: string }) => {
              const normalized = normalizePhone(values.phone);
              if (normalized) void sendCode(normalized);
              else setError(null);
            }}
            data-testid="signin-phone-form"
          >
            <Form.Item
              name="phone"
              label={t('signIn.phone')}
              rules={[
                {
                  required: true,
                  validator: async (_rule, value: string | undefined) => {
                    if (!normalizePhone(value ?? '')) throw new Error(t('signIn.phoneInvalid'));
                  },
                },
              ]}
            >
              <Input
                type="tel"
                inputMode="numeric"
                autoComplete="tel-national"
                placeholder={t('signIn.phonePlaceholder')}
                data-testid="signin-phone"
              />
            </Form.Item>
            <InlineError error={error} testId="signin-error" />
            <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="signin-send-code">
              {t('signIn.sendCode')}
            </Button>
          </Form>
        ) : (
          <Form
            layout="vertical"
            requiredMark={false}
            onFinish={(values: { code: string }) => void signIn(values.code)}
            data-testid="signin-code-form"
          >
            <Typography.Paragraph data-testid="signin-code-sent">
              {t('signIn.codeSentTo', { phone: displayPhone(phone) })}
            </Typography.Paragraph>
            <Form.Item
              name="code"
              label={t('signIn.code')}
              rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('signIn.codeInvalid') }]}
            >
              <Input
                inputMode="numeric"
                autoComplete="one-time-code"
                maxLength={6}
                placeholder={t('signIn.codePlaceholder')}
                data-testid="signin-code"
              />
            </Form.Item>
            <InlineError error={error} testId="signin-error" />
            <Button type="primary" htmlType="submit" block size="large" loading={busy} data-testid="signin-submit">
              {t('signIn.submit')}
            </Button>
            <div className="portal-signin-links">
              <Button
                type="link"
                disabled={waitSeconds > 0 || busy}
                onClick={() => void sendCode(phone)}
                data-testid="signin-resend"
              >
                {waitSeconds > 0 ? t('signIn.resendIn', { seconds: waitSeconds }) : t('signIn.resend')}
              </Button>
              <Button
                type="link"
                onClick={() => {
                  setPhone(null);
                  setError(null);
                }}
                data-testid="signin-change-phone"
              >
                {t('signIn.changePhone')}
              </Button>
              {inbox && (
                <a href={inbox} target="_blank" rel="noreferrer" data-testid="signin-demo-inbox">
                  {t('signIn.demoInbox')}
                </a>
              )}
            </div>
          </Form>
        )}
      </Card>
    </main>
  );
}
