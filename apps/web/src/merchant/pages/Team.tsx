/** Stores (owners and managers) and staff with their roles and stores (owners only). */
import { PlusOutlined } from '@ant-design/icons';
import { App, Button, Card, Form, Input, Modal, Popconfirm, Select, Space, Table, Tag, Typography } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { normalizePhone } from '../../lib/phone.js';
import { useAsync } from '../../lib/use-async.js';
import { call, portal } from '../api.js';
import { EmptyState, formatDateTime, InlineError, PageError, PageTitle, problemText } from '../components.js';
import { useActiveMembership, useMemberships, type StaffRole } from '../membership.js';
import type { Store } from '../types.js';

const ROLES: StaffRole[] = ['owner', 'manager', 'cashier'];

export function Team() {
  const { t } = useTranslation('merchant');
  const membership = useActiveMembership();
  const stores = useStores();
  const openStores = stores.status === 'ready' ? stores.data.items.filter((store) => store.closedAt === null) : [];
  return (
    <div data-testid="page-team">
      <PageTitle title={t('team.title')} testId="team-title" />
      <Stores stores={stores} />
      {membership.role === 'owner' && <Staff stores={openStores} />}
    </div>
  );
}

type StoresState = ReturnType<typeof useStores>;
function useStores() {
  return useAsync(() => call(portal.GET('/v1/merchant/stores')), []);
}

