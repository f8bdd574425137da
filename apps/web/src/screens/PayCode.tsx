/**
 * Pay code (付款码): the customer shows an 18-digit code, its QR and a Code 128 barcode to the cashier.
 * The code is computed here from the device's enrolled secret every minute (works offline); the digits
 * are masked until tapped. The screen polls for charges above the no-PIN limit and asks for the PIN.
 */
import { newIdempotencyKey, type components } from '@yika/sdk';
import { Button, NoticeBar, Popup, Result } from 'antd-mobile';
import JsBarcode from 'jsbarcode';
import QRCode from 'qrcode';
import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties } from 'react';
import { useTranslation } from 'react-i18next';
import { LoadError, Loading, Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import {
  groupCode,
  loadEnrolment,
  maskCode,
  paymentCodeAt,
  saveEnrolment,
  secondsLeft,
  stepOf,
  type StoredEnrolment,
} from '../lib/paycode.js';
import { useProfile } from '../session.js';

type Confirmation = components['schemas']['PaymentCodeConfirmation'];

const styles = {
  card: {
    background: '#fff',
    borderRadius: 12,
    padding: '16px 16px 8px',
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    gap: 8,
  },
  hint: { margin: 0, color: '#6b7280', fontSize: 13 },
  barcode: { width: '100%', height: 72 },
  digits: {
    border: 'none',
    background: 'none',
    fontFamily: 'ui-monospace, Menlo, monospace',
    fontSize: 20,
    letterSpacing: 1,
    color: '#111827',
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    cursor: 'pointer',
  },
  reveal: { fontFamily: 'system-ui, sans-serif', fontSize: 12, color: '#1677ff', letterSpacing: 0 },
  qr: { width: 200, height: 200 },
  value: { margin: 0 },
} as const satisfies Record<string, CSSProperties>;

/** How often the screen asks whether a cashier's charge waits for this customer. */
const POLL_INTERVAL_MS = 3_000;
/** A wrong PIN is typed again in the sheet; a wrong second factor in the step-up sheet. */
const PIN_RETRY_CODES = new Set(['pin_invalid']);
const STEP_UP_RETRY_CODES = new Set(['otp_invalid', 'otp_expired', 'otp_attempts_exceeded', 'totp_invalid']);

type EnrolState =
  | { status: 'loading' }
  | { status: 'ready'; enrolment: StoredEnrolment; offline: boolean }
  | { status: 'needs-pin'; renew: boolean; error: string | null; busy: boolean; attempt: number }
  | { status: 'error'; error: unknown };

/** This device is not enrolled (or the enrolment is to be renewed): enrolling takes the payment PIN. */
class PinNeeded extends Error {}

/**
 * The stored enrolment if the server still knows it as this device's; else a new one, which takes the PIN
 * (an enrolled device pays small amounts without it). Offline: the stored one.
 */
async function ensureEnrolment(
  customerId: string,
  renew: boolean,
  pin?: string,
): Promise<{ enrolment: StoredEnrolment; offline: boolean }> {
  const stored = renew ? null : loadEnrolment(customerId);
  try {
    if (stored) {
      const current = await call(yika.GET('/v1/payment-codes/devices/current'));
      if (current.enrolled && current.deviceIndex === stored.deviceIndex) return { enrolment: stored, offline: false };
    }
    if (pin === undefined) throw new PinNeeded();
    const created = await call(yika.POST('/v1/payment-codes/devices', { body: { pin } }));
    const enrolment = { customerId, deviceIndex: created.deviceIndex, secret: created.secret };
    saveEnrolment(enrolment);
    return { enrolment, offline: false };
  } catch (error) {
    // No network: the code is still derived locally and valid; the cashier's terminal checks it.
    if (stored && error instanceof ApiError && error.code === 'network') return { enrolment: stored, offline: true };
    throw error;
  }
}

export function PayCode() {
  const { t } = useTranslation();
  const profile = useProfile();
  const [state, setState] = useState<EnrolState>({ status: 'loading' });
  const wrongPins = useRef(0);

  const enrol = useCallback(
    async (renew: boolean, pin?: string) => {
      // A wrong PIN clears the sheet for the next try (its reset key is the attempt number).
      const attempt = wrongPins.current;
      setState(
        pin === undefined ? { status: 'loading' } : { status: 'needs-pin', renew, error: null, busy: true, attempt },
      );
      try {
        setState({ status: 'ready', ...(await ensureEnrolment(profile.customerId, renew, pin)) });
      } catch (error) {
        if (error instanceof PinNeeded) setState({ status: 'needs-pin', renew, error: null, busy: false, attempt });
        else if (error instanceof ApiError && PIN_RETRY_CODES.has(error.code)) {
          wrongPins.current += 1;
          setState({
            status: 'needs-pin',
            renew,
            error: errorMessage(t, error),
            busy: false,
            attempt: wrongPins.current,
          });
        } else setState({ status: 'error', error });
      }
    },
    [profile.customerId, t],
  );

  useEffect(() => {
    void enrol(false);
  }, [enrol]);

  return (
    <Page title={t('paycode.title')} testId="screen-paycode">
      {state.status === 'loading' && <Loading testId="paycode-loading" />}
      {state.status === 'error' && (
        <LoadError error={state.error} onRetry={() => void enrol(false)} testId="paycode-error" />
      )}
      {state.status === 'needs-pin' && (
        <>
          <div className="paycode-enable" data-testid="paycode-enable">
            <p>{t('paycode.enableHint')}</p>
          </div>
          <PinSheet
            visible
            title={t('paycode.enableTitle')}
            error={state.error}
            busy={state.busy}
            resetKey={state.attempt}
            onClose={() => window.history.back()}
            onPin={(pin) => void enrol(state.renew, pin)}
          />
        </>
      )}
      {state.status === 'ready' && (
        <>
          {state.offline && (
            <NoticeBar color="info" wrap content={t('paycode.offline')} data-testid="paycode-offline" />
          )}
          {!profile.pinSet && (
            <NoticeBar color="alert" wrap content={t('paycode.noPin')} data-testid="paycode-no-pin" />
          )}
          <CodeCard enrolment={state.enrolment} onRenew={() => void enrol(true)} />
          {!state.offline && <Confirmations />}
        </>
      )}
    </Page>
  );
}

/** The code of the current minute, recomputed when the minute turns; a countdown in between. */
function useCurrentCode(enrolment: StoredEnrolment): { code: string | null; left: number } {
  const [now, setNow] = useState(() => Date.now());
  const [code, setCode] = useState<{ step: number; value: string } | null>(null);
  const step = stepOf(now);

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);

  useEffect(() => {
    let cancelled = false;
    paymentCodeAt(enrolment, step * 60_000).then(
      (value) => {
        if (!cancelled) setCode({ step, value });
      },
      () => undefined, // Web Crypto refuses only on a broken browser; the old code stays until it expires
    );
    return () => {
      cancelled = true;
    };
  }, [enrolment, step]);

  return { code: code?.value ?? null, left: secondsLeft(now) };
}

