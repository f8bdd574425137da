/**
 * A top-up or withdrawal after submission: polls until the bank's answer is final and always says where
 * the money is (held on its way, arrived, or returned). Polling backs off and has a limit; the page says
 * so when it stops, and the money still completes or returns on the server's side.
 */
import type { Order as OrderView } from '@yika/sdk';
import { Button, Result, Steps } from 'antd-mobile';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import { LoadError, Loading, Page } from '../components/common.js';
import { call, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { cardLabel, loadCards } from '../lib/wallet.js';

const POLL_INTERVAL_MS_MIN = 800;
const POLL_INTERVAL_MS_MAX = 5_000;
const POLL_ATTEMPTS_MAX = 60;

function isFinal(order: OrderView): boolean {
  return order.status === 'succeeded' || order.status === 'failed';
}

export function Order() {
  const { orderId = '' } = useParams();
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const [order, setOrder] = useState<OrderView | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [gaveUp, setGaveUp] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const cards = useAsync(loadCards, []);

  useEffect(() => {
    let cancelled = false;
    let timer: number | undefined;
    const poll = async (count: number) => {
      try {
        const next = await call(yika.GET('/v1/wallet/orders/{orderId}', { params: { path: { orderId } } }));
        if (cancelled) return;
        setOrder(next);
        setError(null);
        if (isFinal(next)) return;
      } catch (caught) {
        if (cancelled) return;
        setError(caught);
      }
      if (count + 1 >= POLL_ATTEMPTS_MAX) return setGaveUp(true);
      const delay = Math.min(POLL_INTERVAL_MS_MAX, POLL_INTERVAL_MS_MIN * 1.5 ** count);
      timer = window.setTimeout(() => void poll(count + 1), delay);
    };
    void poll(0);
    return () => {
      cancelled = true;
      window.clearTimeout(timer);
    };
  }, [orderId, attempt]);

  if (!order) {
    return (
      <Page title={t('order.processing')} testId="screen-order">
        {error ? <LoadError error={error} onRetry={() => setAttempt(attempt + 1)} /> : <Loading />}
      </Page>
    );
  }

  const card = cards.status === 'ready' ? cards.data.find((candidate) => candidate.id === order.cardId) : undefined;
  const cardText = card ? cardLabel(card, i18n.language) : '';
  const amount = format.money(order.amount);
  const withdrawal = order.kind === 'withdrawal';
  const title = `${t(withdrawal ? 'withdraw.title' : 'topUp.title')} ${amount}`;
  const status = order.status;
  const stepIndex = status === 'created' ? 0 : status === 'processing' ? 1 : 2;

  let where: string;
  if (withdrawal) {
    if (status === 'succeeded') where = t('withdraw.whereDone', { amount, card: cardText });
    else if (status === 'failed') where = t('withdraw.whereReturned', { amount });
    else where = t('withdraw.whereHeld', { amount, card: cardText });
  } else {
    where =
      status === 'succeeded' ? t('order.succeeded') : status === 'failed' ? t('order.failed') : t('topUp.processing');
  }

  return (
    <Page title={t(withdrawal ? 'withdraw.title' : 'topUp.title')} testId="screen-order" back="/">
      <Result
        status={status === 'succeeded' ? 'success' : status === 'failed' ? 'error' : 'waiting'}
        title={<span data-testid="order-title">{title}</span>}
        description={
          <span data-testid="order-status" data-status={status} role="status" aria-live="polite">
            {t(`order.${status}`)}
            {order.failureReason ? ` · ${order.failureReason}` : ''}
          </span>
        }
      />
      <Steps current={stepIndex} className="order-steps">
        <Steps.Step title={t('order.stepSubmitted')} status="finish" />
        <Steps.Step
          title={t('order.stepBank')}
          status={stepIndex > 1 ? 'finish' : stepIndex === 1 ? 'process' : 'wait'}
        />
        <Steps.Step
          title={t('order.stepDone')}
          status={status === 'succeeded' ? 'finish' : status === 'failed' ? 'error' : 'wait'}
        />
      </Steps>
      <section className="where" aria-labelledby="where-title">
        <h2 id="where-title" className="section-title">
          {t('withdraw.whereTitle')}
        </h2>
        <p data-testid="order-where">{where}</p>
        {!isFinal(order) && <p className="muted">{t('order.stillWorking')}</p>}
        {gaveUp && (
          <Button size="small" onClick={() => setAttempt(attempt + 1)} data-testid="order-refresh">
            {t('common.retry')}
          </Button>
        )}
      </section>
      <div className="page-actions">
        <Button block color="primary" onClick={() => void navigate('/')} data-testid="order-home">
          {t('order.backHome')}
        </Button>
        <Button block fill="none" onClick={() => void navigate('/history')} data-testid="order-history">
          {t('order.viewHistory')}
        </Button>
      </div>
    </Page>
  );
}