function Stores({ stores }: { stores: StoresState }) {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function add(values: { name: string; city: string }) {
    setBusy(true);
    setError(null);
    try {
      await call(portal.POST('/v1/merchant/stores', { body: { name: values.name.trim(), city: values.city.trim() } }));
      setAdding(false);
      stores.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function close(id: string) {
    try {
      await call(portal.POST('/v1/merchant/stores/{id}/close', { params: { path: { id } } }));
      stores.reload();
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  return (
    <Card
      title={t('team.stores')}
      extra={
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="store-add">
          {t('team.addStore')}
        </Button>
      }
    >
      {stores.status === 'error' ? (
        <PageError error={stores.error} onRetry={stores.reload} testId="stores-error" />
      ) : (
        <Table<Store>
          rowKey="id"
          size="small"
          loading={stores.status === 'loading'}
          dataSource={stores.status === 'ready' ? stores.data.items : []}
          pagination={false}
          locale={{ emptyText: <EmptyState text={t('team.noStores')} testId="stores-empty" /> }}
          onRow={(store) => ({ 'data-testid': `store-row-${store.id}` }) as React.HTMLAttributes<HTMLElement>}
          columns={[
            { title: t('team.storeName'), dataIndex: 'name' },
            { title: t('onboarding.city'), dataIndex: 'city' },
            {
              title: t('apiKeys.createdAt'),
              dataIndex: 'createdAt',
              render: (value: string) => formatDateTime(value, i18n.language),
            },
            {
              title: t('apiKeys.status'),
              dataIndex: 'closedAt',
              render: (value: string | null) =>
                value ? <Tag>{t('team.storeClosed')}</Tag> : <Tag color="green">{t('team.storeOpen')}</Tag>,
            },
            {
              title: t('common.actions'),
              key: 'actions',
              render: (_value, store) =>
                store.closedAt ? null : (
                  <Popconfirm
                    title={t('team.closeStoreConfirm')}
                    okText={t('team.closeStore')}
                    cancelText={t('common.cancel')}
                    onConfirm={() => void close(store.id)}
                  >
                    <Button size="small" danger data-testid={`store-close-${store.id}`}>
                      {t('team.closeStore')}
                    </Button>
                  </Popconfirm>
                ),
            },
          ]}
        />
      )}
      <Modal open={adding} title={t('team.addStore')} onCancel={() => setAdding(false)} footer={null} destroyOnHidden>
        <Form
          layout="vertical"
          onFinish={(values: { name: string; city: string }) => void add(values)}
          data-testid="store-form"
        >
          <Form.Item name="name" label={t('team.storeName')} rules={[{ required: true, whitespace: true, max: 40 }]}>
            <Input maxLength={40} data-testid="store-name" />
          </Form.Item>
          <Form.Item name="city" label={t('onboarding.city')} rules={[{ required: true, whitespace: true, max: 15 }]}>
            <Input maxLength={15} data-testid="store-city" />
          </Form.Item>
          <InlineError error={error} testId="store-error" />
          <Button type="primary" htmlType="submit" loading={busy} data-testid="store-submit">
            {t('team.addStore')}
          </Button>
        </Form>
      </Modal>
    </Card>
  );
}

interface StaffValues {
  phone: string;
  role: StaffRole;
  storeId?: string | null;
}

function Staff({ stores }: { stores: Store[] }) {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const { reload: reloadMemberships } = useMemberships();
  const staff = useAsync(() => call(portal.GET('/v1/merchant/staff')), []);
  const [adding, setAdding] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const storeName = new Map(stores.map((store) => [store.id, store.name]));
  const storeOptions = [
    { value: '', label: t('team.allStores') },
    ...stores.map((store) => ({ value: store.id, label: store.name })),
  ];

  async function add(values: StaffValues) {
    setBusy(true);
    setError(null);
    try {
      await call(
        portal.POST('/v1/merchant/staff', {
          body: {
            phone: normalizePhone(values.phone) ?? values.phone.trim(),
            role: values.role,
            storeId: values.storeId ? values.storeId : null,
          },
        }),
      );
      setAdding(false);
      staff.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function update(id: string, body: { role?: StaffRole; storeId?: string | null }) {
    try {
      await call(portal.PATCH('/v1/merchant/staff/{id}', { params: { path: { id } }, body }));
      staff.reload();
      void reloadMemberships();
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  async function remove(id: string) {
    try {
      await call(portal.POST('/v1/merchant/staff/{id}/remove', { params: { path: { id } } }));
      staff.reload();
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  return (
    <Card
      title={t('team.staff')}
      className="portal-section"
      extra={
        <Button type="primary" icon={<PlusOutlined />} onClick={() => setAdding(true)} data-testid="staff-add">
          {t('team.addStaff')}
        </Button>
      }
    >
      <Typography.Paragraph type="secondary">{t('team.staffHint')}</Typography.Paragraph>
      {staff.status === 'error' ? (
        <PageError error={staff.error} onRetry={staff.reload} testId="staff-error" />
      ) : (
        <Table
          rowKey="id"
          size="small"
          loading={staff.status === 'loading'}
          dataSource={staff.status === 'ready' ? staff.data.items : []}
          pagination={false}
          locale={{ emptyText: <EmptyState testId="staff-empty" /> }}
          onRow={(member) =>
            ({ 'data-testid': `staff-row-${member.id}`, 'data-role': member.role }) as React.HTMLAttributes<HTMLElement>
          }
          columns={[
            { title: t('team.phone'), dataIndex: 'phoneMasked' },
            {
              title: t('team.role'),
              dataIndex: 'role',
              render: (value: StaffRole, member) => (
                <Select
                  value={value}
                  size="small"
                  style={{ width: 110 }}
                  options={ROLES.map((role) => ({ value: role, label: t(`roles.${role}`) }))}
                  onChange={(role: StaffRole) => void update(member.id, { role })}
                  aria-label={t('team.role')}
                  data-testid={`staff-role-${member.id}`}
                />
              ),
            },
            {
              title: t('team.store'),
              dataIndex: 'storeId',
              render: (value: string | null, member) => (
                <Select
                  value={value ?? ''}
                  size="small"
                  style={{ width: 160 }}
                  options={storeOptions}
                  onChange={(storeId: string) => void update(member.id, { storeId: storeId || null })}
                  aria-label={t('team.store')}
                  data-testid={`staff-store-${member.id}`}
                  labelRender={() => (value ? (storeName.get(value) ?? t('team.storeClosed')) : t('team.allStores'))}
                />
              ),
            },
            {
              title: t('apiKeys.createdAt'),
              dataIndex: 'createdAt',
              render: (value: string) => formatDateTime(value, i18n.language),
            },
            {
              title: t('common.actions'),
              key: 'actions',
              render: (_value, member) => (
                <Popconfirm
                  title={t('team.removeConfirm')}
                  okText={t('team.remove')}
                  cancelText={t('common.cancel')}
                  onConfirm={() => void remove(member.id)}
                >
                  <Button size="small" danger data-testid={`staff-remove-${member.id}`}>
                    {t('team.remove')}
                  </Button>
                </Popconfirm>
              ),
            },
          ]}
        />
      )}
      <Modal open={adding} title={t('team.addStaff')} onCancel={() => setAdding(false)} footer={null} destroyOnHidden>
        <Form<StaffValues>
          layout="vertical"
          initialValues={{ role: 'cashier', storeId: '' }}
          onFinish={(values) => void add(values)}
          data-testid="staff-form"
        >
          <Form.Item
            name="phone"
            label={t('team.phone')}
            extra={t('team.phoneHint')}
            rules={[
              {
                required: true,
                validator: async (_rule, value: string | undefined) => {
                  if (!normalizePhone(value ?? '')) throw new Error(t('onboarding.contactPhoneInvalid'));
                },
              },
            ]}
          >
            <Input type="tel" data-testid="staff-phone" />
          </Form.Item>
          <Space size="middle" className="portal-form-row">
            <Form.Item name="role" label={t('team.role')} rules={[{ required: true }]}>
              <Select
                style={{ width: 160 }}
                options={ROLES.map((role) => ({ value: role, label: t(`roles.${role}`) }))}
                data-testid="staff-role"
              />
            </Form.Item>
            <Form.Item name="storeId" label={t('team.store')}>
              <Select style={{ width: 200 }} options={storeOptions} data-testid="staff-store" />
            </Form.Item>
          </Space>
          <InlineError error={error} testId="staff-form-error" />
          <Button type="primary" htmlType="submit" loading={busy} data-testid="staff-submit">
            {t('team.addStaff')}
          </Button>
        </Form>
      </Modal>
    </Card>
  );
}
