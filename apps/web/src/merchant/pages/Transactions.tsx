/** Payments with filters, cursor paging and CSV export; refunds (full or partial) from a payment's drawer. */
import { DownloadOutlined, ReloadOutlined } from '@ant-design/icons';
import { newIdempotencyKey } from '@yika/sdk';
import { App, Button, Card, DatePicker, Descriptions, Drawer, Form, Input, Select, Space, Table, Tag } from 'antd';
import { useMemo, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { fenToJson, fenToYuanText, parseYuan } from '../../lib/money.js';
import { useAsync } from '../../lib/use-async.js';
import { call, fetchFile, portal, saveBlob } from '../api.js';
import { EmptyState, formatDateTime, InlineError, Money, PageError, PageTitle, problemText } from '../components.js';
import { may, useActiveMembership } from '../membership.js';
import {
  listPayments,
  PAGE_SIZE,
  PAYMENT_METHODS,
  PAYMENT_STATUSES,
  paymentsQuery,
  type PaymentFilters,
  type PaymentRow,
} from '../payments.js';

export function Transactions() {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const membership = useActiveMembership();
  const [filters, setFilters] = useState<PaymentFilters>({});
  // Cursors of the pages before the current one, so "previous" needs no backwards cursor from the server.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const page = useAsync(() => listPayments({ ...filters, cursor }), [filters, cursor]);
  const [open, setOpen] = useState<PaymentRow | null>(null);
  const [exporting, setExporting] = useState(false);

  function applyFilters(next: PaymentFilters) {
    setFilters(next);
    setCursors([null]);
  }

  async function exportCsv() {
    setExporting(true);
    try {
      const blob = await fetchFile(`/v1/merchant/payments/export.csv${paymentsQuery(filters)}`);
      saveBlob(blob, `yika-payments-${filters.from ?? 'all'}-${filters.to ?? 'now'}.csv`);
    } catch (error) {
      void message.error(problemText(t, error));
    } finally {
      setExporting(false);
    }
  }

  return (
    <div data-testid="page-transactions">
      <PageTitle
        title={t('transactions.title')}
        testId="transactions-title"
        extra={
          <>
            <Button icon={<ReloadOutlined />} onClick={page.reload} data-testid="transactions-reload">
              {t('common.refresh')}
            </Button>
            <Button
              icon={<DownloadOutlined />}
              loading={exporting}
              onClick={() => void exportCsv()}
              data-testid="transactions-export"
            >
              {t('transactions.export')}
            </Button>
          </>
        }
      />
      <Card className="portal-filters">
        <Form
          layout="inline"
          onFinish={(values: { range?: unknown } & Pick<PaymentFilters, 'status' | 'method'>) =>
            applyFilters({ ...filters, status: values.status, method: values.method })
          }
          data-testid="transactions-filters"
        >
          <Form.Item label={t('transactions.dates')} name="range">
            <DatePicker.RangePicker
              allowEmpty={[true, true]}
              onChange={(_values, [from, to]) =>
                applyFilters({ ...filters, from: from || undefined, to: to || undefined })
              }
              aria-label={t('transactions.dates')}
              data-testid="transactions-filter-dates"
            />
          </Form.Item>
          <Form.Item label={t('transactions.status')} name="status">
            <Select
              allowClear
              style={{ width: 140 }}
              placeholder={t('transactions.all')}
              options={PAYMENT_STATUSES.map((status) => ({ value: status, label: t(`paymentStatus.${status}`) }))}
              aria-label={t('transactions.status')}
              data-testid="transactions-filter-status"
            />
          </Form.Item>
          <Form.Item label={t('transactions.method')} name="method">
            <Select
              allowClear
              style={{ width: 160 }}
              placeholder={t('transactions.all')}
              options={PAYMENT_METHODS.map((method) => ({ value: method, label: t(`methods.${method}`) }))}
              aria-label={t('transactions.method')}
              data-testid="transactions-filter-method"
            />
          </Form.Item>
          <Form.Item>
            <Button type="primary" htmlType="submit" data-testid="transactions-filter-apply">
              {t('transactions.apply')}
            </Button>
          </Form.Item>
        </Form>
      </Card>
      <Card className="portal-section">
        {page.status === 'error' ? (
          <PageError error={page.error} onRetry={page.reload} testId="transactions-error" />
        ) : (
          <>
            <Table<PaymentRow>
              rowKey="id"
              loading={page.status === 'loading'}
              dataSource={page.status === 'ready' ? page.data.items : []}
              pagination={false}
              locale={{ emptyText: <EmptyState text={t('transactions.empty')} testId="transactions-empty" /> }}
              onRow={(payment) =>
                ({
                  'data-testid': `payment-row-${payment.id}`,
                  'data-status': payment.status,
                }) as React.HTMLAttributes<HTMLElement>
              }
              columns={[
                {
                  title: t('transactions.time'),
                  dataIndex: 'createdAt',
                  render: (value: string) => formatDateTime(value, i18n.language),
                },
                {
                  title: t('transactions.id'),
                  dataIndex: 'id',
                  render: (value: string) => <code>{value.slice(-12)}</code>,
                },
                {
                  title: t('transactions.method'),
                  dataIndex: 'method',
                  render: (value: string) => t(`methods.${value}`),
                },
                {
                  title: t('transactions.status'),
                  dataIndex: 'status',
                  render: (value: string) => (
                    <Tag color={value === 'succeeded' ? 'green' : 'gold'}>{t(`paymentStatus.${value}`)}</Tag>
                  ),
                },
                {
                  title: t('transactions.amount'),
                  dataIndex: 'amount',
                  align: 'right',
                  render: (value: number) => <Money fen={value} />,
                },
                {
                  title: t('transactions.fee'),
                  dataIndex: 'fee',
                  align: 'right',
                  render: (value: number) => <Money fen={value} />,
                },
                {
                  title: t('transactions.refunded'),
                  dataIndex: 'refundedAmount',
                  align: 'right',
                  render: (value: number) => (value > 0 ? <Money fen={value} /> : '—'),
                },
                {
                  title: t('common.actions'),
                  key: 'actions',
                  render: (_value, payment) => (
                    <Button size="small" onClick={() => setOpen(payment)} data-testid={`payment-open-${payment.id}`}>
                      {may(membership.role, 'refunds') ? t('transactions.detailsRefund') : t('transactions.details')}
                    </Button>
                  ),
                },
              ]}
            />
            <Space className="portal-pager">
              <Button
                disabled={cursors.length <= 1 || page.status === 'loading'}
                onClick={() => setCursors((list) => list.slice(0, -1))}
                data-testid="transactions-prev"
              >
                {t('common.previous')}
              </Button>
              <Button
                disabled={page.status !== 'ready' || !page.data.nextCursor}
                onClick={() => {
                  if (page.status === 'ready' && page.data.nextCursor) {
                    const next = page.data.nextCursor;
                    setCursors((list) => [...list, next]);
                  }
                }}
                data-testid="transactions-next"
              >
                {t('common.next')}
              </Button>
              <span className="portal-muted">{t('transactions.pageSize', { count: PAGE_SIZE })}</span>
            </Space>
          </>
        )}
      </Card>
      <PaymentDrawer
        payment={open}
        canRefund={may(membership.role, 'refunds')}
        onClose={() => setOpen(null)}
        onRefunded={page.reload}
      />
    </div>
  );
}

function PaymentDrawer(props: {
  payment: PaymentRow | null;
  canRefund: boolean;
  onClose: () => void;
  onRefunded: () => void;
}) {
  const { t, i18n } = useTranslation('merchant');
  const payment = props.payment;
  return (
    <Drawer
      open={payment !== null}
      onClose={props.onClose}
      size={520}
      title={t('transactions.paymentTitle')}
      destroyOnHidden
      data-testid="payment-drawer"
    >
      {payment && (
        <>
          <Descriptions column={1} bordered size="small" data-testid="payment-details">
            <Descriptions.Item label={t('transactions.id')}>
              <code>{payment.id}</code>
            </Descriptions.Item>
            <Descriptions.Item label={t('transactions.time')}>
              {formatDateTime(payment.createdAt, i18n.language)}
            </Descriptions.Item>
            <Descriptions.Item label={t('transactions.method')}>{t(`methods.${payment.method}`)}</Descriptions.Item>
            <Descriptions.Item label={t('transactions.amount')}>
              <Money fen={payment.amount} testId="payment-amount" />
            </Descriptions.Item>
            <Descriptions.Item label={t('transactions.fee')}>
              <Money fen={payment.fee} /> ({(payment.feeRateBps / 100).toFixed(2)}%)
            </Descriptions.Item>
          </Descriptions>
          <Refunds payment={payment} canRefund={props.canRefund} onRefunded={props.onRefunded} />
        </>
      )}
    </Drawer>
  );
}

function Refunds({
  payment,
  canRefund,
  onRefunded,
}: {
  payment: PaymentRow;
  canRefund: boolean;
  onRefunded: () => void;
}) {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const refunds = useAsync(
    () => call(portal.GET('/v1/merchant/payments/{id}/refunds', { params: { path: { id: payment.id } } })),
    [payment.id],
  );
  const refunded = useMemo(
    () =>
      refunds.status === 'ready'
        ? refunds.data.refunds.reduce((sum, refund) => sum + refund.amount, 0)
        : payment.refundedAmount,
    [refunds, payment.refundedAmount],
  );
  const refundable = payment.amount - refunded;
  const [form] = Form.useForm<{ amount: string; reason?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One key per intent: kept across retries of the same amount and reason, renewed when they change.
  const key = useRef(newIdempotencyKey());

  async function refund(values: { amount: string; reason?: string }) {
    const fen = parseYuan(values.amount);
    if (fen === null) return;
    setBusy(true);
    setError(null);
    try {
      await call(
        portal.POST('/v1/merchant/payments/{id}/refunds', {
          params: { path: { id: payment.id }, header: { 'idempotency-key': key.current } },
          body: { amount: fenToJson(fen), ...(values.reason?.trim() ? { reason: values.reason.trim() } : {}) },
        }),
      );
      key.current = newIdempotencyKey();
      form.resetFields();
      void message.success(t('refunds.done'));
      refunds.reload();
      onRefunded();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="portal-section">
      <h3>{t('refunds.title')}</h3>
      {refunds.status === 'error' && (
        <PageError error={refunds.error} onRetry={refunds.reload} testId="refunds-error" />
      )}
      {refunds.status !== 'error' && (
        <Table
          size="small"
          rowKey="id"
          pagination={false}
          loading={refunds.status === 'loading'}
          dataSource={refunds.status === 'ready' ? refunds.data.refunds : []}
          locale={{ emptyText: <EmptyState text={t('refunds.empty')} testId="refunds-empty" /> }}
          onRow={(refund) => ({ 'data-testid': `refund-row-${refund.id}` }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            {
              title: t('transactions.time'),
              dataIndex: 'createdAt',
              render: (value: string) => formatDateTime(value, i18n.language),
            },
            { title: t('refunds.reason'), dataIndex: 'reason', render: (value: string | null) => value ?? '—' },
            {
              title: t('transactions.amount'),
              dataIndex: 'amount',
              align: 'right',
              render: (value: number) => <Money fen={value} />,
            },
          ]}
        />
      )}
      {canRefund && refundable > 0 && (
        <Form
          form={form}
          layout="vertical"
          className="portal-refund-form"
          onFinish={(values) => void refund(values)}
          onValuesChange={() => {
            key.current = newIdempotencyKey();
          }}
          data-testid="refund-form"
        >
          <Form.Item
            name="amount"
            label={t('refunds.amount')}
            extra={
              <span>
                {t('refunds.refundable')} <Money fen={refundable} testId="refund-refundable" />
              </span>
            }
            rules={[
              {
                required: true,
                validator: async (_rule, value: string | undefined) => {
                  const fen = parseYuan(value ?? '');
                  if (fen === null) throw new Error(t('common.amountInvalid'));
                  if (fen > BigInt(refundable)) throw new Error(t('refunds.tooMuch'));
                },
              },
            ]}
          >
            <Input inputMode="decimal" prefix="¥" placeholder="0.00" data-testid="refund-amount" />
          </Form.Item>
          <Form.Item name="reason" label={t('refunds.reason')} rules={[{ max: 100 }]}>
            <Input maxLength={100} data-testid="refund-reason" />
          </Form.Item>
          <InlineError error={error} testId="refund-error" />
          <Space>
            <Button type="primary" danger htmlType="submit" loading={busy} data-testid="refund-submit">
              {t('refunds.submit')}
            </Button>
            <Button
              onClick={() => form.setFieldsValue({ amount: fenToYuanText(refundable) })}
              data-testid="refund-full"
            >
              {t('refunds.full')}
            </Button>
          </Space>
        </Form>
      )}
      {refundable <= 0 && (
        <p className="portal-muted" data-testid="refund-fully-refunded">
          {t('refunds.fullyRefunded')}
        </p>
      )}
    </div>
  );
}
