/** Today's collections and count, the last 30 business days as a chart, and the latest payments. */
import { Card, Col, Row, Statistic, Table } from 'antd';
import { lazy, Suspense } from 'react';
import { useTranslation } from 'react-i18next';
import { Link } from 'react-router';
import { useAsync } from '../../lib/use-async.js';
import { call, portal } from '../api.js';
import { EmptyState, formatDateTime, Money, PageError, PageLoading, PageTitle } from '../components.js';
import { listPayments } from '../payments.js';

const DailyChart = lazy(() => import('../DailyChart.js'));
const SUMMARY_DAYS = 30;
const RECENT_PAYMENTS = 5;

export function Dashboard() {
  const { t, i18n } = useTranslation('merchant');
  const summary = useAsync(
    () => call(portal.GET('/v1/merchant/summary', { params: { query: { days: SUMMARY_DAYS } } })),
    [],
  );
  const recent = useAsync(() => listPayments({ limit: RECENT_PAYMENTS }), []);

  const days = summary.status === 'ready' ? summary.data.days : [];
  const totals = days.reduce(
    (sum, day) => ({
      amount: sum.amount + day.amount,
      count: sum.count + day.count,
      refunded: sum.refunded + day.refunded,
    }),
    { amount: 0, count: 0, refunded: 0 },
  );

  return (
    <div data-testid="page-dashboard">
      <PageTitle title={t('dashboard.title')} testId="dashboard-title" />
      {summary.status === 'loading' && <PageLoading testId="dashboard-loading" />}
      {summary.status === 'error' && (
        <PageError error={summary.error} onRetry={summary.reload} testId="dashboard-error" />
      )}
      {summary.status === 'ready' && (
        <>
          <Row gutter={[16, 16]}>
            <Col xs={24} sm={12} xl={6}>
              <Card>
                <Statistic
                  title={t('dashboard.todayAmount')}
                  valueRender={() => <Money fen={summary.data.today.amount} testId="dashboard-today-amount" />}
                />
              </Card>
            </Col>
            <Col xs={24} sm={12} xl={6}>
              <Card>
                <Statistic
                  title={t('dashboard.todayCount')}
                  value={summary.data.today.count}
                  valueRender={(node) => <span data-testid="dashboard-today-count">{node}</span>}
                />
              </Card>
            </Col>
            <Col xs={24} sm={12} xl={6}>
              <Card>
                <Statistic
                  title={t('dashboard.periodAmount', { days: SUMMARY_DAYS })}
                  valueRender={() => <Money fen={totals.amount} testId="dashboard-period-amount" />}
                />
              </Card>
            </Col>
            <Col xs={24} sm={12} xl={6}>
              <Card>
                <Statistic
                  title={t('dashboard.periodRefunded', { days: SUMMARY_DAYS })}
                  valueRender={() => <Money fen={totals.refunded} testId="dashboard-period-refunded" />}
                />
              </Card>
            </Col>
          </Row>
          <Card title={t('dashboard.chartTitle', { days: SUMMARY_DAYS })} className="portal-section">
            {totals.count === 0 && totals.amount === 0 ? (
              <EmptyState text={t('dashboard.chartEmpty')} testId="dashboard-chart-empty" />
            ) : (
              <Suspense fallback={<PageLoading />}>
                <DailyChart
                  days={days}
                  label={t('dashboard.chartTitle', { days: SUMMARY_DAYS })}
                  amountName={t('dashboard.amount')}
                  countName={t('dashboard.count')}
                />
              </Suspense>
            )}
          </Card>
        </>
      )}
      <Card
        title={t('dashboard.recent')}
        className="portal-section"
        extra={<Link to="/transactions">{t('dashboard.allTransactions')}</Link>}
      >
        {recent.status === 'error' ? (
          <PageError error={recent.error} onRetry={recent.reload} testId="dashboard-recent-error" />
        ) : (
          <Table
            size="small"
            rowKey="id"
            loading={recent.status === 'loading'}
            pagination={false}
            dataSource={recent.status === 'ready' ? recent.data.items : []}
            locale={{ emptyText: <EmptyState testId="dashboard-recent-empty" text={t('transactions.empty')} /> }}
            onRow={(payment) =>
              ({ 'data-testid': `dashboard-payment-${payment.id}` }) as React.HTMLAttributes<HTMLElement>
            }
            columns={[
              {
                title: t('transactions.time'),
                dataIndex: 'createdAt',
                render: (value: string) => formatDateTime(value, i18n.language),
              },
              {
                title: t('transactions.method'),
                dataIndex: 'method',
                render: (value: string) => t(`methods.${value}`),
              },
              {
                title: t('transactions.amount'),
                dataIndex: 'amount',
                align: 'right',
                render: (value: number) => <Money fen={value} />,
              },
            ]}
          />
        )}
      </Card>
    </div>
  );
}
