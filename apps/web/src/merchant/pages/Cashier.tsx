/**
 * The cashier: enter the amount, then scan the customer's payment code (a scanner types it and presses
 * Enter) or type its 18 digits. Small amounts post at once; larger ones wait for the customer to confirm
 * on the phone, and this page follows the charge until it is final.
 */
import { newIdempotencyKey } from '@yika/sdk';
import { CameraOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Modal, Result, Space, Typography } from 'antd';
import { useEffect, useRef, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { fenToJson, parseYuan } from '../../lib/money.js';
import { CameraError, startCameraScan, type CameraProblem, type CameraScan } from '../../lib/scan.js';
import { call, portal } from '../api.js';
import { InlineError, Money, PageTitle } from '../components.js';
import { useActiveMembership } from '../membership.js';
import type { PaymentCodeCharge } from '../types.js';

const CODE_PATTERN = /^\d{18}$/;
/** Waiting for the customer's confirmation: checked every 2 s, for at most 3 minutes. */
const CHARGE_POLL_MS = 2_000;
const CHARGE_POLLS_MAX = 90;

interface CashierValues {
  amount: string;
  code: string;
  note?: string;
}

/** Scanners and people add spaces or dashes between digit groups: keep the digits. */
function digitsOf(text: string): string {
  return text.replace(/[\s-]/g, '');
}

export function Cashier() {
  const { t } = useTranslation('merchant');
  const membership = useActiveMembership();
  const [form] = Form.useForm<CashierValues>();
  const [charge, setCharge] = useState<PaymentCodeCharge | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const key = useRef(newIdempotencyKey());
  const codeInput = useRef<React.ComponentRef<typeof Input>>(null);
  const [camera, setCamera] = useState(false);

  useEffect(() => {
    if (!charge || charge.status !== 'awaiting_confirmation') return;
    let polls = 0;
    const timer = window.setInterval(() => {
      polls += 1;
      if (polls > CHARGE_POLLS_MAX) {
        window.clearInterval(timer);
        return;
      }
      call(portal.GET('/v1/merchant/payment-code-charges/{id}', { params: { path: { id: charge.id } } })).then(
        (next) => {
          if (next.status !== charge.status) setCharge(next);
        },
        () => undefined, // the next poll tries again
      );
    }, CHARGE_POLL_MS);
    return () => window.clearInterval(timer);
  }, [charge]);

  async function submit(values: CashierValues) {
    const fen = parseYuan(values.amount);
    const code = digitsOf(values.code);
    if (fen === null || !CODE_PATTERN.test(code)) return;
    setBusy(true);
    setError(null);
    try {
      const created = await call(
        portal.POST('/v1/merchant/payment-code-charges', {
          params: { header: { 'idempotency-key': key.current } },
          body: {
            code,
            amount: fenToJson(fen),
            ...(membership.storeId ? { storeId: membership.storeId } : {}),
            ...(values.note?.trim() ? { note: values.note.trim() } : {}),
          },
        }),
      );
      setCharge(created);
      key.current = newIdempotencyKey();
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  function next() {
    setCharge(null);
    setError(null);
    key.current = newIdempotencyKey();
    form.resetFields();
  }

  return (
    <div data-testid="page-cashier">
      <PageTitle title={t('cashier.title')} testId="cashier-title" />
      <Card className="portal-cashier">
        {charge ? (
          <ChargeResult charge={charge} onNext={next} />
        ) : (
          <Form<CashierValues>
            form={form}
            layout="vertical"
            size="large"
            onFinish={(values) => void submit(values)}
            onValuesChange={() => {
              key.current = newIdempotencyKey();
            }}
            data-testid="cashier-form"
          >
            <Form.Item
              name="amount"
              label={t('cashier.amount')}
              rules={[
                {
                  required: true,
                  validator: async (_rule, value: string | undefined) => {
                    if (parseYuan(value ?? '') === null) throw new Error(t('common.amountInvalid'));
                  },
                },
              ]}
            >
              <Input
                prefix="¥"
                inputMode="decimal"
                placeholder="0.00"
                autoFocus
                className="portal-cashier-amount"
                onPressEnter={(event) => {
                  // Enter on the amount moves to the code, where the scanner types.
                  event.preventDefault();
                  codeInput.current?.focus();
                }}
                data-testid="cashier-amount"
              />
            </Form.Item>
            <Form.Item
              name="code"
              label={t('cashier.code')}
              extra={t('cashier.codeHint')}
              normalize={(value: string) => value.replace(/[^\d\s-]/g, '')}
              rules={[
                {
                  required: true,
                  validator: async (_rule, value: string | undefined) => {
                    if (!CODE_PATTERN.test(digitsOf(value ?? ''))) throw new Error(t('cashier.codeInvalid'));
                  },
                },
              ]}
            >
              <Input
                ref={codeInput}
                inputMode="numeric"
                autoComplete="off"
                maxLength={24}
                placeholder={t('cashier.codePlaceholder')}
                className="portal-cashier-code"
                data-testid="cashier-code"
                suffix={
                  <Button
                    type="text"
                    icon={<CameraOutlined />}
                    aria-label={t('cashier.camera')}
                    onClick={() => setCamera(true)}
                    data-testid="cashier-camera"
                  />
                }
              />
            </Form.Item>
            <Form.Item name="note" label={t('cashier.note')} rules={[{ max: 100 }]}>
              <Input maxLength={100} data-testid="cashier-note" />
            </Form.Item>
            <InlineError error={error} testId="cashier-error" />
            <Button type="primary" htmlType="submit" block loading={busy} data-testid="cashier-submit">
              {t('cashier.submit')}
            </Button>
          </Form>
        )}
      </Card>
      {camera && (
        <CameraModal
          onClose={() => setCamera(false)}
          onCode={(text) => {
            setCamera(false);
            form.setFieldsValue({ code: digitsOf(text) });
            void form.validateFields(['code']);
          }}
        />
      )}
    </div>
  );
}

/** The customer's code through this device's camera (the QR beside the barcode), for counters without a scanner. */
function CameraModal({ onClose, onCode }: { onClose: () => void; onCode: (text: string) => void }) {
  const { t } = useTranslation('merchant');
  const video = useRef<HTMLVideoElement>(null);
  const [problem, setProblem] = useState<CameraProblem | null>(null);
  const found = useRef(onCode);
  found.current = onCode;

  useEffect(() => {
    if (!video.current) return;
    let scan: CameraScan | null = null;
    let closed = false;
    startCameraScan(video.current, (text) => found.current(text)).then(
      (started) => {
        if (closed) started.stop();
        else scan = started;
      },
      (error: unknown) => {
        if (!closed) setProblem(error instanceof CameraError ? error.problem : 'failed');
      },
    );
    return () => {
      closed = true;
      scan?.stop();
    };
  }, []);

  return (
    <Modal
      open
      title={t('cashier.camera')}
      onCancel={onClose}
      footer={null}
      destroyOnHidden
      data-testid="cashier-camera-modal"
    >
      {problem ? (
        <Alert
          type="warning"
          showIcon
          title={t(`cashier.cameraProblem.${problem}`)}
          data-testid="cashier-camera-problem"
        />
      ) : (
        <video ref={video} className="portal-camera" aria-label={t('cashier.camera')} />
      )}
    </Modal>
  );
}

function ChargeResult({ charge, onNext }: { charge: PaymentCodeCharge; onNext: () => void }) {
  const { t } = useTranslation('merchant');
  const status = {
    succeeded: 'success',
    awaiting_confirmation: 'info',
    declined: 'error',
    expired: 'warning',
    in_review: 'info',
    failed: 'error',
  } as const;
  return (
    <Result
      status={status[charge.status]}
      title={<span data-testid="cashier-result-title">{t(`cashier.result.${charge.status}`)}</span>}
      subTitle={
        <Space direction="vertical">
          <span className="portal-big-amount">
            <Money fen={charge.amount} testId="cashier-result-amount" />
          </span>
          {charge.status === 'awaiting_confirmation' && (
            <Typography.Text type="secondary">{t('cashier.waitingHint')}</Typography.Text>
          )}
          {charge.paymentId && (
            <Typography.Text type="secondary" data-testid="cashier-result-payment">
              {t('cashier.paymentId', { id: charge.paymentId })}
            </Typography.Text>
          )}
        </Space>
      }
      data-testid="cashier-result"
      data-status={charge.status}
      data-charge-id={charge.id}
      extra={
        <Button type="primary" size="large" onClick={onNext} autoFocus data-testid="cashier-next">
          {charge.status === 'awaiting_confirmation' ? t('cashier.newCharge') : t('cashier.next')}
        </Button>
      }
    />
  );
}
