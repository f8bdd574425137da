/** Bound cards (bank and last four only) with unbind, and binding a card on one screen. */
import type { CardVerification } from '@yika/sdk';
import { Button, Dialog, Form, Input, List, Tag, Toast } from 'antd-mobile';
import { BankcardOutline } from 'antd-mobile-icons';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useSearchParams } from 'react-router';
import { DemoSmsLink, Empty, LoadError, Loading, Page } from '../components/common.js';
import { call, errorMessage, yika } from '../lib/api.js';
import { displayPhone, normalizePhone } from '../lib/phone.js';
import { useAsync } from '../lib/use-async.js';
import { cardLabel, loadCards } from '../lib/wallet.js';
import { useProfile } from '../session.js';

export function Cards() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const cards = useAsync(loadCards, []);

  async function unbind(id: string, label: string, last4: string) {
    const confirmed = await Dialog.confirm({
      content: t('cards.unbindConfirm', { bank: label, last4 }),
      confirmText: t('cards.unbind'),
      cancelText: t('common.cancel'),
    });
    if (!confirmed) return;
    try {
      await call(yika.DELETE('/v1/cards/{cardId}', { params: { path: { cardId: id } } }));
      Toast.show({ content: t('cards.unbound'), icon: 'success' });
      cards.reload();
    } catch (error) {
      Toast.show({ content: errorMessage(t, error), icon: 'fail' });
    }
  }

  return (
    <Page title={t('cards.title')} testId="screen-cards">
      {cards.status === 'loading' && <Loading />}
      {cards.status === 'error' && <LoadError error={cards.error} onRetry={cards.reload} />}
      {cards.status === 'ready' &&
        (cards.data.length === 0 ? (
          <Empty title={t('cards.empty')} testId="cards-empty" />
        ) : (
          <List data-testid="card-list">
            {cards.data.map((card) => {
              const bank = i18n.language === 'en' ? card.bankName.en : card.bankName['zh-CN'];
              return (
                <List.Item
                  key={card.id}
                  prefix={<BankcardOutline fontSize={24} />}
                  description={t('cards.tail', { last4: card.last4 })}
                  data-testid="card"
                  extra={
                    <Button
                      size="mini"
                      fill="outline"
                      color="danger"
                      onClick={() => void unbind(card.id, bank, card.last4)}
                      data-testid="card-unbind"
                    >
                      {t('cards.unbind')}
                    </Button>
                  }
                >
                  <span data-testid="card-label">{cardLabel(card, i18n.language)}</span>{' '}
                  <Tag color="primary" fill="outline">
                    {card.cardType === 'debit' ? t('cards.debit') : t('cards.credit')}
                  </Tag>
                </List.Item>
              );
            })}
          </List>
        ))}
      <div className="page-actions">
        <Button
          block
          color="primary"
          size="large"
          onClick={() => void navigate('/cards/bind')}
          data-testid="cards-bind"
        >
          {t('cards.bind')}
        </Button>
      </div>
    </Page>
  );
}

/** Luhn check, so a typo is caught before the bank is asked. */
export function passesLuhn(digits: string): boolean {
  let sum = 0;
  for (let index = 0; index < digits.length; index++) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return digits.length >= 12 && sum % 10 === 0;
}

export function BindCard() {
  const { t, i18n } = useTranslation();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const profile = useProfile();
  const [cardNumber, setCardNumber] = useState('');
  const [holderName, setHolderName] = useState('');
  const [bankPhone, setBankPhone] = useState(profile.phone.replace(/^\+86/, ''));
  const [code, setCode] = useState('');
  const [verification, setVerification] = useState<(CardVerification & { phone: string }) | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const digits = cardNumber.replace(/\D/g, '');

  async function sendCode() {
    const phone = normalizePhone(bankPhone);
    if (!passesLuhn(digits)) return setError(t('cards.cardNumberInvalid'));
    if (!phone) return setError(t('login.phoneInvalid'));
    setBusy(true);
    setError(null);
    try {
      const started = await call(
        yika.POST('/v1/cards/verifications', { body: { cardNumber: digits, phone, holderName: holderName.trim() } }),
      );
      setVerification({ ...started, phone });
    } catch (caught) {
      setError(errorMessage(t, caught));
    } finally {
      setBusy(false);
    }
  }

  async function confirm() {
    if (!verification) return;
    setBusy(true);
    setError(null);
    try {
      const card = await call(
        yika.POST('/v1/cards/verifications/{verificationId}/confirm', {
          params: { path: { verificationId: verification.verificationId } },
          body: { code: code.trim() },
        }),
      );
      const bank = i18n.language === 'en' ? card.bankName.en : card.bankName['zh-CN'];
      Toast.show({ content: t('cards.bound', { bank, last4: card.last4 }), icon: 'success' });
      await navigate(params.get('next') ?? '/', { replace: true });
    } catch (caught) {
      setError(errorMessage(t, caught));
      setBusy(false);
    }
  }

  return (
    <Page title={t('cards.bindTitle')} testId="screen-bind-card" back="/cards">
      <p className="muted">{t('cards.bindHint')}</p>
      <Form
        layout="horizontal"
        onFinish={() => void (verification ? confirm() : sendCode())}
        footer={
          <>
            {error && (
              <p className="form-error" role="alert" data-testid="bind-error">
                {error}
              </p>
            )}
            <Button
              block
              type="submit"
              color="primary"
              size="large"
              loading={busy}
              disabled={verification ? !/^\d{6}$/.test(code.trim()) : digits.length < 12 || !holderName.trim()}
              data-testid="bind-submit"
            >
              {t('cards.submit')}
            </Button>
          </>
        }
      >
        <Form.Item label={t('cards.cardNumber')}>
          <Input
            inputMode="numeric"
            autoComplete="cc-number"
            placeholder={t('cards.cardNumberPlaceholder')}
            value={cardNumber}
            onChange={(value) => setCardNumber(value.replace(/[^\d ]/g, ''))}
            disabled={Boolean(verification)}
            aria-label={t('cards.cardNumber')}
            data-testid="bind-card-number"
          />
        </Form.Item>
        <Form.Item label={t('cards.holderName')}>
          <Input
            autoComplete="cc-name"
            placeholder={t('cards.holderNamePlaceholder')}
            value={holderName}
            onChange={setHolderName}
            disabled={Boolean(verification)}
            aria-label={t('cards.holderName')}
            data-testid="bind-holder-name"
          />
        </Form.Item>
        <Form.Item label={t('cards.bankPhone')}>
          <Input
            type="tel"
            inputMode="numeric"
            value={bankPhone}
            onChange={setBankPhone}
            disabled={Boolean(verification)}
            aria-label={t('cards.bankPhone')}
            data-testid="bind-phone"
          />
        </Form.Item>
        <Form.Item
          label={t('cards.code')}
          extra={
            <Button
              size="mini"
              color="primary"
              fill="outline"
              loading={busy && !verification}
              onClick={() => void sendCode()}
              disabled={busy}
              data-testid="bind-send-code"
            >
              {t('cards.sendCode')}
            </Button>
          }
        >
          <Input
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={6}
            value={code}
            onChange={setCode}
            disabled={!verification}
            placeholder={t('login.codePlaceholder')}
            aria-label={t('cards.code')}
            data-testid="bind-code"
          />
        </Form.Item>
      </Form>
      {verification && (
        <p className="muted" data-testid="bind-code-sent">
          {t('cards.codeSent', { phone: displayPhone(verification.phone) })}
        </p>
      )}
      {verification && <DemoSmsLink phone={verification.phone} />}
    </Page>
  );
}
