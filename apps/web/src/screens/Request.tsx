/**
 * Request money (收款): create a request (amount optional, note) and share its link or QR code; and the
 * other side, /pay/:id, where a signed-in customer sees who asks, how much and why, and pays with the PIN.
 */
import { newIdempotencyKey } from '@yika/sdk';
import { Button, Form, Input, Result, Toast } from 'antd-mobile';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import { AmountInput } from '../components/AmountInput.js';
import { LoadError, Loading, Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { fenToJson, parseYuan } from '../lib/money.js';
import { useAsync } from '../lib/use-async.js';

interface Created {
  id: string;
  amount: number | null;
  note: string | null;
  link: string;
  qrSvg: string;
  expiresAt: string;
}

export function RequestMoney() {
  const { t } = useTranslation();
  const format = useFormat();
  const [amountText, setAmountText] = useState('');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<Created | null>(null);
  const amount = parseYuan(amountText);
  const amountInvalid = amountText.trim() !== '' && amount === null;

  async function create() {
    setBusy(true);
    setError(null);
    try {
      const trimmed = note.trim();
      setCreated(
        await call(
          yika.POST('/v1/wallet/payment-requests', {
            body: { ...(amount !== null ? { amount: fenToJson(amount) } : {}), ...(trimmed ? { note: trimmed } : {}) },
          }),
        ),
      );
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  async function copy(link: string) {
    try {
      await navigator.clipboard.writeText(link);
      Toast.show({ content: t('request.copied'), icon: 'success' });
    } catch {
      Toast.show({ content: link });
    }
  }

  if (created) {
    return (
      <Page title={t('request.title')} testId="screen-request">
        <section className="request-card" aria-label={t('request.title')}>
          <img
            className="request-qr"
            src={`data:image/svg+xml;charset=utf-8,${encodeURIComponent(created.qrSvg)}`}
            alt={t('request.qrAlt')}
            width={200}
            height={200}
            data-testid="request-qr"
          />
          <strong className="payee-name" data-testid="request-amount">
            {created.amount === null ? t('request.anyAmount') : format.money(created.amount)}
          </strong>
          {created.note && <span className="muted">{created.note}</span>}
          <span className="muted">{t('request.expires', { date: format.dateTime(created.expiresAt) })}</span>
          <code className="request-link" data-testid="request-link">
            {created.link}
          </code>
          <Button color="primary" block onClick={() => void copy(created.link)} data-testid="request-copy">
            {t('request.copy')}
          </Button>
          <Button fill="none" block onClick={() => setCreated(null)} data-testid="request-new">
            {t('request.another')}
          </Button>
        </section>
      </Page>
    );
  }

  return (
    <Page title={t('request.title')} testId="screen-request">
      <p className="muted">{t('request.hint')}</p>
      <Form
        layout="vertical"
        onFinish={() => void create()}
        footer={
          <>
            {error && (
              <p className="form-error" role="alert" data-testid="request-error">
                {error}
              </p>
            )}
            <Button
              block
              type="submit"
              color="primary"
              size="large"
              loading={busy}
              disabled={amountInvalid}
              data-testid="request-create"
            >
              {t('request.create')}
            </Button>
          </>
        }
      >
        <Form.Item label={t('request.amountOptional')} help={amountInvalid ? t('common.amountInvalid') : undefined}>
          <AmountInput
            value={amountText}
            onChange={setAmountText}
            testId="request-amount-input"
            invalid={amountInvalid}
          />
        </Form.Item>
        <Form.Item label={t('transfer.note')}>
          <Input
            value={note}
            onChange={setNote}
            maxLength={100}
            placeholder={t('transfer.notePlaceholder')}
            aria-label={t('transfer.note')}
            data-testid="request-note"
          />
        </Form.Item>
      </Form>
    </Page>
  );
}

export function PayRequest() {
  const { requestId = '' } = useParams();
  const { t } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const request = useAsync(
    () => call(yika.GET('/v1/wallet/payment-requests/{requestId}', { params: { path: { requestId } } })),
    [requestId],
  );
  const [amountText, setAmountText] = useState('');
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  // Large payments: the server asks for a second factor; the PIN already typed is kept for the retry.
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  const [paid, setPaid] = useState<number | null>(null);
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [requestId, amountText]);

  if (request.status === 'loading') {
    return (
      <Page title={t('request.payTitle')} testId="screen-pay-request">
        <Loading />
      </Page>
    );
  }
  if (request.status === 'error') {
    return (
      <Page title={t('request.payTitle')} testId="screen-pay-request">
        <LoadError error={request.error} onRetry={request.reload} />
      </Page>
    );
  }
  const view = request.data;
  const fixed = view.amount;
  const amount = fixed === null ? parseYuan(amountText) : BigInt(fixed);
  const who = view.requesterMaskedName ?? t('transfer.payeeNoName');

  async function pay(pin: string, proof?: StepUpProof) {
    if (amount === null) return;
    setBusy(true);
    setError(null);
    try {
      const result = await call(
        yika.POST('/v1/wallet/payment-requests/{requestId}/pay', {
          params: { path: { requestId }, header: { 'idempotency-key': idempotencyKey } },
          body: { pin, ...(fixed === null ? { amount: fenToJson(amount) } : {}), ...(proof ? { stepUp: proof } : {}) },
        }),
      );
      setPinOpen(false);
      setStepUp(null);
      setPaid(result.amount);
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

  if (paid !== null) {
    return (
      <Page title={t('request.payTitle')} testId="screen-pay-request">
        <Result
          status="success"
          title={<span data-testid="pay-request-success">{t('transfer.success')}</span>}
          description={`${t('transfer.to', { name: who })} · ${format.money(paid)}`}
        />
        <div className="page-actions">
          <Button block color="primary" onClick={() => void navigate('/')} data-testid="pay-request-done">
            {t('common.done')}
          </Button>
        </div>
      </Page>
    );
  }

  return (
    <Page title={t('request.payTitle')} testId="screen-pay-request">
      <section className="payee-card" data-testid="pay-request-card">
        <span className="muted">{t('request.from')}</span>
        <strong className="payee-name" data-testid="pay-request-requester">
          {who}
        </strong>
        {view.note && <span className="muted">{view.note}</span>}
        {fixed !== null && (
          <strong className="payee-name" data-testid="pay-request-amount">
            {format.money(fixed)}
          </strong>
        )}
        <span className="muted" data-testid="pay-request-status" data-status={view.status}>
          {t(`request.status.${view.status}`)}
        </span>
      </section>
      {view.status === 'open' && (
        <Form
          layout="vertical"
          onFinish={() => setPinOpen(true)}
          footer={
            <>
              {error && !pinOpen && (
                <p className="form-error" role="alert" data-testid="pay-request-error">
                  {error}
                </p>
              )}
              <Button
                block
                type="submit"
                color="primary"
                size="large"
                disabled={amount === null}
                data-testid="pay-request-submit"
              >
                {t('request.pay')}
              </Button>
            </>
          }
        >
          {fixed === null && (
            <Form.Item label={t('common.amount')}>
              <AmountInput value={amountText} onChange={setAmountText} testId="pay-request-amount-input" />
            </Form.Item>
          )}
        </Form>
      )}
      <PinSheet
        visible={pinOpen}
        summary={amount === null ? '' : `${t('transfer.to', { name: who })} · ${format.money(amount)}`}
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
