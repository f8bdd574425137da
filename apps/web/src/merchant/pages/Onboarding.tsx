/** Onboarding: the application form (the applicant becomes the owner), then the wait for operations' review. */
import { Button, Card, Descriptions, Form, Input, Result, Select, Space, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { normalizePhone } from '../../lib/phone.js';
import { useSession } from '../../session.js';
import { call, portal, type Merchant } from '../api.js';
import { InlineError } from '../components.js';
import { useMemberships, type Membership } from '../membership.js';
import { LanguageSwitch } from '../PortalApp.js';

/** Categories most small merchants pick (ISO 18245); the label is translated. */
const MCC_CODES = ['5411', '5499', '5812', '5814', '5311', '5912', '5942', '5999', '7230', '7011', '8299', '4121'];
/** The standard merchant discount rate offered at sign-up, in basis points (0.60 %); operations may change it. */
const STANDARD_FEE_RATE_BPS = 60;

interface ApplicationValues {
  legalName: string;
  displayName: string;
  mcc: string;
  contactName: string;
  contactPhone: string;
  contactEmail?: string;
  city: string;
}

function OnboardingFrame({ children }: { children: React.ReactNode }) {
  const { t } = useTranslation('merchant');
  const { signOut } = useSession();
  return (
    <main className="portal-onboarding">
      <header className="portal-onboarding-header">
        <div className="portal-brand">
          <span className="portal-brand-mark" aria-hidden="true">
            一卡
          </span>
          <span className="portal-brand-name">{t('app.title')}</span>
        </div>
        <Space>
          <LanguageSwitch />
          <Button type="text" onClick={() => void signOut()} data-testid="portal-sign-out">
            {t('header.signOut')}
          </Button>
        </Space>
      </header>
      {children}
    </main>
  );
}

export function Onboarding() {
  const { t } = useTranslation('merchant');
  const { reload, state } = useMemberships();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const hasMerchants = state.status === 'ready' && state.memberships.length > 0;

  async function apply(values: ApplicationValues) {
    setBusy(true);
    setError(null);
    try {
      const contactPhone = normalizePhone(values.contactPhone) ?? values.contactPhone.trim();
      await call(
        portal.POST('/v1/merchants/applications', {
          body: {
            legalName: values.legalName.trim(),
            displayName: values.displayName.trim(),
            mcc: values.mcc,
            contactName: values.contactName.trim(),
            contactPhone,
            ...(values.contactEmail?.trim() ? { contactEmail: values.contactEmail.trim() } : {}),
            city: values.city.trim(),
            feeRateBps: STANDARD_FEE_RATE_BPS,
          },
        }),
      );
      await reload();
      await navigate('/', { replace: true });
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  }

  return (
    <OnboardingFrame>
      <Card className="portal-onboarding-card" data-testid="onboarding">
        <Typography.Title level={2}>{t('onboarding.title')}</Typography.Title>
        <Typography.Paragraph type="secondary">{t('onboarding.subtitle')}</Typography.Paragraph>
        <Form<ApplicationValues>
          layout="vertical"
          onFinish={(values) => void apply(values)}
          data-testid="onboarding-form"
          scrollToFirstError
        >
          <Form.Item
            name="legalName"
            label={t('onboarding.legalName')}
            extra={t('onboarding.legalNameHint')}
            rules={[{ required: true, whitespace: true, min: 2, max: 100, message: t('onboarding.legalNameInvalid') }]}
          >
            <Input maxLength={100} data-testid="onboarding-legal-name" />
          </Form.Item>
          <Form.Item
            name="displayName"
            label={t('onboarding.displayName')}
            extra={t('onboarding.displayNameHint')}
            rules={[{ required: true, whitespace: true, max: 25, message: t('onboarding.displayNameInvalid') }]}
          >
            <Input maxLength={25} showCount data-testid="onboarding-display-name" />
          </Form.Item>
          <Form.Item
            name="mcc"
            label={t('onboarding.mcc')}
            rules={[{ required: true, message: t('onboarding.mccInvalid') }]}
          >
            <Select
              showSearch={{ optionFilterProp: 'label' }}
              placeholder={t('onboarding.mccPlaceholder')}
              options={MCC_CODES.map((code) => ({ value: code, label: `${code} · ${t(`mcc.${code}`)}` }))}
              data-testid="onboarding-mcc"
            />
          </Form.Item>
          <Space size="middle" className="portal-form-row">
            <Form.Item
              name="contactName"
              label={t('onboarding.contactName')}
              rules={[{ required: true, whitespace: true, max: 50, message: t('onboarding.contactNameInvalid') }]}
            >
              <Input maxLength={50} data-testid="onboarding-contact-name" />
            </Form.Item>
            <Form.Item
              name="contactPhone"
              label={t('onboarding.contactPhone')}
              rules={[
                {
                  required: true,
                  validator: async (_rule, value: string | undefined) => {
                    if (!normalizePhone(value ?? '')) throw new Error(t('onboarding.contactPhoneInvalid'));
                  },
                },
              ]}
            >
              <Input type="tel" inputMode="numeric" data-testid="onboarding-contact-phone" />
            </Form.Item>
          </Space>
          <Space size="middle" className="portal-form-row">
            <Form.Item
              name="contactEmail"
              label={t('onboarding.contactEmail')}
              rules={[{ type: 'email', message: t('onboarding.contactEmailInvalid') }]}
            >
              <Input type="email" maxLength={200} data-testid="onboarding-contact-email" />
            </Form.Item>
            <Form.Item
              name="city"
              label={t('onboarding.city')}
              rules={[{ required: true, whitespace: true, max: 15, message: t('onboarding.cityInvalid') }]}
            >
              <Input maxLength={15} data-testid="onboarding-city" />
            </Form.Item>
          </Space>
          <Typography.Paragraph type="secondary" data-testid="onboarding-fee">
            {t('onboarding.fee', { rate: (STANDARD_FEE_RATE_BPS / 100).toFixed(2) })}
          </Typography.Paragraph>
          <InlineError error={error} testId="onboarding-error" />
          <Space>
            <Button type="primary" htmlType="submit" size="large" loading={busy} data-testid="onboarding-submit">
              {t('onboarding.submit')}
            </Button>
            {hasMerchants && (
              <Link to="/" data-testid="onboarding-back">
                {t('common.back')}
              </Link>
            )}
          </Space>
        </Form>
      </Card>
    </OnboardingFrame>
  );
}

/** A merchant not (or no longer) approved: what operations decided, and what the owner can do. */
export function PendingReview({ membership }: { membership: Membership }) {
  const { t } = useTranslation('merchant');
  const { reload, state, choose } = useMemberships();
  const [merchant, setMerchant] = useState<Merchant | null>(null);
  const [checking, setChecking] = useState(false);

  useEffect(() => {
    // The reason operations gave, when the server lets a not-approved merchant read itself.
    let current = true;
    call(portal.GET('/v1/merchant')).then(
      (data) => {
        if (current) setMerchant(data);
      },
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [membership.merchantId]);

  const status = membership.status;
  const others =
    state.status === 'ready' ? state.memberships.filter((item) => item.merchantId !== membership.merchantId) : [];
  return (
    <OnboardingFrame>
      <Card className="portal-onboarding-card">
        <Result
          status={status === 'pending' ? 'info' : 'warning'}
          title={<span data-testid="review-title">{t(`review.${status}.title`)}</span>}
          subTitle={t(`review.${status}.text`, { name: membership.displayName })}
          data-testid="review-status"
          data-status={status}
          extra={
            <Space wrap>
              <Button
                type="primary"
                loading={checking}
                onClick={() => {
                  setChecking(true);
                  void reload().finally(() => setChecking(false));
                }}
                data-testid="review-refresh"
              >
                {t('review.refresh')}
              </Button>
              {status === 'rejected' && (
                <Link to="/apply" data-testid="review-apply-again">
                  {t('review.applyAgain')}
                </Link>
              )}
              {others.map((other) => (
                <Button key={other.merchantId} onClick={() => choose(other.merchantId)}>
                  {t('review.switchTo', { name: other.displayName })}
                </Button>
              ))}
            </Space>
          }
        />
        {merchant && (
          <Descriptions column={1} bordered size="small" data-testid="review-details">
            <Descriptions.Item label={t('onboarding.legalName')}>{merchant.legalName}</Descriptions.Item>
            <Descriptions.Item label={t('onboarding.displayName')}>{merchant.displayName}</Descriptions.Item>
            <Descriptions.Item label={t('onboarding.mcc')}>{merchant.mcc}</Descriptions.Item>
            <Descriptions.Item label={t('onboarding.city')}>{merchant.city}</Descriptions.Item>
            {merchant.statusReason && (
              <Descriptions.Item label={t('review.reason')}>{merchant.statusReason}</Descriptions.Item>
            )}
          </Descriptions>
        )}
      </Card>
    </OnboardingFrame>
  );
}
