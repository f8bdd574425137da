/**
 * The second factor the server asks for on large payments (`step_up_required`): an SMS code sent to the
 * customer's own number, or the authenticator app's code when one is enrolled.
 */
import { Button, Input, Popup, Segmented } from 'antd-mobile';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { call, errorMessage, yika } from '../lib/api.js';
import { useSession } from '../session.js';

export type StepUpProof = { otp: string } | { totp: string };

export function StepUpSheet(props: {
  visible: boolean;
  busy?: boolean;
  error?: string | null;
  onClose: () => void;
  onProof: (proof: StepUpProof) => void;
}) {
  const { t } = useTranslation();
  const { state } = useSession();
  const totpEnabled = state.status === 'signed-in' && state.profile.totpEnabled;
  const [method, setMethod] = useState<'otp' | 'totp'>(totpEnabled ? 'totp' : 'otp');
  const [code, setCode] = useState('');
  const [sent, setSent] = useState(false);
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<string | null>(null);

  async function sendCode() {
    setSending(true);
    setSendError(null);
    try {
      await call(yika.POST('/v1/me/otp', { body: { purpose: 'step_up' } }));
      setSent(true);
    } catch (caught) {
      setSendError(errorMessage(t, caught));
    } finally {
      setSending(false);
    }
  }

  const error = sendError ?? props.error ?? null;
  return (
    <Popup visible={props.visible} onMaskClick={props.onClose} bodyClassName="pin-sheet" destroyOnClose>
      <div data-testid="step-up-sheet" role="dialog" aria-label={t('stepUp.title')}>
        <h2 className="sheet-title">{t('stepUp.title')}</h2>
        <p className="sheet-summary">{t('stepUp.hint')}</p>
        {totpEnabled && (
          <Segmented
            block
            value={method}
            onChange={(value) => setMethod(value === 'totp' ? 'totp' : 'otp')}
            options={[
              { label: t('stepUp.sms'), value: 'otp' },
              { label: t('stepUp.authenticator'), value: 'totp' },
            ]}
            data-testid="step-up-method"
          />
        )}
        <div className="step-up-row">
          <Input
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={6}
            placeholder={t('login.codePlaceholder')}
            value={code}
            onChange={setCode}
            aria-label={method === 'otp' ? t('login.code') : t('totp.code')}
            data-testid="step-up-code"
          />
          {method === 'otp' && (
            <Button
              size="small"
              color="primary"
              fill="outline"
              loading={sending}
              onClick={() => void sendCode()}
              data-testid="step-up-send"
            >
              {sent ? t('stepUp.resend') : t('login.sendCode')}
            </Button>
          )}
        </div>
        {error && (
          <p className="form-error" role="alert" data-testid="step-up-error">
            {error}
          </p>
        )}
        <Button
          block
          color="primary"
          size="large"
          loading={props.busy}
          disabled={!/^\d{6}$/.test(code.trim())}
          onClick={() => props.onProof(method === 'otp' ? { otp: code.trim() } : { totp: code.trim() })}
          data-testid="step-up-confirm"
        >
          {t('common.confirm')}
        </Button>
      </div>
    </Popup>
  );
}