function CodeCard(props: { enrolment: StoredEnrolment; onRenew: () => void }) {
  const { t } = useTranslation();
  const { code, left } = useCurrentCode(props.enrolment);
  const [revealed, setRevealed] = useState(false);
  const barcode = useRef<SVGSVGElement>(null);
  const [qr, setQr] = useState<string | null>(null);

  useEffect(() => {
    if (!code) return;
    if (barcode.current) {
      JsBarcode(barcode.current, code, { format: 'CODE128', displayValue: false, height: 72, margin: 0, width: 2 });
    }
    let cancelled = false;
    QRCode.toString(code, { type: 'svg', errorCorrectionLevel: 'M', margin: 1 }).then(
      (svg) => {
        if (!cancelled) setQr(svg);
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [code]);

  return (
    <section style={styles.card} aria-label={t('paycode.cardLabel')} data-testid="paycode-card">
      <p style={styles.hint}>{t('paycode.hint')}</p>
      <svg
        ref={barcode}
        style={styles.barcode}
        role="img"
        aria-label={t('paycode.barcode')}
        data-testid="paycode-barcode"
      />
      <button
        type="button"
        style={styles.digits}
        onClick={() => setRevealed(!revealed)}
        aria-label={revealed ? t('paycode.hideDigits') : t('paycode.showDigits')}
        data-testid="paycode-digits"
        data-revealed={revealed}
      >
        {code ? (revealed ? groupCode(code) : maskCode(code)) : '…'}
        <span style={styles.reveal}>{revealed ? t('paycode.hideDigits') : t('paycode.showDigits')}</span>
      </button>
      {qr && (
        <div
          style={styles.qr}
          role="img"
          aria-label={t('paycode.qr')}
          data-testid="paycode-qr"
          // Our own SVG from the qrcode package, built from 18 digits: nothing foreign is injected.
          dangerouslySetInnerHTML={{ __html: qr }}
        />
      )}
      <p className="muted center" data-testid="paycode-countdown" data-seconds={left}>
        {t('paycode.refreshIn', { seconds: left })}
      </p>
      <Button size="small" fill="none" onClick={props.onRenew} data-testid="paycode-renew">
        {t('paycode.renew')}
      </Button>
    </section>
  );
}

/** Charges above the no-PIN limit: shown as they arrive; confirmed with the PIN or declined. */
function Confirmations() {
  const [pending, setPending] = useState<Confirmation | null>(null);
  const [done, setDone] = useState<{ charge: Confirmation; outcome: 'paid' | 'declined' } | null>(null);

  useEffect(() => {
    let stopped = false;
    async function poll() {
      try {
        const { items } = await call(yika.GET('/v1/payment-codes/confirmations'));
        if (!stopped) setPending((current) => current ?? items[0] ?? null);
      } catch {
        // Offline or a hiccup: the next round asks again.
      }
    }
    void poll();
    const timer = setInterval(() => void poll(), POLL_INTERVAL_MS);
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, []);

  return (
    <>
      {pending && (
        <ConfirmSheet
          charge={pending}
          onDone={(charge, outcome) => {
            setPending(null);
            setDone({ charge, outcome });
          }}
          onClose={() => setPending(null)}
        />
      )}
      <Popup visible={done !== null} onMaskClick={() => setDone(null)} bodyClassName="pin-sheet" destroyOnClose>
        {done && <DoneSheet charge={done.charge} outcome={done.outcome} onClose={() => setDone(null)} />}
      </Popup>
    </>
  );
}

function DoneSheet(props: { charge: Confirmation; outcome: 'paid' | 'declined'; onClose: () => void }) {
  const { t } = useTranslation();
  const format = useFormat();
  // A payment the risk engine holds is not paid yet: it says so rather than "paid".
  const held = props.outcome === 'paid' && props.charge.status === 'in_review';
  return (
    <div data-testid="paycode-done" data-outcome={props.outcome}>
      <Result
        status={held ? 'waiting' : props.outcome === 'paid' ? 'success' : 'info'}
        title={held ? t('paycode.inReview') : props.outcome === 'paid' ? t('paycode.paid') : t('paycode.declined')}
        description={`${props.charge.merchantName} · ${format.money(props.charge.amount)}`}
      />
      <Button block color="primary" onClick={props.onClose} data-testid="paycode-done-close">
        {t('common.done')}
      </Button>
    </div>
  );
}

function ConfirmSheet(props: {
  charge: Confirmation;
  onDone: (charge: Confirmation, outcome: 'paid' | 'declined') => void;
  onClose: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const { charge } = props;
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  // One key per charge: a retried confirmation never pays twice.
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [charge.id]);
  const summary = `${charge.merchantName} · ${format.money(charge.amount)}`;

  async function confirm(pin: string, proof?: StepUpProof) {
    setBusy(true);
    setError(null);
    try {
      const confirmed = await call(
        yika.POST('/v1/payment-codes/confirmations/{id}', {
          params: { path: { id: charge.id }, header: { 'idempotency-key': idempotencyKey } },
          body: { pin, ...(proof ? { stepUp: proof } : {}) },
        }),
      );
      setPinOpen(false);
      setStepUp(null);
      props.onDone(confirmed, 'paid');
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

  async function decline() {
    setBusy(true);
    setError(null);
    try {
      const declined = await call(
        yika.POST('/v1/payment-codes/confirmations/{id}/decline', { params: { path: { id: charge.id } } }),
      );
      props.onDone(declined, 'declined');
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <Popup visible={!pinOpen && stepUp === null} onMaskClick={props.onClose} bodyClassName="pin-sheet" destroyOnClose>
        <div role="dialog" aria-label={t('paycode.confirmTitle')} data-testid="paycode-confirm">
          <h2 className="sheet-title">{t('paycode.confirmTitle')}</h2>
          <p className="sheet-summary">{t('paycode.confirmHint')}</p>
          <dl className="payee-card">
            <dt className="muted">{t('paycode.merchant')}</dt>
            <dd className="payee-name" style={styles.value} data-testid="paycode-confirm-merchant">
              {charge.merchantName}
            </dd>
            <dt className="muted">{t('paycode.amount')}</dt>
            <dd
              className="payee-name"
              style={styles.value}
              data-testid="paycode-confirm-amount"
              data-fen={charge.amount}
            >
              {format.money(charge.amount)}
            </dd>
            {charge.expiresAt && (
              <>
                <dt className="muted">{t('paycode.confirmBy')}</dt>
                <dd style={styles.value}>{format.dateTime(charge.expiresAt)}</dd>
              </>
            )}
          </dl>
          {error && (
            <p className="form-error" role="alert" data-testid="paycode-confirm-error">
              {error}
            </p>
          )}
          <Button
            block
            color="primary"
            size="large"
            loading={busy}
            onClick={() => setPinOpen(true)}
            data-testid="paycode-confirm-pay"
          >
            {t('paycode.confirmPay', { amount: format.money(charge.amount) })}
          </Button>
          <Button
            block
            fill="none"
            disabled={busy}
            onClick={() => void decline()}
            style={{ marginTop: 8 }}
            data-testid="paycode-confirm-decline"
          >
            {t('paycode.decline')}
          </Button>
        </div>
      </Popup>
      <PinSheet
        visible={pinOpen}
        summary={summary}
        error={error}
        busy={busy}
        resetKey={pinResetKey}
        onClose={() => setPinOpen(false)}
        onPin={(pin) => void confirm(pin)}
      />
      <StepUpSheet
        visible={stepUp !== null}
        busy={busy}
        error={stepUp?.error ?? null}
        onClose={() => setStepUp(null)}
        onProof={(proof) => void confirm(stepUp?.pin ?? '', proof)}
      />
    </>
  );
}
