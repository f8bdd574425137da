/**
 * The merchant portal under `/merchant`: sign-in (the wallet's SMS code flow), onboarding for users who are
 * no merchant's staff yet, a waiting page while operations review the application, and the portal itself
 * (side menu by role, merchant switcher, language switch).
 */
import {
  ApiOutlined,
  BankOutlined,
  DashboardOutlined,
  GlobalOutlined,
  KeyOutlined,
  LogoutOutlined,
  QrcodeOutlined,
  ShopOutlined,
  TeamOutlined,
  TransactionOutlined,
} from '@ant-design/icons';
import { App as AntApp, Button, ConfigProvider, Layout, Menu, Select, Space, Tag, Typography } from 'antd';
import enUS from 'antd/locale/en_US';
import zhCN from 'antd/locale/zh_CN';
import { lazy, Suspense, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation, useNavigate } from 'react-router';
import { setLanguage } from '../i18n.js';
import { SessionProvider, useSession } from '../session.js';
import { PageError, PageLoading } from './components.js';
import { may, MembershipProvider, useMemberships, type Area } from './membership.js';
import { Onboarding, PendingReview } from './pages/Onboarding.js';
import { SignIn } from './pages/SignIn.js';

const Dashboard = lazy(() => import('./pages/Dashboard.js').then((module) => ({ default: module.Dashboard })));
const Transactions = lazy(() => import('./pages/Transactions.js').then((module) => ({ default: module.Transactions })));
const QrCodes = lazy(() => import('./pages/QrCodes.js').then((module) => ({ default: module.QrCodes })));
const Cashier = lazy(() => import('./pages/Cashier.js').then((module) => ({ default: module.Cashier })));
const Settlements = lazy(() => import('./pages/Settlements.js').then((module) => ({ default: module.Settlements })));
const ApiKeys = lazy(() => import('./pages/ApiKeys.js').then((module) => ({ default: module.ApiKeys })));
const Webhooks = lazy(() => import('./pages/Webhooks.js').then((module) => ({ default: module.Webhooks })));
const Team = lazy(() => import('./pages/Team.js').then((module) => ({ default: module.Team })));

const BRAND = '#0f766e';

export function LanguageSwitch() {
  const { t, i18n } = useTranslation('merchant');
  const other = i18n.language === 'en' ? 'zh-CN' : 'en';
  return (
    <Button
      type="text"
      icon={<GlobalOutlined />}
      aria-label={t('app.switchLanguageLabel')}
      onClick={() => void setLanguage(other)}
      data-testid="portal-language"
    >
      {t('app.switchLanguage')}
    </Button>
  );
}

function RequireSignIn() {
  const { state, refresh } = useSession();
  const location = useLocation();
  if (state.status === 'loading') return <PageLoading testId="portal-session-loading" />;
  if (state.status === 'error') return <PageError error={state.error} onRetry={() => void refresh()} />;
  if (state.status === 'signed-out') return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return (
    <MembershipProvider>
      <Outlet />
    </MembershipProvider>
  );
}

/** No membership: apply. A merchant not approved yet: wait. Approved: the portal. */
function RequireMerchant() {
  const { state, reload } = useMemberships();
  if (state.status === 'loading') return <PageLoading testId="portal-memberships-loading" />;
  if (state.status === 'error') return <PageError error={state.error} onRetry={() => void reload()} />;
  if (!state.active) return <Navigate to="/apply" replace />;
  if (state.active.status !== 'approved') return <PendingReview membership={state.active} />;
  return <PortalLayout />;
}

interface MenuEntry {
  path: string;
  area: Area;
  label: string;
  icon: ReactNode;
}

const MENU: MenuEntry[] = [
  { path: '/', area: 'dashboard', label: 'nav.dashboard', icon: <DashboardOutlined /> },
  { path: '/transactions', area: 'transactions', label: 'nav.transactions', icon: <TransactionOutlined /> },
  { path: '/cashier', area: 'cashier', label: 'nav.cashier', icon: <ShopOutlined /> },
  { path: '/qr-codes', area: 'qr', label: 'nav.qr', icon: <QrcodeOutlined /> },
  { path: '/settlements', area: 'settlements', label: 'nav.settlements', icon: <BankOutlined /> },
  { path: '/api-keys', area: 'apiKeys', label: 'nav.apiKeys', icon: <KeyOutlined /> },
  { path: '/webhooks', area: 'webhooks', label: 'nav.webhooks', icon: <ApiOutlined /> },
  { path: '/team', area: 'team', label: 'nav.team', icon: <TeamOutlined /> },
];

