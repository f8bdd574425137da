/** Request money: the server has no payment-request API yet, so this says so and offers the workaround. */
import { Result } from 'antd-mobile';
import { useTranslation } from 'react-i18next';
import { Page } from '../components/common.js';
import { displayPhone } from '../lib/phone.js';
import { useProfile } from '../session.js';

export function RequestMoney() {
  const { t } = useTranslation();
  const profile = useProfile();
  return (
    <Page title={t('request.title')} testId="screen-request">
      <Result
        status="info"
        title={<span data-testid="request-placeholder">{t('request.placeholder')}</span>}
        description={t('request.detail')}
      />
      <section className="payee-card">
        <span className="muted">{t('request.myPhone')}</span>
        <strong className="payee-name" data-testid="request-my-phone">
          {displayPhone(profile.phone)}
        </strong>
      </section>
    </Page>
  );
}
