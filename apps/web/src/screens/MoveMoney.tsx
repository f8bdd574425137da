/**
 * Top-up and withdrawal: pick a card, an amount, (withdrawal: the PIN), then follow the order until the
 * bank answers. The idempotency key lives as long as the intent (same card and amount), so a retry after
 * a network failure can never move the money twice.
 */
import { newIdempotencyKey, type Card } from '@yika/sdk';
import { Button, Form } from 'antd-mobile';
import { useMemo, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate } from 'react-router';
import { AmountInput } from '../components/AmountInput.js';
import { CardPicker } from '../components/CardPicker.js';
import { Empty, LoadError, Loading, Page } from '../components/common.js';
import { PinSheet } from '../components/PinInput.js';
import { StepUpSheet, type StepUpProof } from '../components/StepUpSheet.js';
import { ApiError, call, errorMessage, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { fenToJson, fenToYuanText, parseYuan } from '../lib/money.js';
import { useAsync } from '../lib/use-async.js';
import { loadBalance, loadCards } from '../lib/wallet.js';

type Kind = 'top-up' | 'withdraw';

export function TopUp() {
  return <MoveMoney kind="top-up" />;
}

export function Withdraw() {
  return <MoveMoney kind="withdraw" />;
}

function MoveMoney({ kind }: { kind: Kind }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const data = useAsync(async () => {
    const [cards, balance] = await Promise.all([loadCards(), loadBalance()]);
    return { cards, balance };
  }, []);
  const prefix = kind === 'top-up' ? 'topUp' : 'withdraw';
  return (
    <Page title={t(`${prefix}.title`)} testId={`screen-${kind}`}>
      {data.status === 'loading' && <Loading />}
      {data.status === 'error' && <LoadError error={data.error} onRetry={data.reload} />}
      {data.status === 'ready' &&
        (data.data.cards.length === 0 ? (
          <Empty title={t('cards.empty')} testId="move-no-card">
            <Button
              color="primary"
              onClick={() => void navigate(`/cards/bind?next=/${kind}`)}
              data-testid="move-bind-card"
            >
              {t('cards.bind')}
            </Button>
          </Empty>
        ) : (
          <MoveMoneyForm kind={kind} cards={data.data.cards} available={data.data.balance.available} />
        ))}
    </Page>
  );
}

function MoveMoneyForm({ kind, cards, available }: { kind: Kind; cards: Card[]; available: number }) {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const [cardId, setCardId] = useState<string | null>(cards[0]?.id ?? null);
  const [amountText, setAmountText] = useState('');
  const [pinOpen, setPinOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [pinResetKey, setPinResetKey] = useState(0);
  // Large payments: the server asks for a second factor; the PIN already typed is kept for the retry.
  const [stepUp, setStepUp] = useState<{ pin: string; error: string | null } | null>(null);
  const amount = parseYuan(amountText);
  // One key per intent: a new card or amount is a new intent.
  const idempotencyKey = useMemo(() => newIdempotencyKey(), [cardId, amountText]);

  async function submit(pin?: string, proof?: StepUpProof) {
    if (!cardId || amount === null) return;
    setBusy(true);
    setError(null);
    try {
      const header = { 'idempotency-key': idempotencyKey };
      const order =
        kind === 'top-up'
          ? await call(
              yika.POST('/v1/wallet/top-ups', { params: { header }, body: { cardId, amount: fenToJson(amount) } }),
            )
          : await call(
              yika.POST('/v1/wallet/withdrawals', {
                params: { header },
                body: { cardId, amount: fenToJson(amount), pin: pin ?? '', ...(proof ? { stepUp: proof } : {}) },
              }),
            );
      await navigate(`/orders/${order.id}`, { replace: true });
    } catch (caught) {
      if (caught instanceof ApiError && caught.code === 'step_up_required' && !proof && pin) {
        setPinOpen(false);
        setStepUp({ pin, error: null });
        setBusy(false);
        return;
      }
      if (proof && pin) {
        setStepUp({ pin, error: errorMessage(t, caught) });
        setBusy(false);
        return;
      }
      const message = errorMessage(t, caught);
      setError(message);
      setPinResetKey((key) => key + 1);
      setBusy(false);
    }
  }

  const prefix = kind === 'top-up' ? 'topUp' : 'withdraw';
  const tooMuch = kind === 'withdraw' && amount !== null && amount > BigInt(available);
  return (
    <>
      <Form
        layout="vertical"
        onFinish={() => {
          if (kind === 'withdraw') setPinOpen(true);
          else void submit();
        }}
        footer={
          <>
            {error && !pinOpen && (
              <p className="form-error" role="alert" data-testid="move-error">
                {error}
              </p>
            )}
            <Button
              block
              type="submit"
              color="primary"
              size="large"
              loading={busy}
              disabled={!cardId || amount === null || tooMuch}
              data-testid="move-submit"
            >
              {t(`${prefix}.submit`)}
            </Button>
          </>
        }
      >
        <Form.Item label={t(kind === 'top-up' ? 'topUp.from' : 'withdraw.to')}>
          <CardPicker cards={cards} value={cardId} onChange={setCardId} label={t('cards.choose')} />
        </Form.Item>
        <Form.Item
          label={t('common.amount')}
          description={
            kind === 'withdraw' ? (
              <span data-testid="withdraw-available">
                {t('withdraw.available', { amount: format.money(available) })}
              </span>
            ) : undefined
          }
          help={
            amountText && amount === null
              ? t('common.amountInvalid')
              : tooMuch
                ? t('errors.insufficient_funds')
                : undefined
          }
          extra={
            kind === 'withdraw' ? (
              <Button
                size="mini"
                fill="none"
                color="primary"
                onClick={() => setAmountText(fenToYuanText(available))}
                data-testid="withdraw-all"
              >
                {t('withdraw.all')}
              </Button>
            ) : undefined
          }
        >
          <AmountInput
            value={amountText}
            onChange={setAmountText}
            testId="move-amount"
            invalid={Boolean(amountText) && amount === null}
          />
        </Form.Item>
      </Form>
      <PinSheet
        visible={pinOpen}
        summary={amount === null ? '' : `${t('withdraw.title')} ${format.money(amount)}`}
        error={error}
        busy={busy}
        resetKey={pinResetKey}
        onClose={() => setPinOpen(false)}
        onPin={(pin) => void submit(pin)}
      />
      <StepUpSheet
        visible={stepUp !== null}
        busy={busy}
        error={stepUp?.error ?? null}
        onClose={() => setStepUp(null)}
        onProof={(proof) => void submit(stepUp?.pin ?? '', proof)}
      />
    </>
  );
}
