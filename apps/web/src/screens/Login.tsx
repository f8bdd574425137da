/**
 * Registration and sign-in are one flow (the server registers a new number): 1 phone, 2 SMS code, and
 * 3 the payment PIN for new customers (SetPin). Never more than three steps: the e2e test counts them.
 */
import { Button, Form, Input } from 'antd-mobile';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Navigate, useLocation } from 'react-router';
import { DemoSmsLink } from '../components/common.js';
import { LanguageToggle } from '../components/LanguageToggle.js';
import { call, errorMessage, yika } from '../lib/api.js';
import { displayPhone, normalizePhone } from '../lib/phone.js';
import { useSession } from '../session.js';

const DEVICE_KEY = 'yika.deviceId';

/** A stable id for this browser, so the device list recognises it on the next sign-in. */
function deviceId(): string | undefined {
  try {
    let id = window.localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = crypto.randomUUID();
      window.localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return undefined;
  }
}

function deviceName(): string {
  const agent = navigator.userAgent;
  if (/iPhone/.test(agent)) return 'iPhone';
  if (/Android/.test(agent)) return 'Android';
  return 'Web';
}

export function Login() {
  const { t } = useTranslation();
  const { state, refresh } = useSession();
  // Where to go once the session is known: set by signIn before the profile refresh re-renders this page.
  const location = useLocation();
  // A shared link (e.g. /pay/…) opened while signed out comes back here after sign-in.
  const from = (location.state as { from?: string } | null)?.from ?? '/';
  const [next, setNext] = useState(from);
  const [phoneText, setPhoneText] = useState('');
  const [phone, setPhone] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [resendAt, setResendAt] = useState(0);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    if (resendAt <= now) return;
    const timer = window.setTimeout(() => setNow(Date.now()), 1000);
    return () => window.clearTimeout(timer);
  }, [resendAt, now]);

  const step = phone ? 2 : 1;
  if (state.status === 'signed-in') return <Navigate to={next} replace />;
  const waitSeconds = Math.max(0, Math.ceil((resendAt - now) / 1000));

  async function sendCode() {
    const normalized = normalizePhone(phoneText);
    if (!normalized) {
      setError(t('login.phoneInvalid'));
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const sent = await call(yika.POST('/v1/auth/otp', { body: { phone: normalized } }));
      setPhone(normalized);
      setResendAt(Date.now() + sent.resendAfterSeconds * 1000);
      setNow(Date.now());
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  async function signIn() {
    if (!phone) return;
    setBusy(true);
    setError(null);
    try {
      const id = deviceId();
      const session = await call(
        yika.POST('/v1/auth/sessions', {
          body: { phone, code: code.trim(), client: 'web', deviceName: deviceName(), ...(id ? { deviceId: id } : {}) },
        }),
      );
      setNext(session.nextStep === 'set_pin' ? `/pin/setup?from=register&next=${encodeURIComponent(from)}` : from);
      await refresh();
    } catch (caught) {
      setError(errorMessage(t, caught));
      setBusy(false);
    }
  }

  return (
    <div className="page login" data-testid="screen-login">
      <header className="login-header">
        <div className="brand-mark" aria-hidden="true">
          一卡
        </div>
        <LanguageToggle />
      </header>
      <main className="page-body">
        <h1 className="login-title">{t('login.title')}</h1>
        <p className="muted">{t('login.subtitle')}</p>
        <p className="step-indicator" data-testid="registration-step" data-step={step}>
          {t('login.step', { step })}
        </p>
        {step === 1 ? (
          <Form
            layout="vertical"
            onFinish={() => void sendCode()}
            footer={
              <Button block type="submit" color="primary" size="large" loading={busy} data-testid="login-send-code">
                {t('login.sendCode')}
              </Button>
            }
          >
            <Form.Item label={t('login.phone')} help={error ?? undefined}>
              <Input
                type="tel"
                inputMode="numeric"
                autoComplete="tel-national"
                placeholder={t('login.phonePlaceholder')}
                value={phoneText}
                onChange={setPhoneText}
                clearable
                aria-label={t('login.phone')}
                data-testid="login-phone"
              />
            </Form.Item>
          </Form>
        ) : (
          <>
            <p className="muted" data-testid="login-code-sent">
              {t('login.codeSentTo', { phone: displayPhone(phone ?? '') })}
            </p>
            <Form
              layout="vertical"
              onFinish={() => void signIn()}
              footer={
                <>
                  {error && (
                    <p className="form-error" role="alert" data-testid="login-error">
                      {error}
                    </p>
                  )}
                  <Button
                    block
                    type="submit"
                    color="primary"
                    size="large"
                    loading={busy}
                    disabled={!/^\d{6}$/.test(code.trim())}
                    data-testid="login-submit"
                  >
                    {t('login.signIn')}
                  </Button>
                </>
              }
            >
              <Form.Item
                label={t('login.code')}
                extra={
                  <Button
                    size="mini"
                    fill="none"
                    color="primary"
                    disabled={waitSeconds > 0 || busy}
                    onClick={() => void sendCode()}
                    data-testid="login-resend"
                  >
                    {waitSeconds > 0 ? t('login.resendIn', { seconds: waitSeconds }) : t('login.sendCode')}
                  </Button>
                }
              >
                <Input
                  inputMode="numeric"
                  autoComplete="one-time-code"
                  maxLength={6}
                  placeholder={t('login.codePlaceholder')}
                  value={code}
                  onChange={setCode}
                  aria-label={t('login.code')}
                  data-testid="login-code"
                />
              </Form.Item>
            </Form>
            <div className="login-links">
              <DemoSmsLink phone={phone} />
              <Button
                fill="none"
                size="small"
                onClick={() => {
                  setPhone(null);
                  setCode('');
                  setError(null);
                }}
                data-testid="login-change-phone"
              >
                {t('login.changePhone')}
              </Button>
            </div>
          </>
        )}
        <p className="terms">{t('login.terms')}</p>
      </main>
    </div>
  );
}
