/** API keys: the list (never the secrets), a new key whose secret is shown this once, revocation. */
import { PlusOutlined } from '@ant-design/icons';
import { Alert, App, Button, Card, Form, Input, Modal, Popconfirm, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { useAsync } from '../../lib/use-async.js';
import { call, portal } from '../api.js';
import { EmptyState, formatDateTime, InlineError, PageError, PageTitle, problemText } from '../components.js';

export function ApiKeys() {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const keys = useAsync(() => call(portal.GET('/v1/merchant/api-keys')), []);
  const [creating, setCreating] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [secret, setSecret] = useState<string | null>(null);

  async function create(values: { label?: string }) {
    setBusy(true);
    setError(null);
    try {
      const created = await call(
        portal.POST('/v1/merchant/api-keys', { body: values.label?.trim() ? { label: values.label.trim() } : {} }),
      );
      setCreating(false);
      setSecret(created.secret);
      keys.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(id: string) {
    try {
      await call(portal.POST('/v1/merchant/api-keys/{id}/revoke', { params: { path: { id } } }));
      void message.success(t('apiKeys.revoked'));
      keys.reload();
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  return (
    <div data-testid="page-api-keys">
      <PageTitle
        title={t('apiKeys.title')}
        testId="api-keys-title"
        extra={
          <Button type="primary" icon={<PlusOutlined />} onClick={() => setCreating(true)} data-testid="api-key-create">
            {t('apiKeys.create')}
          </Button>
        }
      />
      <Typography.Paragraph type="secondary">{t('apiKeys.hint')}</Typography.Paragraph>
      <Card>
        {keys.status === 'error' ? (
          <PageError error={keys.error} onRetry={keys.reload} testId="api-keys-error" />
        ) : (
          <Table
            rowKey="id"
            loading={keys.status === 'loading'}
            dataSource={keys.status === 'ready' ? keys.data.apiKeys : []}
            pagination={false}
            locale={{ emptyText: <EmptyState text={t('apiKeys.empty')} testId="api-keys-empty" /> }}
            onRow={(key) =>
              ({
                'data-testid': `api-key-row-${key.id}`,
                'data-revoked': String(key.revokedAt !== null),
              }) as React.HTMLAttributes<HTMLElement>
            }
            columns={[
              { title: t('apiKeys.prefix'), dataIndex: 'prefix', render: (value: string) => <code>{value}…</code> },
              { title: t('apiKeys.label'), dataIndex: 'label', render: (value: string | null) => value ?? '—' },
              {
                title: t('apiKeys.createdAt'),
                dataIndex: 'createdAt',
                render: (value: string) => formatDateTime(value, i18n.language),
              },
              {
                title: t('apiKeys.lastUsedAt'),
                dataIndex: 'lastUsedAt',
                render: (value: string | null) => formatDateTime(value, i18n.language),
              },
              {
                title: t('apiKeys.status'),
                dataIndex: 'revokedAt',
                render: (value: string | null) =>
                  value ? (
                    <Tag>{t('apiKeys.statusRevoked')}</Tag>
                  ) : (
                    <Tag color="green">{t('apiKeys.statusActive')}</Tag>
                  ),
              },
              {
                title: t('common.actions'),
                key: 'actions',
                render: (_value, key) =>
                  key.revokedAt ? null : (
                    <Popconfirm
                      title={t('apiKeys.revokeConfirm')}
                      okText={t('apiKeys.revoke')}
                      cancelText={t('common.cancel')}
                      okButtonProps={{ danger: true, 'data-testid': 'api-key-revoke-confirm' }}
                      onConfirm={() => void revoke(key.id)}
                    >
                      <Button danger size="small" data-testid={`api-key-revoke-${key.id}`}>
                        {t('apiKeys.revoke')}
                      </Button>
                    </Popconfirm>
                  ),
              },
            ]}
          />
        )}
      </Card>
      <Modal
        open={creating}
        title={t('apiKeys.create')}
        onCancel={() => setCreating(false)}
        footer={null}
        destroyOnHidden
      >
        <Form
          layout="vertical"
          onFinish={(values: { label?: string }) => void create(values)}
          data-testid="api-key-form"
        >
          <Form.Item name="label" label={t('apiKeys.label')} rules={[{ max: 50 }]}>
            <Input maxLength={50} placeholder={t('apiKeys.labelPlaceholder')} data-testid="api-key-label" />
          </Form.Item>
          <InlineError error={error} testId="api-key-error" />
          <Button type="primary" htmlType="submit" loading={busy} data-testid="api-key-submit">
            {t('apiKeys.create')}
          </Button>
        </Form>
      </Modal>
      <Modal
        open={secret !== null}
        title={t('apiKeys.secretTitle')}
        onCancel={() => setSecret(null)}
        onOk={() => setSecret(null)}
        okText={t('apiKeys.secretDone')}
        okButtonProps={{ 'data-testid': 'api-key-secret-done' }}
        cancelButtonProps={{ style: { display: 'none' } }}
        maskClosable={false}
      >
        <Alert type="warning" showIcon title={t('apiKeys.secretWarning')} />
        <Typography.Paragraph copyable={{ text: secret ?? '' }} className="portal-secret">
          <code data-testid="api-key-secret">{secret}</code>
        </Typography.Paragraph>
      </Modal>
    </div>
  );
}
