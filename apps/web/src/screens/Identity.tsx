/** Real-name verification (makes the account Class II) with the limits of each class, and freezing. */
import { Button, Dialog, Form, Input, List, Toast } from 'antd-mobile';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { LoadError, Loading, Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { useProfile, useSession } from '../session.js';

export function Verification() {
  const { t } = useTranslation();
  const format = useFormat();
  const profile = useProfile();
  const { refresh } = useSession();
  const limits = useAsync(() => call(yika.GET('/v1/me/limits')), [profile.accountClass]);
  const [name, setName] = useState('');
  const [idNumber, setIdNumber] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit() {
    setBusy(true);
    setError(null);
    try {
      await call(yika.POST('/v1/me/kyc', { body: { name: name.trim(), idNumber: idNumber.trim().toUpperCase() } }));
      Toast.show({ content: t('kyc.done'), icon: 'success' });
      await refresh();
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('kyc.title')} testId="screen-kyc" back="/settings">
      {limits.status === 'loading' && <Loading />}
      {limits.status === 'error' && <LoadError error={limits.error} onRetry={limits.reload} />}
      {limits.status === 'ready' && (
        <List header={t('kyc.limitsOf', { class: limits.data.accountClass })} data-testid="kyc-limits">
          <List.Item extra={format.money(limits.data.perTransaction)}>{t('kyc.perTransaction')}</List.Item>
          <List.Item extra={format.money(limits.data.daily)}>{t('kyc.daily')}</List.Item>
          <List.Item extra={format.money(limits.data.yearly)}>
            {limits.data.yearlyPeriod === 'since_opening' ? t('kyc.sinceOpening') : t('kyc.yearly')}
          </List.Item>
        </List>
      )}
      {profile.kycVerified ? (
        <p className="muted" data-testid="kyc-verified">
          {t('kyc.verified', { name: profile.maskedName ?? '' })}
        </p>
      ) : (
        <Form
          layout="horizontal"
          onFinish={() => void submit()}
          footer={
            <>
              {error && (
                <p className="form-error" role="alert" data-testid="kyc-error">
                  {error}
                </p>
              )}
              <Button
                block
                type="submit"
                color="primary"
                size="large"
                loading={busy}
                disabled={!name.trim() || idNumber.trim().length !== 18}
                data-testid="kyc-submit"
              >
                {t('kyc.submit')}
              </Button>
            </>
          }
        >
          <p className="muted form-hint">{t('kyc.hint')}</p>
          <Form.Item label={t('kyc.name')}>
            <Input
              value={name}
              onChange={setName}
              autoComplete="name"
              placeholder={t('kyc.namePlaceholder')}
              aria-label={t('kyc.name')}
              data-testid="kyc-name"
            />
          </Form.Item>
          <Form.Item label={t('kyc.idNumber')}>
            <Input
              value={idNumber}
              onChange={setIdNumber}
              maxLength={18}
              placeholder={t('kyc.idNumberPlaceholder')}
              aria-label={t('kyc.idNumber')}
              data-testid="kyc-id-number"
            />
          </Form.Item>
        </Form>
      )}
    </Page>
  );
}

/** Freeze (e.g. a lost phone) or unfreeze the account with the payment PIN as proof. */
export function FreezeAccount() {
  const { t } = useTranslation();
  const profile = useProfile();
  const { refresh } = useSession();
  const [pinOpen, setPinOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [resetKey, setResetKey] = useState(0);
  const frozen = profile.status === 'frozen';
  const byBank = profile.frozenBy === 'operations';

  async function start() {
    const confirmed = await Dialog.confirm({
      content: frozen ? t('freeze.unfreezeConfirm') : t('freeze.freezeConfirm'),
      confirmText: t('common.confirm'),
      cancelText: t('common.cancel'),
    });
    if (confirmed) setPinOpen(true);
  }

  async function submit(pin: string) {
    setBusy(true);
    setError(null);
    try {
      const body = { proof: { pin } };
      if (frozen) await call(yika.POST('/v1/me/unfreeze', { body }));
      else await call(yika.POST('/v1/me/freeze', { body }));
      setPinOpen(false);
      Toast.show({ content: frozen ? t('freeze.unfrozen') : t('freeze.frozen'), icon: 'success' });
      await refresh();
    } catch (caught) {
      setError(errorMessage(t, caught));
      setResetKey((key) => key + 1);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('freeze.title')} testId="screen-freeze" back="/settings">
      <p data-testid="freeze-state" data-status={profile.status}>
        {frozen ? (byBank ? t('errors.frozen_by_operations') : t('home.frozen')) : t('freeze.hint')}
      </p>
      {!byBank && (
        <div className="page-actions">
          <Button
            block
            color={frozen ? 'primary' : 'danger'}
            disabled={!profile.pinSet}
            onClick={() => void start()}
            data-testid="freeze-toggle"
          >
            {frozen ? t('freeze.unfreeze') : t('freeze.freeze')}
          </Button>
          {!profile.pinSet && <p className="muted">{t('errors.pin_not_set')}</p>}
        </div>
      )}
      <PinSheet
        visible={pinOpen}
        error={error}
        busy={busy}
        resetKey={resetKey}
        onClose={() => setPinOpen(false)}
        onPin={(pin) => void submit(pin)}
      />
    </Page>
  );
}
