/** Registration step 3 (optional): the payment PIN, entered twice. Also reachable from settings. */
import { Button, Toast } from 'antd-mobile';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { Page } from '../components/common.js';
import { PinInput } from '../components/PinInput.js';
import { call, errorMessage, yika } from '../lib/api.js';
import { useSession } from '../session.js';

export function SetPin() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const { refresh } = useSession();
  const [params] = useSearchParams();
  const registering = params.get('from') === 'register';
  // Only same-app paths: never an absolute URL from the query string.
  const requested = params.get('next') ?? '/';
  const nextPath = requested.startsWith('/') && !requested.startsWith('//') ? requested : '/';
  const [first, setFirst] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [resetKey, setResetKey] = useState(0);

  async function submit(pin: string) {
    if (first === null) {
      setFirst(pin);
      setError(null);
      setResetKey((key) => key + 1);
      return;
    }
    if (pin !== first) {
      setFirst(null);
      setError(t('pin.mismatch'));
      setResetKey((key) => key + 1);
      return;
    }
    try {
      await call(yika.PUT('/v1/me/pin', { body: { pin } }));
      await refresh();
      Toast.show({ content: t('pin.set'), icon: 'success' });
      await navigate(nextPath, { replace: true });
    } catch (caught) {
      setFirst(null);
      setError(errorMessage(t, caught));
      setResetKey((key) => key + 1);
    }
  }

  return (
    <Page title={t('pin.setTitle')} testId="screen-set-pin" back={registering ? false : '/settings'}>
      {registering && (
        <p className="step-indicator" data-testid="registration-step" data-step={3}>
          {t('login.step', { step: 3 })}
        </p>
      )}
      <h2 className="section-title" data-testid="set-pin-prompt">
        {first === null ? t('pin.setTitle') : t('pin.confirmTitle')}
      </h2>
      <p className="muted">{t('pin.setHint')}</p>
      <PinInput
        testId="set-pin-input"
        label={t('pin.enterLabel')}
        onFill={(pin) => void submit(pin)}
        error={error}
        resetKey={resetKey}
      />
      {registering && (
        <Button
          block
          fill="none"
          onClick={() => void navigate(nextPath, { replace: true })}
          data-testid="set-pin-later"
        >
          {t('pin.later')}
        </Button>
      )}
    </Page>
  );
}
