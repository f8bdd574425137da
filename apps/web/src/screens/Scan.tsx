/**
 * Scan to pay (扫一扫): read a merchant's EMVCo QR code from the camera, a picture or pasted text; the
 * server says what it asks for (merchant, city, amount, order); the customer confirms (enters the amount
 * of a static code) and pays with the PIN. A link to this wallet's own checkout or payment request opens it.
 */
import { newIdempotencyKey, type components, type paths } from '@yika/sdk';
import { Button, Form, NoticeBar, Result, TextArea } from 'antd-mobile';
import { useEffect, useMemo, useRef, useState, type ChangeEvent } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { AmountInput } from '../components/AmountInput.js';
import { Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { fenToJson, parseYuan } from '../lib/money.js';
import {
  CameraError,
  classifyScanned,
  decodePicture,
  PAYLOAD_LENGTH_MAX,
  PictureError,
  startCameraScan,
  type CameraProblem,
  type CameraScan,
} from '../lib/scan.js';

type Preview = paths['/v1/payments/qr/preview']['post']['responses'][200]['content']['application/json'];
export type MerchantPayment = components['schemas']['MerchantPayment'];

function isPast(iso: string | null): boolean {
  return iso !== null && Date.parse(iso) <= Date.now();
}

/** A wrong PIN is typed again in the sheet; every other problem closes it and the page says why. */
const PIN_RETRY_CODES = new Set(['pin_invalid']);
/** A wrong or spent second factor is typed again in the step-up sheet. */
const STEP_UP_RETRY_CODES = new Set(['otp_invalid', 'otp_expired', 'otp_attempts_exceeded', 'totp_invalid']);

export function Scan() {
  const { t } = useTranslation();
  const [scanned, setScanned] = useState<{ payload: string; preview: Preview } | null>(null);
  const [paid, setPaid] = useState<MerchantPayment | null>(null);

  const another = () => {
    setPaid(null);
    setScanned(null);
  };
  if (paid) return <ScanPaid payment={paid} onAnother={another} />;
  if (scanned) {
    return (
      <ConfirmPayment
        payload={scanned.payload}
        preview={scanned.preview}
        onBack={() => setScanned(null)}
        onPaid={setPaid}
      />
    );
  }
  return (
    <Page title={t('scan.title')} testId="screen-scan">
      <ReadCode onPreview={(payload, preview) => setScanned({ payload, preview })} />
    </Page>
  );
}

/** The three ways in: camera, picture, paste. Whatever is read is previewed by the server. */
function ReadCode(props: { onPreview: (payload: string, preview: Preview) => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const [pasted, setPasted] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<{ message: string; detail: string | null } | null>(null);
  const [cameraOn, setCameraOn] = useState(true);
  const fileInput = useRef<HTMLInputElement>(null);

  async function handle(text: string) {
    const scanned = classifyScanned(text, window.location.origin);
    if (scanned.kind === 'link') return void navigate(scanned.path);
    // The camera stops at its first read; whatever comes next, it is offered again with "scan again".
    setCameraOn(false);
    if (scanned.kind === 'empty') return setError({ message: t('scan.empty'), detail: null });
    if (scanned.kind === 'too_long') return setError({ message: t('scan.tooLong'), detail: null });
    setBusy(true);
    setError(null);
    try {
      const preview = await call(yika.POST('/v1/payments/qr/preview', { body: { payload: scanned.payload } }));
      props.onPreview(scanned.payload, preview);
    } catch (caught) {
      // The parser names the data object at fault; shown as a detail for whoever holds the code.
      const detail = caught instanceof ApiError && caught.code === 'qr_invalid' ? caught.message : null;
      setError({ message: errorMessage(t, caught), detail });
    } finally {
      setBusy(false);
    }
  }

  async function picture(event: ChangeEvent<HTMLInputElement>) {
    const file = event.target.files?.[0];
    event.target.value = ''; // the same picture may be chosen again
    if (!file) return;
    setCameraOn(false); // the picture is what the customer chose
    setBusy(true);
    setError(null);
    try {
      const text = await decodePicture(file);
      setBusy(false);
      await handle(text);
    } catch (caught) {
      const problem = caught instanceof PictureError ? caught.problem : 'unreadable';
      setError({ message: t(`scan.pictureProblem.${problem}`), detail: null });
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="scan">
      {cameraOn ? (
        <Camera onCode={(text) => void handle(text)} onStop={() => setCameraOn(false)} />
      ) : (
        <Button
          block
          color="primary"
          fill="outline"
          onClick={() => {
            setError(null);
            setCameraOn(true);
          }}
          data-testid="scan-camera-start"
        >
          {t('scan.rescan')}
        </Button>
      )}
      {busy && (
        <p className="muted center" role="status" data-testid="scan-reading">
          {t('scan.reading')}
        </p>
      )}
      {error && (
        <div role="alert" data-testid="scan-error">
          <p className="form-error">{error.message}</p>
          {error.detail && (
            <p className="muted" data-testid="scan-error-detail" style={{ fontSize: 12, wordBreak: 'break-all' }}>
              {t('scan.technicalDetail', { detail: error.detail })}
            </p>
          )}
        </div>
      )}

      <input
        ref={fileInput}
        type="file"
        accept="image/*"
        hidden
        onChange={(event) => void picture(event)}
        data-testid="scan-file"
      />
      <Button
        block
        fill="outline"
        style={{ marginTop: 12 }}
        onClick={() => fileInput.current?.click()}
        data-testid="scan-upload"
      >
        {t('scan.upload')}
      </Button>

      <Form
        layout="vertical"
        style={{ marginTop: 12 }}
        onFinish={() => void handle(pasted)}
        footer={
          <Button block type="submit" color="primary" loading={busy} data-testid="scan-paste-submit">
            {t('scan.pasteSubmit')}
          </Button>
        }
      >
        <Form.Item label={t('scan.pasteLabel')}>
          <TextArea
            value={pasted}
            onChange={setPasted}
            rows={3}
            maxLength={PAYLOAD_LENGTH_MAX + 64}
            placeholder={t('scan.pastePlaceholder')}
            aria-label={t('scan.pasteLabel')}
            data-testid="scan-paste"
          />
        </Form.Item>
      </Form>
    </div>
  );
}

/** The viewfinder. Without a usable camera it says why and the upload and paste below remain. */
function Camera(props: { onCode: (text: string) => void; onStop: () => void }) {
  const { t } = useTranslation();
  const video = useRef<HTMLVideoElement>(null);
  const [state, setState] = useState<'starting' | 'scanning' | CameraProblem>('starting');
  const onCode = useRef(props.onCode);
  onCode.current = props.onCode;

  useEffect(() => {
    const element = video.current;
    if (!element) return;
    let scan: CameraScan | null = null;
    let unmounted = false;
    startCameraScan(element, (text) => onCode.current(text)).then(
      (started) => {
        if (unmounted) return started.stop();
        scan = started;
        setState('scanning');
      },
      (error: unknown) => {
        if (!unmounted) setState(error instanceof CameraError ? error.problem : 'failed');
      },
    );
    return () => {
      unmounted = true;
      scan?.stop();
    };
  }, []);

  const problem = state !== 'starting' && state !== 'scanning' ? state : null;
  return (
    <section aria-label={t('scan.cameraLabel')} data-testid="scan-camera" data-state={state}>
      <div
        style={{
          position: 'relative',
          aspectRatio: '1 / 1',
          background: '#111827',
          borderRadius: 12,
          overflow: 'hidden',
          display: problem ? 'none' : 'block',
        }}
      >
        <video
          ref={video}
          muted
          playsInline
          aria-label={t('scan.cameraLabel')}
          style={{ width: '100%', height: '100%', objectFit: 'cover' }}
        />
        <div
          aria-hidden="true"
          style={{
            position: 'absolute',
            inset: '18%',
            border: '2px solid rgba(255,255,255,0.85)',
            borderRadius: 12,
          }}
        />
        <p
          style={{ position: 'absolute', bottom: 8, left: 0, right: 0, margin: 0, color: '#fff', fontSize: 13 }}
          className="center"
        >
          {state === 'starting' ? t('scan.cameraStarting') : t('scan.cameraHint')}
        </p>
      </div>
      {problem && (
        <NoticeBar
          color="alert"
          wrap
          content={t(`scan.cameraProblem.${problem}`)}
          data-testid="scan-camera-problem"
          data-problem={problem}
        />
      )}
      {state === 'scanning' && (
        <Button block fill="none" size="small" onClick={props.onStop} data-testid="scan-camera-stop">
          {t('scan.cameraStop')}
        </Button>
      )}
    </section>
  );
}

/** What the code asks for, the amount for a static code, and the PIN. */
function ConfirmPayment(props: {
  payload: string;
  preview: Preview;
  onBack: () => void;
  onPaid: (payment: MerchantPayment) => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const { preview } = props;
  const [amountText, setAmountText] = useState('');
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  const fixed = preview.amount;
  const amount = fixed === null ? parseYuan(amountText) : BigInt(fixed);
  const amountInvalid = fixed === null && amountText.trim() !== '' && amount === null;
  // One key per intent (this code, this amount): a retried request never pays twice.
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [props.payload, amountText]);
  const name = preview.merchant.displayName;
  // A dynamic code past its time is not offered for payment (the server would answer order_expired).
  const [expired, setExpired] = useState(() => isPast(preview.expiresAt));
  useEffect(() => {
    if (!preview.expiresAt || expired) return;
    const timer = setInterval(() => setExpired(isPast(preview.expiresAt)), 1_000);
    return () => clearInterval(timer);
  }, [preview.expiresAt, expired]);

  async function pay(pin: string, proof?: StepUpProof) {
    if (amount === null) return;
    setBusy(true);
    setError(null);
    try {
      const payment = await call(
        yika.POST('/v1/payments/qr/pay', {
          params: { header: { 'idempotency-key': idempotencyKey } },
          body: {
            payload: props.payload,
            pin,
            ...(fixed === null ? { amount: fenToJson(amount) } : {}),
            ...(proof ? { stepUp: proof } : {}),
          },
        }),
      );
      setPinOpen(false);
      setStepUp(null);
      props.onPaid(payment);
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'step_up_required' && !proof) {
        setPinOpen(false);
        setStepUp({ pin, error: null });
        return;
      }
      if (proof && caught instanceof ApiError && STEP_UP_RETRY_CODES.has(caught.code))
        return setStepUp({ pin, error: errorMessage(t, caught) });
      setStepUp(null);
      setError(errorMessage(t, caught));
      if (caught instanceof ApiError && PIN_RETRY_CODES.has(caught.code)) setPinResetKey((key) => key + 1);
      else setPinOpen(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('scan.confirmTitle')} testId="screen-scan-confirm">
      <section className="payee-card" aria-label={t('scan.payTo')} data-testid="scan-merchant">
        <span className="muted">{t('scan.payTo')}</span>
        <strong className="payee-name" data-testid="scan-merchant-name">
          {name}
        </strong>
        <span className="muted" data-testid="scan-merchant-city">
          {preview.merchant.city}
        </span>
        {preview.description && <span className="muted">{preview.description}</span>}
        {fixed !== null && (
          <strong className="payee-name" data-testid="scan-amount" data-fen={fixed}>
            {format.money(fixed)}
          </strong>
        )}
        {preview.expiresAt && (
          <span className="muted" data-testid="scan-expires">
            {t('scan.expires', { time: format.dateTime(preview.expiresAt) })}
          </span>
        )}
      </section>
      <Form
        layout="vertical"
        onFinish={() => {
          setError(null);
          setPinOpen(true);
        }}
        footer={
          <>
            {expired && (
              <p className="form-error" role="alert" data-testid="scan-expired">
                {t('errors.order_expired')}
              </p>
            )}
            {error && !pinOpen && (
              <p className="form-error" role="alert" data-testid="scan-pay-error">
                {error}
              </p>
            )}
            <Button
              block
              type="submit"
              color="primary"
              size="large"
              disabled={amount === null || expired}
              data-testid="scan-pay"
            >
              {amount === null ? t('scan.pay') : t('scan.payAmount', { amount: format.money(amount) })}
            </Button>
            <Button block fill="none" onClick={props.onBack} style={{ marginTop: 8 }} data-testid="scan-back">
              {t('scan.rescan')}
            </Button>
          </>
        }
      >
        {fixed === null && (
          <Form.Item label={t('scan.enterAmount')} help={amountInvalid ? t('common.amountInvalid') : undefined}>
            <AmountInput
              value={amountText}
              onChange={setAmountText}
              testId="scan-amount-input"
              invalid={amountInvalid}
            />
          </Form.Item>
        )}
      </Form>
      <PinSheet
        visible={pinOpen}
        summary={amount === null ? '' : `${t('scan.payToName', { name })} · ${format.money(amount)}`}
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

/** The result: who was paid, how much, the payment's id, and where to see it. */
export function PaymentReceipt({ payment }: { payment: MerchantPayment }) {
  const { t } = useTranslation();
  const format = useFormat();
  // The risk engine may hold a payment for review (202 in_review): it is not paid yet, and says so.
  const state = payment.status === 'succeeded' ? 'succeeded' : payment.status === 'failed' ? 'failed' : 'pending';
  return (
    <>
      <Result
        status={state === 'succeeded' ? 'success' : state === 'failed' ? 'error' : 'waiting'}
        title={
          <span
            data-testid={state === 'succeeded' ? 'payment-success' : 'payment-pending'}
            data-status={payment.status}
          >
            {t(`scan.result.${state}`)}
          </span>
        }
        description={
          <span data-testid="payment-success-detail">
            {t('scan.paidTo', { name: payment.merchantName })} · {format.money(payment.amount)}
            {state === 'pending' && ` · ${t('scan.result.pendingHint')}`}
          </span>
        }
      />
      <dl className="payee-card">
        <dt className="muted">{t('scan.paymentId')}</dt>
        <dd style={{ margin: 0, fontFamily: 'monospace', wordBreak: 'break-all' }} data-testid="payment-id">
          {payment.id}
        </dd>
        <dt className="muted">{t('scan.paidAt')}</dt>
        <dd style={{ margin: 0 }}>{format.dateTime(payment.createdAt)}</dd>
      </dl>
      <Link to="/history" data-testid="payment-history-link">
        {t('scan.viewHistory')}
      </Link>
    </>
  );
}

function ScanPaid(props: { payment: MerchantPayment; onAnother: () => void }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  return (
    <Page title={t('scan.title')} testId="screen-scan-paid">
      <PaymentReceipt payment={props.payment} />
      <div className="page-actions">
        <Button block color="primary" onClick={() => void navigate('/')} data-testid="scan-done">
          {t('common.done')}
        </Button>
        <Button block fill="none" onClick={props.onAnother} data-testid="scan-another">
          {t('scan.another')}
        </Button>
      </div>
    </Page>
  );
}
