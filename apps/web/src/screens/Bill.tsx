/** The monthly bill: income, spending and spending by category with a chart (ECharts, loaded on demand). */
import { Button } from 'antd-mobile';
import { LeftOutline, RightOutline } from 'antd-mobile-icons';
import { lazy, Suspense, useMemo } from 'react';
import { useTranslation } from 'react-i18next';
import { useNavigate, useParams } from 'react-router';
import { Empty, LoadError, Loading, Page } from '../components/common.js';
import { call, yika } from '../lib/api.js';
import { useFormat } from '../lib/format.js';
import { useAsync } from '../lib/use-async.js';

const SPENDING = new Set(['withdrawal', 'p2p_out']);

const PieChart = lazy(() => import('../components/PieChart.js'));

function currentMonth(): string {
  const now = new Date();
  return `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}`;
}

function shiftMonth(month: string, delta: number): string {
  const [year = 1970, monthNumber = 1] = month.split('-').map(Number);
  const index = year * 12 + (monthNumber - 1) + delta;
  return `${Math.floor(index / 12)}-${String((index % 12) + 1).padStart(2, '0')}`;
}

export function Bill() {
  const { t } = useTranslation();
  const navigate = useNavigate();
  const format = useFormat();
  const params = useParams();
  const month = /^\d{4}-\d{2}$/.test(params.month ?? '') ? (params.month as string) : currentMonth();
  const bill = useAsync(() => call(yika.GET('/v1/wallet/bills/{month}', { params: { path: { month } } })), [month]);
  const [year, monthNumber] = month.split('-');
  const isCurrent = month >= currentMonth();

  const chartData = useMemo(
    () =>
      bill.status === 'ready'
        ? bill.data.byCategory
            // Spending categories only: income (top-ups, money received) is the other total.
            .filter((item) => SPENDING.has(item.category) && item.amount !== 0)
            .map((item) => ({
              name: t(`movement.${item.category}`, { defaultValue: item.category }),
              value: Math.abs(item.amount),
              label: `${t(`movement.${item.category}`, { defaultValue: item.category })} ${format.money(Math.abs(item.amount))}`,
            }))
        : [],
    [bill, t, format],
  );

  return (
    <Page title={t('bill.title')} testId="screen-bill" back="/history">
      <div className="month-nav">
        <Button
          fill="none"
          aria-label={t('bill.prev')}
          onClick={() => void navigate(`/bill/${shiftMonth(month, -1)}`)}
          data-testid="bill-prev"
        >
          <LeftOutline />
        </Button>
        <h2 className="section-title" data-testid="bill-month">
          {t('bill.month', { year, month: Number(monthNumber) })}
        </h2>
        <Button
          fill="none"
          aria-label={t('bill.nextMonth')}
          disabled={isCurrent}
          onClick={() => void navigate(`/bill/${shiftMonth(month, 1)}`)}
          data-testid="bill-next"
        >
          <RightOutline />
        </Button>
      </div>
      {bill.status === 'loading' && <Loading testId="bill-loading" />}
      {bill.status === 'error' && <LoadError error={bill.error} onRetry={bill.reload} testId="bill-error" />}
      {bill.status === 'ready' && (
        <>
          <div className="bill-totals">
            <div className="total">
              <span className="muted">{t('bill.income')}</span>
              <strong className="amount in" data-testid="bill-income">
                {format.money(bill.data.income)}
              </strong>
            </div>
            <div className="total">
              <span className="muted">{t('bill.spending')}</span>
              <strong className="amount out" data-testid="bill-spending">
                {format.money(bill.data.spending)}
              </strong>
            </div>
          </div>
          <p className="muted bill-balances" data-testid="bill-balances">
            {t('bill.opening')} {format.money(bill.data.openingBalance)} · {t('bill.closing')}{' '}
            {format.money(bill.data.closingBalance)}
          </p>
          <h3 className="section-title">{t('bill.byCategory')}</h3>
          {chartData.length === 0 ? (
            <Empty title={t('bill.empty')} testId="bill-empty" />
          ) : (
            <Suspense fallback={<Loading testId="chart-loading" />}>
              <PieChart data={chartData} label={t('bill.byCategory')} />
            </Suspense>
          )}
        </>
      )}
    </Page>
  );
}