function PortalLayout() {
  const { t } = useTranslation('merchant');
  const { state, choose } = useMemberships();
  const { signOut } = useSession();
  const location = useLocation();
  const navigate = useNavigate();
  if (state.status !== 'ready' || !state.active) return null;
  const { active, memberships } = state;
  const entries = MENU.filter((entry) => may(active.role, entry.area));
  const selected = entries.find((entry) => entry.path !== '/' && location.pathname.startsWith(entry.path))?.path ?? '/';

  return (
    <Layout className="portal-layout" data-testid="portal-layout">
      <Layout.Sider breakpoint="lg" collapsedWidth={64} width={208} theme="light" className="portal-sider">
        <div className="portal-brand" aria-label={t('app.title')}>
          <span className="portal-brand-mark" aria-hidden="true">
            一卡
          </span>
          <span className="portal-brand-name">{t('app.short')}</span>
        </div>
        <Menu
          mode="inline"
          selectedKeys={[selected]}
          aria-label={t('nav.label')}
          items={entries.map((entry) => ({
            key: entry.path,
            icon: entry.icon,
            label: <span data-testid={`nav-${entry.area}`}>{t(entry.label)}</span>,
          }))}
          onClick={({ key }) => void navigate(key)}
        />
      </Layout.Sider>
      <Layout>
        <Layout.Header className="portal-header">
          <Space size="middle">
            {memberships.length > 1 ? (
              <Select
                value={active.merchantId}
                onChange={(merchantId: string) => {
                  choose(merchantId);
                  void navigate('/');
                }}
                options={memberships.map((membership) => ({
                  value: membership.merchantId,
                  label: membership.displayName,
                }))}
                style={{ minWidth: 200 }}
                aria-label={t('header.merchant')}
                data-testid="portal-merchant-select"
              />
            ) : (
              <Typography.Text strong data-testid="portal-merchant-name">
                {active.displayName}
              </Typography.Text>
            )}
            <Tag color="cyan" data-testid="portal-role" data-role={active.role}>
              {t(`roles.${active.role}`)}
            </Tag>
          </Space>
          <Space>
            <LanguageSwitch />
            <Button type="text" icon={<LogoutOutlined />} onClick={() => void signOut()} data-testid="portal-sign-out">
              {t('header.signOut')}
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content className="portal-content">
          {/* Remount pages when the merchant changes, so nothing of the previous one stays on screen. */}
          <Suspense fallback={<PageLoading />} key={active.merchantId}>
            <Outlet />
          </Suspense>
        </Layout.Content>
      </Layout>
    </Layout>
  );
}

/** A page only the given area's roles may open; others land on their first page. */
function Allowed({ area, children }: { area: Area; children: ReactNode }) {
  const { state } = useMemberships();
  if (state.status !== 'ready' || !state.active) return null;
  if (may(state.active.role, area)) return children;
  return <Navigate to={state.active.role === 'cashier' ? '/cashier' : '/'} replace />;
}

function Home() {
  const { state } = useMemberships();
  if (state.status === 'ready' && state.active?.role === 'cashier') return <Navigate to="/cashier" replace />;
  return (
    <Allowed area="dashboard">
      <Dashboard />
    </Allowed>
  );
}

export function PortalApp() {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider
      locale={i18n.language === 'en' ? enUS : zhCN}
      theme={{
        token: { colorPrimary: BRAND, borderRadius: 6 },
        components: { Menu: { itemSelectedBg: '#e6f4f1', itemSelectedColor: BRAND } },
      }}
    >
      <AntApp>
        <SessionProvider>
          <BrowserRouter basename="/merchant">
            <Routes>
              <Route path="/login" element={<SignIn />} />
              <Route element={<RequireSignIn />}>
                <Route path="/apply" element={<Onboarding />} />
                <Route element={<RequireMerchant />}>
                  <Route index element={<Home />} />
                  {(
                    [
                      ['transactions', 'transactions', <Transactions key="t" />],
                      ['cashier', 'cashier', <Cashier key="c" />],
                      ['qr-codes', 'qr', <QrCodes key="q" />],
                      ['settlements', 'settlements', <Settlements key="s" />],
                      ['api-keys', 'apiKeys', <ApiKeys key="a" />],
                      ['webhooks', 'webhooks', <Webhooks key="w" />],
                      ['team', 'team', <Team key="m" />],
                    ] as const
                  ).map(([path, area, element]) => (
                    <Route key={path} path={path} element={<Allowed area={area}>{element}</Allowed>} />
                  ))}
                </Route>
              </Route>
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </BrowserRouter>
        </SessionProvider>
      </AntApp>
    </ConfigProvider>
  );
}
