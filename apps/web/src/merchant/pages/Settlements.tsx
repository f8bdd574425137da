/** T+1 settlements with their reconciliation files, and the bank account they are paid to. */
import { DownloadOutlined } from '@ant-design/icons';
import { App, Button, Card, Descriptions, Form, Input, Space, Table, Tag } from 'antd';
import { useState } from 'react';
import { useTranslation } from 'react-i18next';
import { normalizePhone } from '../../lib/phone.js';
import { useAsync } from '../../lib/use-async.js';
import { call, fetchFile, portal, saveBlob } from '../api.js';
import { EmptyState, formatDateTime, InlineError, Money, PageError, PageTitle, problemText } from '../components.js';
import type { Settlement } from '../types.js';

const STATUS_COLOR = { pending: 'blue', paid: 'green', failed: 'red', empty: 'default' } as const;

export function Settlements() {
  const { t } = useTranslation('merchant');
  return (
    <div data-testid="page-settlements">
      <PageTitle title={t('settlements.title')} testId="settlements-title" />
      <SettlementList />
      <SettlementAccount />
    </div>
  );
}

function SettlementList() {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const list = useAsync(() => call(portal.GET('/v1/merchant/settlements')), []);

  async function downloadFile(settlement: Settlement) {
    try {
      const blob = await fetchFile(`/v1/merchant/settlements/${settlement.id}/file`);
      saveBlob(blob, `yika-settlement-${settlement.businessDate}.csv`);
    } catch (error) {
      void message.error(problemText(t, error));
    }
  }

  if (list.status === 'error') return <PageError error={list.error} onRetry={list.reload} testId="settlements-error" />;
  return (
    <Card>
      <Table<Settlement>
        rowKey="id"
        loading={list.status === 'loading'}
        dataSource={list.status === 'ready' ? list.data.items : []}
        pagination={{ pageSize: 20, hideOnSinglePage: true }}
        locale={{ emptyText: <EmptyState text={t('settlements.empty')} testId="settlements-empty" /> }}
        onRow={(settlement) =>
          ({
            'data-testid': `settlement-row-${settlement.businessDate}`,
            'data-status': settlement.status,
            'data-settlement-id': settlement.id,
          }) as React.HTMLAttributes<HTMLElement>
        }
        columns={[
          { title: t('settlements.businessDate'), dataIndex: 'businessDate' },
          {
            title: t('settlements.status'),
            dataIndex: 'status',
            render: (value: Settlement['status']) => (
              <Tag color={STATUS_COLOR[value]}>{t(`settlementStatus.${value}`)}</Tag>
            ),
          },
          { title: t('settlements.payments'), dataIndex: 'paymentCount', align: 'right' },
          {
            title: t('settlements.gross'),
            dataIndex: 'gross',
            align: 'right',
            render: (value: number) => <Money fen={value} />,
          },
          {
            title: t('settlements.refunds'),
            dataIndex: 'refunds',
            align: 'right',
            render: (value: number) => <Money fen={value} />,
          },
          {
            title: t('settlements.fees'),
            dataIndex: 'fees',
            align: 'right',
            render: (value: number) => <Money fen={value} />,
          },
          {
            title: t('settlements.net'),
            dataIndex: 'net',
            align: 'right',
            render: (value: number, settlement) => (
              <Money fen={value} testId={`settlement-net-${settlement.businessDate}`} />
            ),
          },
          {
            title: t('settlements.payout'),
            dataIndex: 'payoutAmount',
            align: 'right',
            render: (value: number, settlement) => (
              <span title={settlement.failureReason ?? undefined}>
                <Money fen={value} testId={`settlement-payout-${settlement.businessDate}`} />
                {settlement.cardLast4 ? <span className="portal-muted"> ··{settlement.cardLast4}</span> : null}
              </span>
            ),
          },
          {
            title: t('settlements.paidAt'),
            dataIndex: 'paidAt',
            render: (value: string | null) => formatDateTime(value, i18n.language),
          },
          {
            title: t('settlements.file'),
            key: 'file',
            render: (_value, settlement) => (
              <Button
                type="link"
                icon={<DownloadOutlined />}
                onClick={() => void downloadFile(settlement)}
                data-testid={`settlement-file-${settlement.businessDate}`}
              >
                CSV
              </Button>
            ),
          },
        ]}
      />
    </Card>
  );
}

