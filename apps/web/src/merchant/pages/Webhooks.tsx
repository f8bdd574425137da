/** Webhook endpoints (signing secret shown once) and recent deliveries with every attempt, and replay. */
import { PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Form, Input, Modal, Popconfirm, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAsync } from '../../lib/use-async.js';
import { call, portal } from '../api.js';
import { EmptyState, formatDateTime, InlineError, PageError, PageTitle, problemText } from '../components.js';

const DELIVERIES_SHOWN = 50;
const DELIVERY_COLOR = { pending: 'blue', succeeded: 'green', failed: 'red' } as const;

export function Webhooks() {
  const { t } = useTranslation('merchant');
  return (
    <div data-testid="page-webhooks">
      <PageTitle title={t('webhooks.title')} testId="webhooks-title" />
      <Endpoints />
      <Deliveries />
    </div>
  );
}

function Endpoints() {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const endpoints = useAsync(() => call(portal.GET('/v1/merchant/webhook-endpoints')), []);
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);

  async function add(values: { url: string }) {
    setBusy(true);
    setError(null);
    try {
      const created = await call(portal.POST('/v1/merchant/webhook-endpoints', { body: { url: values.url.trim() } }));
      setAdding(false);
      setSecret(created.secret);
      endpoints.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function disable(id: string) {
    try {
      await call(portal.POST('/v1/merchant/webhook-endpoints/{id}/disable', { params: { path: { id } } }));
      endpoints.reload();
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  return (
    <Card
      title={t('webhooks.endpoints')}
      extra={
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="webhook-add">
          {t('webhooks.add')}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary">{t('webhooks.signatureHint')}</Typography.Paragraph>
      {endpoints.status === 'error' ? (
        <PageError error={endpoints.error} onRetry={endpoints.reload} testId="webhook-endpoints-error" />
      ) : (
        <Table
          rowKey="id"
          size="small"
          loading={endpoints.status === 'loading'}
          dataSource={endpoints.status === 'ready' ? endpoints.data.endpoints : []}
          pagination={false}
          locale={{ emptyText: <EmptyState text={t('webhooks.noEndpoints')} testId="webhook-endpoints-empty" /> }}
          onRow={(endpoint) =>
            ({ 'data-testid': `webhook-endpoint-row-${endpoint.id}` }) as React.HTMLAttributes<HTMLElement>
          }
          columns={[
            { title: 'URL', dataIndex: 'url', render: (value: string) => <code>{value}</code> },
            {
              title: t('apiKeys.createdAt'),
              dataIndex: 'createdAt',
              render: (value: string) => formatDateTime(value, i18n.language),
            },
            {
              title: t('apiKeys.status'),
              dataIndex: 'disabledAt',
              render: (value: string | null) =>
                value ? <Tag>{t('webhooks.disabled')}</Tag> : <Tag color="green">{t('webhooks.enabled')}</Tag>,
            },
            {
              title: t('common.actions'),
              key: 'actions',
              render: (_value, endpoint) =>
                endpoint.disabledAt ? null : (
                  <Popconfirm
                    title={t('webhooks.disableConfirm')}
                    okText={t('webhooks.disable')}
                    cancelText={t('common.cancel')}
                    onConfirm={() => void disable(endpoint.id)}
                  >
                    <Button size="small" danger data-testid={`webhook-disable-${endpoint.id}`}>
                      {t('webhooks.disable')}
                    </Button>
                  </Popconfirm>
                ),
            },
          ]}
        />
      )}
      <Modal open={adding} title={t('webhooks.add')} onCancel={() => setAdding(false)} footer={null} destroyOnHidden>
        <Form layout="vertical" onFinish={(values: { url: string }) => void add(values)} data-testid="webhook-form">
          <Form.Item
            name="url"
            label="URL"
            rules={[{ required: true, type: 'url', max: 500, message: t('webhooks.urlInvalid') }]}
          >
            <Input placeholder="https://example.com/yika/webhooks" maxLength={500} data-testid="webhook-url" />
          </Form.Item>
          <InlineError error={error} testId="webhook-error" />
          <Button type="primary" htmlType="submit" loading={busy} data-testid="webhook-submit">
            {t('webhooks.add')}
          </Button>
        </Form>
      </Modal>
      <Modal
        open={secret !== null}
        title={t('webhooks.secretTitle')}
        onOk={() => setSecret(null)}
        onCancel={() => setSecret(null)}
        okText={t('apiKeys.secretDone')}
        cancelButtonProps={{ style: { display: 'none' } }}
        maskClosable={false}
      >
        <Alert type="warning" showIcon title={t('apiKeys.secretWarning')} />
        <Typography.Paragraph copyable={{ text: secret ?? '' }} className="portal-secret">
          <code data-testid="webhook-secret">{secret}</code>
        </Typography.Paragraph>
      </Modal>
    </Card>
  );
}

function Deliveries() {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const deliveries = useAsync(
    () => call(portal.GET('/v1/merchant/webhook-deliveries', { params: { query: { limit: DELIVERIES_SHOWN } } })),
    [],
  );
  const [replaying, setReplaying] = useState<string | null>(null);

  async function replay(id: string) {
    setReplaying(id);
    try {
      await call(portal.POST('/v1/merchant/webhook-deliveries/{id}/replay', { params: { path: { id } } }));
      void message.success(t('webhooks.replayed'));
      deliveries.reload();
    } catch (caught) {
      void message.error(problemText(t, caught));
    } finally {
      setReplaying(null);
    }
  }

  return (
    <Card
      title={t('webhooks.deliveries')}
      className="portal-section"
      extra={
        <Button icon={<ReloadOutlined />} onClick={deliveries.reload} data-testid="webhook-deliveries-reload">
          {t('common.refresh')}
        </Button>
      }
    >
      {deliveries.status === 'error' ? (
        <PageError error={deliveries.error} onRetry={deliveries.reload} testId="webhook-deliveries-error" />
      ) : (
        <Table
          rowKey="id"
          size="small"
          loading={deliveries.status === 'loading'}
          dataSource={deliveries.status === 'ready' ? deliveries.data.deliveries : []}
          pagination={{ pageSize: 10, hideOnSinglePage: true }}
          locale={{ emptyText: <EmptyState text={t('webhooks.noDeliveries')} testId="webhook-deliveries-empty" /> }}
          onRow={(delivery) =>
            ({
              'data-testid': `webhook-delivery-row-${delivery.id}`,
              'data-status': delivery.status,
            }) as React.HTMLAttributes<HTMLElement>
          }
          expandable={{
            expandedRowRender: (delivery) => (
              <Table
                size="small"
                rowKey="attemptedAt"
                pagination={false}
                dataSource={delivery.log}
                locale={{ emptyText: t('webhooks.noAttempts') }}
                columns={[
                  {
                    title: t('webhooks.attemptedAt'),
                    dataIndex: 'attemptedAt',
                    render: (value: string) => formatDateTime(value, i18n.language),
                  },
                  {
                    title: t('webhooks.response'),
                    dataIndex: 'responseStatus',
                    render: (value: number | null) => value ?? '—',
                  },
                  { title: t('webhooks.error'), dataIndex: 'error', render: (value: string | null) => value ?? '—' },
                  { title: t('webhooks.duration'), dataIndex: 'durationMs', render: (value: number) => `${value} ms` },
                ]}
              />
            ),
          }}
          columns={[
            {
              title: t('webhooks.createdAt'),
              dataIndex: 'createdAt',
              render: (value: string) => formatDateTime(value, i18n.language),
            },
            { title: t('webhooks.event'), dataIndex: 'eventType', render: (value: string) => <code>{value}</code> },
            {
              title: t('apiKeys.status'),
              dataIndex: 'status',
              render: (value: keyof typeof DELIVERY_COLOR, delivery) => (
                <Space size={4}>
                  <Tag color={DELIVERY_COLOR[value]}>{t(`deliveryStatus.${value}`)}</Tag>
                  {delivery.replayOf && <Tag>{t('webhooks.replay')}</Tag>}
                </Space>
              ),
            },
            { title: t('webhooks.attempts'), dataIndex: 'attempts', align: 'right' },
            {
              title: t('webhooks.nextAttempt'),
              dataIndex: 'nextAttemptAt',
              render: (value: string | null) => formatDateTime(value, i18n.language),
            },
            {
              title: t('common.actions'),
              key: 'actions',
              render: (_value, delivery) => (
                <Button
                  size="small"
                  loading={replaying === delivery.id}
                  onClick={() => void replay(delivery.id)}
                  data-testid={`webhook-replay-${delivery.id}`}
                >
                  {t('webhooks.replay')}
                </Button>
              ),
            },
          ]}
        />
      )}
    </Card>
  );
}
