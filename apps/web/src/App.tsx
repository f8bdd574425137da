/** Routes of the wallet under `/`, the sign-in guard and the bottom tab bar. */
import { ConfigProvider, TabBar } from 'antd-mobile';
import enUS from 'antd-mobile/es/locales/en-US';
import zhCN from 'antd-mobile/es/locales/zh-CN';
import { AppOutline, BillOutline, UserOutline } from 'antd-mobile-icons';
import { lazy, Suspense, type ReactNode } from 'react';
import { useTranslation } from 'react-i18next';
import { BrowserRouter, Navigate, Outlet, Route, Routes, useLocation, useNavigate } from 'react-router';
import { LoadError, Loading } from './components/common.js';
import { Home } from './screens/Home.js';
import { Login } from './screens/Login.js';
import { SessionProvider, useSession } from './session.js';

// Sign-in and home load with the app; every other screen is its own chunk, fetched when first opened
// (the bill's chunk carries ECharts).
const Bill = lazy(() => import('./screens/Bill.js').then((module) => ({ default: module.Bill })));
const Cards = lazy(() => import('./screens/Cards.js').then((module) => ({ default: module.Cards })));
const BindCard = lazy(() => import('./screens/Cards.js').then((module) => ({ default: module.BindCard })));
const History = lazy(() => import('./screens/History.js').then((module) => ({ default: module.History })));
const TopUp = lazy(() => import('./screens/MoveMoney.js').then((module) => ({ default: module.TopUp })));
const Withdraw = lazy(() => import('./screens/MoveMoney.js').then((module) => ({ default: module.Withdraw })));
const Order = lazy(() => import('./screens/Order.js').then((module) => ({ default: module.Order })));
const RequestMoney = lazy(() => import('./screens/Request.js').then((module) => ({ default: module.RequestMoney })));
const PayRequest = lazy(() => import('./screens/Request.js').then((module) => ({ default: module.PayRequest })));
const SetPin = lazy(() => import('./screens/SetPin.js').then((module) => ({ default: module.SetPin })));
const Settings = lazy(() => import('./screens/Settings.js').then((module) => ({ default: module.Settings })));
const ChangePin = lazy(() => import('./screens/Settings.js').then((module) => ({ default: module.ChangePin })));
const Totp = lazy(() => import('./screens/Settings.js').then((module) => ({ default: module.Totp })));
const Passkeys = lazy(() => import('./screens/Settings.js').then((module) => ({ default: module.Passkeys })));
const Devices = lazy(() => import('./screens/Settings.js').then((module) => ({ default: module.Devices })));
const Verification = lazy(() => import('./screens/Identity.js').then((module) => ({ default: module.Verification })));
const FreezeAccount = lazy(() => import('./screens/Identity.js').then((module) => ({ default: module.FreezeAccount })));
const Transfer = lazy(() => import('./screens/Transfer.js').then((module) => ({ default: module.Transfer })));
const Scan = lazy(() => import('./screens/Scan.js').then((module) => ({ default: module.Scan })));
const Checkout = lazy(() => import('./screens/Checkout.js').then((module) => ({ default: module.Checkout })));
const PayCode = lazy(() => import('./screens/PayCode.js').then((module) => ({ default: module.PayCode })));

function RequireSignIn() {
  const { state, refresh } = useSession();
  const location = useLocation();
  if (state.status === 'loading') return <Loading testId="session-loading" />;
  if (state.status === 'error')
    return <LoadError error={state.error} onRetry={() => void refresh()} testId="session-error" />;
  if (state.status === 'signed-out') return <Navigate to="/login" replace state={{ from: location.pathname }} />;
  return <Outlet />;
}

/** Sign-in waits for the session check, so a signed-in visitor is not shown the form for a moment. */
function SessionKnown({ children }: { children: ReactNode }) {
  const { state } = useSession();
  return state.status === 'loading' ? <Loading testId="session-loading" /> : children;
}

const tabs = [
  { key: '/', icon: <AppOutline />, label: 'tabs.home' },
  { key: '/history', icon: <BillOutline />, label: 'tabs.history' },
  { key: '/settings', icon: <UserOutline />, label: 'tabs.me' },
] as const;

function TabLayout() {
  const { t } = useTranslation();
  const location = useLocation();
  const navigate = useNavigate();
  return (
    <div className="tab-layout">
      <div className="tab-content">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </div>
      <TabBar activeKey={location.pathname} onChange={(key) => void navigate(key)} className="tab-bar" safeArea>
        {tabs.map((tab) => (
          <TabBar.Item
            key={tab.key}
            icon={tab.icon}
            title={<span data-testid={`tab-${tab.key === '/' ? 'home' : tab.key.slice(1)}`}>{t(tab.label)}</span>}
          />
        ))}
      </TabBar>
    </div>
  );
}

export function App() {
  const { i18n } = useTranslation();
  return (
    <ConfigProvider locale={i18n.language === 'en' ? enUS : zhCN}>
      <SessionProvider>
        <BrowserRouter>
          <Suspense fallback={<Loading />}>
            <Routes>
              <Route
                path="/login"
                element={
                  <SessionKnown>
                    <Login />
                  </SessionKnown>
                }
              />
              <Route element={<RequireSignIn />}>
                <Route element={<TabLayout />}>
                  <Route index element={<Home />} />
                  <Route path="history" element={<History />} />
                  <Route path="settings" element={<Settings />} />
                </Route>
                <Route path="pin/setup" element={<SetPin />} />
                <Route path="cards" element={<Cards />} />
                <Route path="cards/bind" element={<BindCard />} />
                <Route path="top-up" element={<TopUp />} />
                <Route path="withdraw" element={<Withdraw />} />
                <Route path="orders/:orderId" element={<Order />} />
                <Route path="transfer" element={<Transfer />} />
                <Route path="scan" element={<Scan />} />
                <Route path="pay-code" element={<PayCode />} />
                <Route path="checkout/:orderId" element={<Checkout />} />
                <Route path="request" element={<RequestMoney />} />
                <Route path="pay/:requestId" element={<PayRequest />} />
                <Route path="bill" element={<Bill />} />
                <Route path="bill/:month" element={<Bill />} />
                <Route path="settings/pin" element={<ChangePin />} />
                <Route path="settings/totp" element={<Totp />} />
                <Route path="settings/passkeys" element={<Passkeys />} />
                <Route path="settings/devices" element={<Devices />} />
                <Route path="settings/kyc" element={<Verification />} />
                <Route path="settings/freeze" element={<FreezeAccount />} />
              </Route>
              <Route path="*" element={<Navigate to="/" replace />} />
            </Routes>
          </Suspense>
        </BrowserRouter>
      </SessionProvider>
    </ConfigProvider>
  );
}