function SettlementAccount() {
  const { t, i18n } = useTranslation('merchant');
  const account = useAsync(() => call(portal.GET('/v1/merchant/settlement-account')), []);
  const [verificationId, setVerificationId] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);

  async function start(values: { cardNumber: string; holderName: string; phone: string }) {
    setBusy(true);
    setError(null);
    try {
      const started = await call(
        portal.POST('/v1/merchant/settlement-account/verifications', {
          body: {
            cardNumber: values.cardNumber.replace(/\s/g, ''),
            holderName: values.holderName.trim(),
            phone: normalizePhone(values.phone) ?? values.phone.trim(),
          },
        }),
      );
      setVerificationId(started.verificationId);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function confirm(values: { code: string }) {
    if (!verificationId) return;
    setBusy(true);
    setError(null);
    try {
      await call(
        portal.POST('/v1/merchant/settlement-account/verifications/{id}/confirm', {
          params: { path: { id: verificationId } },
          body: { code: values.code.trim() },
        }),
      );
      setVerificationId(null);
      setEditing(false);
      account.reload();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const view = account.status === 'ready' ? account.data.account : null;
  const hasAccount = view !== null;

  return (
    <Card title={t('account.title')} className="portal-section" data-testid="settlement-account">
      {account.status === 'error' && (
        <PageError error={account.error} onRetry={account.reload} testId="settlement-account-error" />
      )}
      {account.status === 'ready' && hasAccount && view && !editing && (
        <Descriptions column={2} size="small" data-testid="settlement-account-details">
          <Descriptions.Item label={t('account.card')}>
            <span data-testid="settlement-account-last4">•••• {view.last4}</span>
          </Descriptions.Item>
          <Descriptions.Item label={t('account.holder')}>{view.holderName}</Descriptions.Item>
          <Descriptions.Item label={t('account.verifiedAt')}>
            {formatDateTime(view.verifiedAt, i18n.language)}
          </Descriptions.Item>
        </Descriptions>
      )}
      {account.status === 'ready' && !hasAccount && !editing && (
        <EmptyState text={t('account.none')} testId="settlement-account-empty" />
      )}
      {account.status === 'ready' && !editing && (
        <Button onClick={() => setEditing(true)} style={{ marginTop: 12 }} data-testid="settlement-account-change">
          {hasAccount ? t('account.change') : t('account.add')}
        </Button>
      )}
      {editing && verificationId === null && (
        <Form
          layout="vertical"
          onFinish={(values: { cardNumber: string; holderName: string; phone: string }) => void start(values)}
          data-testid="settlement-account-form"
        >
          <Space size="middle" className="portal-form-row">
            <Form.Item
              name="cardNumber"
              label={t('account.cardNumber')}
              rules={[{ required: true, pattern: /^[\d\s]{12,23}$/, message: t('account.cardNumberInvalid') }]}
            >
              <Input inputMode="numeric" maxLength={23} data-testid="settlement-account-card" />
            </Form.Item>
            <Form.Item
              name="holderName"
              label={t('account.holder')}
              rules={[{ required: true, whitespace: true, max: 100 }]}
            >
              <Input maxLength={100} data-testid="settlement-account-holder" />
            </Form.Item>
            <Form.Item
              name="phone"
              label={t('account.phone')}
              rules={[
                {
                  required: true,
                  validator: async (_rule, value: string | undefined) => {
                    if (!normalizePhone(value ?? '')) throw new Error(t('onboarding.contactPhoneInvalid'));
                  },
                },
              ]}
            >
              <Input type="tel" data-testid="settlement-account-phone" />
            </Form.Item>
          </Space>
          <InlineError error={error} testId="settlement-account-form-error" />
          <Space>
            <Button type="primary" htmlType="submit" loading={busy} data-testid="settlement-account-send">
              {t('account.sendCode')}
            </Button>
            <Button onClick={() => setEditing(false)}>{t('common.cancel')}</Button>
          </Space>
        </Form>
      )}
      {editing && verificationId !== null && (
        <Form
          layout="inline"
          onFinish={(values: { code: string }) => void confirm(values)}
          data-testid="settlement-account-confirm-form"
        >
          <Form.Item
            name="code"
            label={t('account.code')}
            rules={[{ required: true, pattern: /^\s*\d{6}\s*$/, message: t('signIn.codeInvalid') }]}
          >
            <Input inputMode="numeric" maxLength={6} data-testid="settlement-account-code" />
          </Form.Item>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="settlement-account-confirm">
            {t('account.confirm')}
          </Button>
          <InlineError error={error} testId="settlement-account-confirm-error" />
        </Form>
      )}
    </Card>
  );
}
