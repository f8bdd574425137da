/** Home: the balance, quick actions and the latest movements. */
import { Button, Grid, NoticeBar } from 'antd-mobile';
import {
  BankcardOutline,
  BillOutline,
  EyeInvisibleOutline,
  EyeOutline,
  HandPayCircleOutline,
  PayCircleOutline,
  ReceiptOutline,
  ScanningOutline,
  SendOutline,
  TransportQRcodeOutline,
} from 'antd-mobile-icons';
import { useState, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { Link, useNavigate } from 'react-router';
import { Empty, LoadError, Loading } from '../components/common.js';
import { LanguageToggle } from '../components/LanguageToggle.js';
import { MovementList } from '../components/MovementList.js';
import { useFormat } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';
import { loadBalance, loadCards, loadMovements } from '../lib/wallet.js';
import { useProfile } from '../session.js';

const RECENT_LIMIT = 5;

export function Home() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const profile = useProfile();
  const [hidden, setHidden] = useState(false);
  const balance = useAsync(loadBalance, []);
  const cards = useAsync(loadCards, []);
  const recent = useAsync(() => loadMovements({ limit: RECENT_LIMIT }), []);

  const actions: { key: string; icon: ReactNode; label: string; to: string }[] = [
    { key: 'top-up', icon: <PayCircleOutline />, label: t('home.topUp'), to: '/top-up' },
    { key: 'withdraw', icon: <HandPayCircleOutline />, label: t('home.withdraw'), to: '/withdraw' },
    { key: 'transfer', icon: <SendOutline />, label: t('home.transfer'), to: '/transfer' },
    { key: 'request', icon: <ReceiptOutline />, label: t('home.request'), to: '/request' },
    { key: 'cards', icon: <BankcardOutline />, label: t('home.cards'), to: '/cards' },
    { key: 'bill', icon: <BillOutline />, label: t('home.bill'), to: '/bill' },
    { key: 'scan', icon: <ScanningOutline />, label: t('scan.entry'), to: '/scan' },
    { key: 'pay-code', icon: <TransportQRcodeOutline />, label: t('paycode.entry'), to: '/pay-code' },
  ];

  return (
    <div className="page home" data-testid="screen-home">
      <header className="home-header">
        <span className="brand">{t('app.title')}</span>
        <LanguageToggle />
      </header>
      <main className="page-body">
        {profile.status === 'frozen' && (
          <NoticeBar color="error" content={t('home.frozen')} data-testid="home-frozen" wrap />
        )}
        <section className="balance-card" aria-labelledby="balance-label">
          <div className="balance-row">
            <span id="balance-label">{t('home.balance')}</span>
            <button
              type="button"
              className="icon-button"
              aria-label={hidden ? t('home.show') : t('home.hide')}
              onClick={() => setHidden(!hidden)}
              data-testid="balance-toggle"
            >
              {hidden ? <EyeInvisibleOutline /> : <EyeOutline />}
            </button>
          </div>
          {balance.status === 'loading' && <div className="balance skeleton" data-testid="balance-loading" />}
          {balance.status === 'error' && (
            <LoadError error={balance.error} onRetry={balance.reload} testId="balance-error" />
          )}
          {balance.status === 'ready' && (
            <>
              <div className="balance" data-testid="balance" data-fen={balance.data.available}>
                {hidden ? '¥ ****' : format.money(balance.data.available)}
              </div>
              {balance.data.held > 0 && (
                <div className="held" data-testid="balance-held" data-fen={balance.data.held}>
                  {t('home.held', { amount: hidden ? '****' : format.money(balance.data.held) })}
                </div>
              )}
            </>
          )}
        </section>

        <Grid columns={3} gap={8} className="actions">
          {actions.map((action) => (
            <Grid.Item key={action.key}>
              <Link to={action.to} className="action" data-testid={`action-${action.key}`}>
                <span className="action-icon" aria-hidden="true">
                  {action.icon}
                </span>
                <span>{action.label}</span>
              </Link>
            </Grid.Item>
          ))}
        </Grid>

        {cards.status === 'ready' && cards.data.length === 0 && (
          <div className="hint-card" data-testid="home-no-card">
            <span>{t('home.noCard')}</span>
            <Button
              size="small"
              color="primary"
              onClick={() => void navigate('/cards/bind')}
              data-testid="home-bind-card"
            >
              {t('home.bindNow')}
            </Button>
          </div>
        )}
        {!profile.pinSet && (
          <div className="hint-card" data-testid="home-no-pin">
            <span>{t('home.noPin')}</span>
            <Button
              size="small"
              fill="outline"
              color="primary"
              onClick={() => void navigate('/pin/setup')}
              data-testid="home-set-pin"
            >
              {t('home.setPinNow')}
            </Button>
          </div>
        )}

        <section className="recent" aria-labelledby="recent-title">
          <div className="section-head">
            <h2 id="recent-title" className="section-title">
              {t('home.recent')}
            </h2>
            <Link to="/history" data-testid="home-all-history">
              {t('home.all')}
            </Link>
          </div>
          {recent.status === 'loading' && <Loading testId="recent-loading" />}
          {recent.status === 'error' && (
            <LoadError error={recent.error} onRetry={recent.reload} testId="recent-error" />
          )}
          {recent.status === 'ready' &&
            (recent.data.movements.length === 0 ? (
              <Empty testId="recent-empty" />
            ) : (
              <MovementList movements={recent.data.movements} />
            ))}
        </section>
      </main>
    </div>
  );
}
