/**
 * The hosted checkout page (收银台), /checkout/:orderId: an online shop sends its customer here with an order
 * it created by API. The page shows the merchant, what is bought, the amount and the time left; a visitor
 * who is not signed in signs in first and comes back (the sign-in guard keeps the path); the customer pays
 * with the PIN and returns to the shop's return URL (http or https only, shown before leaving).
 */
import { newIdempotencyKey, type paths } from '@yika/sdk';
import { Button, Result } from 'antd-mobile';
import { useEffect, useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import { LoadError, Loading, Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { safeReturnUrl } from '../lib/scan.js';
import { useAsync } from '../lib/use-async.js';
import { PaymentReceipt, type MerchantPayment } from './Scan.js';

type CheckoutOrder = paths['/v1/checkout/{id}']['get']['responses'][200]['content']['application/json'];

/** After paying, the shop's page opens by itself after this long (the customer can go at once). */
const RETURN_DELAY_SECONDS = 5;
const PIN_RETRY_CODES = new Set(['pin_invalid']);
const STEP_UP_RETRY_CODES = new Set(['otp_invalid', 'otp_expired', 'otp_attempts_exceeded', 'totp_invalid']);
/** The order changed under the customer (paid elsewhere, closed, expired): it is loaded again. */
const ORDER_STATE_CODES = new Set(['order_paid', 'order_closed', 'order_expired']);

/** Seconds until `iso`, ticking once a second; 0 once it has passed. */
function useSecondsLeft(iso: string | null): number | null {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!iso) return;
    const timer = setInterval(() => setNow(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, [iso]);
  if (!iso) return null;
  return Math.max(0, Math.floor((new Date(iso).getTime() - now) / 1_000));
}

function clock(seconds: number): string {
  const hours = Math.floor(seconds / 3_600);
  const minutes = Math.floor((seconds % 3_600) / 60);
  const rest = seconds % 60;
  const two = (value: number) => String(value).padStart(2, '0');
  return hours > 0 ? `${hours}:${two(minutes)}:${two(rest)}` : `${two(minutes)}:${two(rest)}`;
}

export function Checkout() {
  const { orderId = '' } = useParams();
  const { t } = useTranslation();
  const order = useAsync(() => call(yika.GET('/v1/checkout/{id}', { params: { path: { id: orderId } } })), [orderId]);
  const [paid, setPaid] = useState<MerchantPayment | null>(null);

  if (order.status === 'loading') {
    return (
      <Page title={t('checkout.title')} testId="screen-checkout">
        <Loading />
      </Page>
    );
  }
  if (order.status === 'error') {
    return (
      <Page title={t('checkout.title')} testId="screen-checkout">
        <LoadError error={order.error} onRetry={order.reload} testId="checkout-load-error" />
      </Page>
    );
  }
  if (paid) return <CheckoutPaid order={order.data} payment={paid} />;
  return <CheckoutOrderView order={order.data} onPaid={setPaid} onStale={order.reload} />;
}

function CheckoutOrderView(props: {
  order: CheckoutOrder;
  onPaid: (payment: MerchantPayment) => void;
  onStale: () => void;
}) {
  const { t } = useTranslation();
  const format = useFormat();
  const { order } = props;
  const secondsLeft = useSecondsLeft(order.status === 'open' ? order.expiresAt : null);
  // The server is the judge; the page stops offering to pay when its own clock says the time is up.
  const status = order.status === 'open' && secondsLeft === 0 ? 'expired' : order.status;
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [order.id]);
  const returnUrl = safeReturnUrl(order.returnUrl);

  async function pay(pin: string, proof?: StepUpProof) {
    setBusy(true);
    setError(null);
    try {
      const payment = await call(
        yika.POST('/v1/checkout/{id}/pay', {
          params: { path: { id: order.id }, header: { 'idempotency-key': idempotencyKey } },
          body: { pin, ...(proof ? { stepUp: proof } : {}) },
        }),
      );
      setPinOpen(false);
      setStepUp(null);
      props.onPaid(payment);
    } catch (caught) {
      const code = caught instanceof ApiError ? caught.code : '';
      if (code === 'step_up_required' && !proof) {
        setPinOpen(false);
        setStepUp({ pin, error: null });
        return;
      }
      if (proof && STEP_UP_RETRY_CODES.has(code)) return setStepUp({ pin, error: errorMessage(t, caught) });
      setStepUp(null);
      setError(errorMessage(t, caught));
      if (PIN_RETRY_CODES.has(code)) setPinResetKey((key) => key + 1);
      else setPinOpen(false);
      if (ORDER_STATE_CODES.has(code)) props.onStale();
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title={t('checkout.title')} testId="screen-checkout" back={false}>
      <section className="payee-card" aria-label={t('checkout.title')} data-testid="checkout-order">
        <span className="muted">{t('checkout.merchant')}</span>
        <strong className="payee-name" data-testid="checkout-merchant">
          {order.merchantName}
        </strong>
        {order.description && (
          <span className="muted" data-testid="checkout-description">
            {order.description}
          </span>
        )}
        <strong className="payee-name" style={{ fontSize: 32 }} data-testid="checkout-amount" data-fen={order.amount}>
          {format.money(order.amount)}
        </strong>
        {order.merchantOrderNo && (
          <span className="muted" data-testid="checkout-order-no">
            {t('checkout.orderNo', { number: order.merchantOrderNo })}
          </span>
        )}
        {status === 'open' && secondsLeft !== null && (
          <span className="muted" role="timer" data-testid="checkout-countdown" data-seconds={secondsLeft}>
            {t('checkout.timeLeft', { time: clock(secondsLeft) })}
          </span>
        )}
      </section>

      {status === 'open' ? (
        <div className="page-actions">
          {error && !pinOpen && (
            <p className="form-error" role="alert" data-testid="checkout-error">
              {error}
            </p>
          )}
          <Button
            block
            color="primary"
            size="large"
            onClick={() => {
              setError(null);
              setPinOpen(true);
            }}
            data-testid="checkout-pay"
          >
            {t('checkout.pay', { amount: format.money(order.amount) })}
          </Button>
          {returnUrl && (
            <Button block fill="none" onClick={() => window.location.assign(returnUrl)} data-testid="checkout-cancel">
              {t('checkout.cancel')}
            </Button>
          )}
        </div>
      ) : (
        <Result
          status={status === 'paid' ? 'success' : 'warning'}
          title={
            <span data-testid="checkout-closed" data-status={status}>
              {t(`checkout.state.${status}`)}
            </span>
          }
          description={t(`checkout.stateHint.${status}`)}
        />
      )}
      {returnUrl && status !== 'open' && <ReturnToShop url={returnUrl} auto={false} />}

      <PinSheet
        visible={pinOpen}
        summary={`${t('scan.payToName', { name: order.merchantName })} · ${format.money(order.amount)}`}
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

function CheckoutPaid(props: { order: CheckoutOrder; payment: MerchantPayment }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const returnUrl = safeReturnUrl(props.order.returnUrl);
  return (
    <Page title={t('checkout.title')} testId="screen-checkout-paid" back={false}>
      <PaymentReceipt payment={props.payment} />
      {returnUrl ? (
        <ReturnToShop url={returnUrl} auto />
      ) : (
        <div className="page-actions">
          <Button block color="primary" onClick={() => void navigate('/')} data-testid="checkout-done">
            {t('common.done')}
          </Button>
        </div>
      )}
    </Page>
  );
}

/** The shop's return URL, shown in full before the customer is sent there (after a countdown when `auto`). */
function ReturnToShop(props: { url: string; auto: boolean }) {
  const { t } = useTranslation();
  const [seconds, setSeconds] = useState(RETURN_DELAY_SECONDS);
  useEffect(() => {
    if (!props.auto) return;
    if (seconds <= 0) {
      window.location.assign(props.url);
      return;
    }
    const timer = setTimeout(() => setSeconds(seconds - 1), 1_000);
    return () => clearTimeout(timer);
  }, [props.auto, props.url, seconds]);
  return (
    <div className="page-actions" data-testid="checkout-return">
      <p className="muted" style={{ margin: 0 }}>
        {props.auto ? t('checkout.returning', { seconds }) : t('checkout.returnHint')}
      </p>
      <code style={{ wordBreak: 'break-all', fontSize: 13 }} data-testid="checkout-return-url">
        {props.url}
      </code>
      <Button block color="primary" onClick={() => window.location.assign(props.url)} data-testid="checkout-return-now">
        {t('checkout.returnNow')}
      </Button>
    </div>
  );
}
