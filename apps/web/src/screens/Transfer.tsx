/**
 * Transfer to another customer: phone → the masked name to confirm → amount and note → PIN. Instant; the
 * idempotency key is kept for the whole intent so a retried request never pays twice.
 */
import { newIdempotencyKey, type Transfer as TransferView } from '@yika/sdk';
import { Button, Form, Input, Result, Steps, TextArea } from 'antd-mobile';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { AmountInput } from '../components/AmountInput.js';
import { Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { fenToJson, parseYuan } from '../lib/money.js';
import { displayPhone, normalizePhone } from '../lib/phone.js';

interface Payee {
  phone: string;
  maskedName: string | null;
}

export function Transfer() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const [phoneText, setPhoneText] = useState('');
  const [payee, setPayee] = useState<Payee | null>(null);
  const [amountText, setAmountText] = useState('');
  const [note, setNote] = useState('');
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  // Large payments: the server asks for a second factor; the PIN already typed is kept for the retry.
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  const [done, setDone] = useState<TransferView | null>(null);
  const amount = parseYuan(amountText);
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [payee, amountText, note]);

  async function preview() {
    const phone = normalizePhone(phoneText);
    if (!phone) return setError(t('login.phoneInvalid'));
    setBusy(true);
    setError(null);
    try {
      const found = await call(yika.POST('/v1/wallet/payee-preview', { body: { phone } }));
      setPayee({ phone, maskedName: found.maskedName });
    } catch (caught) {
      setError(errorMessage(t, caught, { not_found: 'errors.payee_not_found' }));
    } finally {
      setBusy(false);
    }
  }

  async function pay(pin: string, proof?: StepUpProof) {
    if (!payee || amount === null) return;
    setBusy(true);
    setError(null);
    try {
      const trimmed = note.trim();
      const result = await call(
        yika.POST('/v1/wallet/transfers', {
          params: { header: { 'idempotency-key': idempotencyKey } },
          body: {
            phone: payee.phone,
            amount: fenToJson(amount),
            pin,
            ...(trimmed ? { note: trimmed } : {}),
            ...(proof ? { stepUp: proof } : {}),
          },
        }),
      );
      setPinOpen(false);
      setStepUp(null);
      setDone(result);
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'step_up_required' && !proof) {
        setPinOpen(false);
        setStepUp({ pin, error: null });
        return;
      }
      if (proof) return setStepUp({ pin, error: errorMessage(t, caught) });
      setError(errorMessage(t, caught));
      setPinResetKey((key) => key + 1);
    } finally {
      setBusy(false);
    }
  }

  const payeeName = payee ? (payee.maskedName ?? displayPhone(payee.phone)) : '';

  if (done) {
    return (
      <Page title={t('transfer.title')} testId="screen-transfer">
        <Result
          status="success"
          title={<span data-testid="transfer-success">{t('transfer.success')}</span>}
          description={
            <span data-testid="transfer-success-detail">
              {t('transfer.to', { name: payeeName })} · {format.money(done.amount)}
            </span>
          }
        />
        <div className="page-actions">
          <Button block color="primary" onClick={() => void navigate('/')} data-testid="transfer-done">
            {t('common.done')}
          </Button>
        </div>
      </Page>
    );
  }

  const step = payee ? 1 : 0;
  return (
    <Page title={t('transfer.title')} testId="screen-transfer">
      <Steps current={pinOpen ? 2 : step} className="flow-steps">
        <Steps.Step title={t('transfer.steps.payee')} />
        <Steps.Step title={t('transfer.steps.amount')} />
        <Steps.Step title={t('transfer.steps.pin')} />
      </Steps>
      {!payee ? (
        <Form
          layout="vertical"
          onFinish={() => void preview()}
          footer={
            <>
              {error && (
                <p className="form-error" role="alert" data-testid="transfer-error">
                  {error}
                </p>
              )}
              <Button block type="submit" color="primary" size="large" loading={busy} data-testid="transfer-next">
                {t('transfer.check')}
              </Button>
            </>
          }
        >
          <Form.Item label={t('transfer.payeePhone')}>
            <Input
              type="tel"
              inputMode="numeric"
              placeholder={t('transfer.payeePhonePlaceholder')}
              value={phoneText}
              onChange={setPhoneText}
              clearable
              aria-label={t('transfer.payeePhone')}
              data-testid="transfer-phone"
            />
          </Form.Item>
        </Form>
      ) : (
        <Form
          layout="vertical"
          onFinish={() => setPinOpen(true)}
          footer={
            <>
              {error && !pinOpen && (
                <p className="form-error" role="alert" data-testid="transfer-error">
                  {error}
                </p>
              )}
              <Button
                block
                type="submit"
                color="primary"
                size="large"
                disabled={amount === null}
                data-testid="transfer-submit"
              >
                {t('transfer.submit')}
              </Button>
            </>
          }
        >
          <section className="payee-card" aria-label={t('transfer.confirmPayee')} data-testid="transfer-payee">
            <span className="muted">{t('transfer.confirmPayee')}</span>
            <strong className="payee-name" data-testid="transfer-payee-name">
              {payee.maskedName ?? t('transfer.payeeNoName')}
            </strong>
            <span className="muted">{displayPhone(payee.phone)}</span>
            <Button
              size="mini"
              fill="none"
              color="primary"
              onClick={() => {
                setPayee(null);
                setError(null);
              }}
              data-testid="transfer-change-payee"
            >
              {t('transfer.notMe')}
            </Button>
          </section>
          <Form.Item
            label={t('common.amount')}
            help={amountText && amount === null ? t('common.amountInvalid') : undefined}
          >
            <AmountInput value={amountText} onChange={setAmountText} testId="transfer-amount" />
          </Form.Item>
          <Form.Item label={t('transfer.note')}>
            <TextArea
              value={note}
              onChange={setNote}
              maxLength={100}
              rows={2}
              placeholder={t('transfer.notePlaceholder')}
              aria-label={t('transfer.note')}
              data-testid="transfer-note"
            />
          </Form.Item>
        </Form>
      )}
      <PinSheet
        visible={pinOpen}
        summary={amount === null ? '' : `${t('transfer.to', { name: payeeName })} · ${format.money(amount)}`}
        error={error}
        busy={busy}
        resetKey={pinResetKey}
        onClose={() => setPinOpen(false)}
        onPin={(pin) => void pay(pin)}
      />
      <StepUpSheet
        visible={stepUp !== null}
        busy={busy}
        error={stepUp?.error ?? null}
        onClose={() => setStepUp(null)}
        onProof={(proof) => void pay(stepUp?.pin ?? '', proof)}
      />
    </Page>
  );
}
