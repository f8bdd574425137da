/**
 * QR codes: the static code (customer enters the amount) and dynamic codes (one order, fixed amount, single
 * use, expiring), as PNG/SVG downloads and a print sheet with the merchant's name and the amount.
 */
import { CloseCircleOutlined, DownloadOutlined, PrinterOutlined } from '@ant-design/icons';
import { App, Button, Card, Col, Form, Input, InputNumber, Row, Space, Tag, Typography } from 'antd';
import { useEffect, useState } from 'react';
import { useTranslation } from 'react-i18next';
import { fenToJson, parseYuan } from '../../lib/money.js';
import { useAsync } from '../../lib/use-async.js';
import { call, fetchFile, portal, saveBlob, type PaymentOrder } from '../api.js';
import { formatDateTime, InlineError, Money, PageError, PageLoading, PageTitle, problemText } from '../components.js';
import { useActiveMembership } from '../membership.js';

/** How often an open dynamic code's status is checked, and for how long at most. */
const ORDER_POLL_MS = 3_000;
const ORDER_POLLS_MAX = 200;
const EXPIRY_MINUTES_DEFAULT = 15;

/**
 * An image the API only gives with the merchant header: fetched as a Blob and shown as a data: URL (the
 * server's Content-Security-Policy allows data: images, not blob: ones).
 */
function useImage(path: string | null) {
  const [state, setState] = useState<{ url: string | null; error: unknown }>({ url: null, error: null });
  useEffect(() => {
    if (!path) return;
    let current = true;
    setState({ url: null, error: null });
    fetchFile(path)
      .then(dataUrlOf)
      .then(
        (url) => {
          if (current) setState({ url, error: null });
        },
        (error: unknown) => {
          if (current) setState({ url: null, error });
        },
      );
    return () => {
      current = false;
    };
  }, [path]);
  return state;
}

function dataUrlOf(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () =>
      typeof reader.result === 'string' ? resolve(reader.result) : reject(new Error('unreadable image'));
    reader.onerror = () => reject(reader.error ?? new Error('unreadable image'));
    reader.readAsDataURL(blob);
  });
}

async function download(path: string, fileName: string) {
  saveBlob(await fetchFile(path), fileName);
}

interface PrintSheet {
  imageUrl: string;
  amount: number | null;
  note: string | null;
}

export function QrCodes() {
  const { t } = useTranslation('merchant');
  const membership = useActiveMembership();
  const [print, setPrint] = useState<PrintSheet | null>(null);

  useEffect(() => {
    if (!print) return;
    // Print once the sheet has rendered; the dialog blocks until closed.
    const timer = window.setTimeout(() => window.print(), 50);
    return () => window.clearTimeout(timer);
  }, [print]);

  return (
    <div data-testid="page-qr">
      <PageTitle title={t('qr.title')} testId="qr-title" />
      <Row gutter={[16, 16]}>
        <Col xs={24} lg={10}>
          <StaticCode onPrint={setPrint} />
        </Col>
        <Col xs={24} lg={14}>
          <DynamicCode onPrint={setPrint} />
        </Col>
      </Row>
      {print && (
        <section className="portal-print-sheet" aria-hidden="true" data-testid="qr-print-sheet">
          <h1>{membership.displayName}</h1>
          <img src={print.imageUrl} alt="" />
          <p className="portal-print-amount">
            {print.amount === null ? t('qr.printAnyAmount') : <Money fen={print.amount} />}
          </p>
          {print.note && <p>{print.note}</p>}
          <p className="portal-print-hint">{t('qr.printHint')}</p>
        </section>
      )}
    </div>
  );
}

function StaticCode({ onPrint }: { onPrint: (sheet: PrintSheet) => void }) {
  const { t } = useTranslation('merchant');
  const { message } = App.useApp();
  const image = useImage('/v1/merchant/qr-codes/static/image?format=png');
  const payload = useAsync(() => call(portal.GET('/v1/merchant/qr-codes/static')), []);
  const save = (format: 'png' | 'svg') =>
    download(`/v1/merchant/qr-codes/static/image?format=${format}`, `yika-static-qr.${format}`).catch(
      (error: unknown) => {
        void message.error(problemText(t, error));
      },
    );

  return (
    <Card title={t('qr.staticTitle')} data-testid="qr-static">
      <Typography.Paragraph type="secondary">{t('qr.staticHint')}</Typography.Paragraph>
      <div className="portal-qr-frame">
        {image.error ? (
          <PageError error={image.error} testId="qr-static-error" />
        ) : image.url ? (
          <img src={image.url} alt={t('qr.staticAlt')} className="portal-qr" data-testid="qr-static-image" />
        ) : (
          <PageLoading testId="qr-static-loading" />
        )}
      </div>
      {payload.status === 'ready' && (
        <Typography.Paragraph
          copyable={{ text: payload.data.payload }}
          className="portal-payload"
          data-testid="qr-static-payload"
        >
          {payload.data.payload}
        </Typography.Paragraph>
      )}
      <Space wrap>
        <Button icon={<DownloadOutlined />} onClick={() => void save('png')} data-testid="qr-static-download-png">
          PNG
        </Button>
        <Button icon={<DownloadOutlined />} onClick={() => void save('svg')} data-testid="qr-static-download-svg">
          SVG
        </Button>
        <Button
          icon={<PrinterOutlined />}
          disabled={!image.url}
          onClick={() => image.url && onPrint({ imageUrl: image.url, amount: null, note: null })}
          data-testid="qr-static-print"
        >
          {t('qr.print')}
        </Button>
      </Space>
    </Card>
  );
}

function DynamicCode({ onPrint }: { onPrint: (sheet: PrintSheet) => void }) {
  const { t, i18n } = useTranslation('merchant');
  const { message } = App.useApp();
  const [order, setOrder] = useState<PaymentOrder | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const image = useImage(order ? `/v1/merchant/orders/${order.id}/qr?format=png` : null);

  // Follow an open code until it is paid, closed or expired.
  useEffect(() => {
    if (!order || order.status !== 'open') return;
    let polls = 0;
    const timer = window.setInterval(() => {
      polls += 1;
      if (polls > ORDER_POLLS_MAX) {
        window.clearInterval(timer);
        return;
      }
      call(portal.GET('/v1/merchant/orders/{id}', { params: { path: { id: order.id } } })).then(
        (next) => {
          if (next.status !== order.status) setOrder(next);
        },
        () => undefined, // a missed poll is retried by the next one
      );
    }, ORDER_POLL_MS);
    return () => window.clearInterval(timer);
  }, [order]);

  async function create(values: { amount: string; description?: string; minutes?: number | null }) {
    const fen = parseYuan(values.amount);
    if (fen === null) return;
    setBusy(true);
    setError(null);
    try {
      const created = await call(
        portal.POST('/v1/merchant/qr-codes/dynamic', {
          body: {
            amount: fenToJson(fen),
            ...(values.description?.trim() ? { description: values.description.trim() } : {}),
            expiresInSeconds: (values.minutes ?? EXPIRY_MINUTES_DEFAULT) * 60,
          },
        }),
      );
      setOrder(created);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  async function close() {
    if (!order) return;
    try {
      setOrder(await call(portal.POST('/v1/merchant/orders/{id}/close', { params: { path: { id: order.id } } })));
    } catch (caught) {
      void message.error(problemText(t, caught));
    }
  }

  return (
    <Card title={t('qr.dynamicTitle')} data-testid="qr-dynamic">
      <Typography.Paragraph type="secondary">{t('qr.dynamicHint')}</Typography.Paragraph>
      <Form
        layout="inline"
        onFinish={(values: { amount: string; description?: string; minutes?: number | null }) => void create(values)}
        initialValues={{ minutes: EXPIRY_MINUTES_DEFAULT }}
        data-testid="qr-dynamic-form"
      >
        <Form.Item
          name="amount"
          label={t('common.amount')}
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
            style={{ width: 140 }}
            data-testid="qr-dynamic-amount"
          />
        </Form.Item>
        <Form.Item name="description" label={t('qr.description')} rules={[{ max: 100 }]}>
          <Input maxLength={100} style={{ width: 180 }} data-testid="qr-dynamic-description" />
        </Form.Item>
        <Form.Item name="minutes" label={t('qr.expiresIn')}>
          <InputNumber
            min={1}
            max={120}
            suffix={t('qr.minutes')}
            style={{ width: 120 }}
            data-testid="qr-dynamic-minutes"
          />
        </Form.Item>
        <Form.Item>
          <Button type="primary" htmlType="submit" loading={busy} data-testid="qr-dynamic-create">
            {t('qr.create')}
          </Button>
        </Form.Item>
      </Form>
      <InlineError error={error} testId="qr-dynamic-error" />
      {order && (
        <div className="portal-dynamic-result" data-testid="qr-dynamic-result" data-order-id={order.id}>
          <div className="portal-qr-frame">
            {image.error ? (
              <PageError error={image.error} testId="qr-dynamic-image-error" />
            ) : image.url ? (
              <img
                src={image.url}
                alt={t('qr.dynamicAlt')}
                className={`portal-qr ${order.status === 'open' ? '' : 'portal-qr-done'}`}
                data-testid="qr-dynamic-image"
              />
            ) : (
              <PageLoading testId="qr-dynamic-loading" />
            )}
          </div>
          <Space direction="vertical">
            <span className="portal-big-amount">
              <Money fen={order.amount} testId="qr-dynamic-order-amount" />
            </span>
            <Tag
              color={{ open: 'blue', paid: 'green', closed: 'default', expired: 'orange' }[order.status]}
              data-testid="qr-dynamic-status"
              data-status={order.status}
            >
              {t(`orderStatus.${order.status}`)}
            </Tag>
            {order.description && <span>{order.description}</span>}
            <span className="portal-muted">
              {t('qr.expiresAt', { time: formatDateTime(order.expiresAt, i18n.language) })}
            </span>
            <Space wrap>
              <Button
                icon={<DownloadOutlined />}
                onClick={() =>
                  void download(`/v1/merchant/orders/${order.id}/qr?format=png`, `yika-order-${order.id}.png`).catch(
                    (caught: unknown) => void message.error(problemText(t, caught)),
                  )
                }
                data-testid="qr-dynamic-download-png"
              >
                PNG
              </Button>
              <Button
                icon={<DownloadOutlined />}
                onClick={() =>
                  void download(`/v1/merchant/orders/${order.id}/qr?format=svg`, `yika-order-${order.id}.svg`).catch(
                    (caught: unknown) => void message.error(problemText(t, caught)),
                  )
                }
                data-testid="qr-dynamic-download-svg"
              >
                SVG
              </Button>
              <Button
                icon={<PrinterOutlined />}
                disabled={!image.url || order.status !== 'open'}
                onClick={() =>
                  image.url && onPrint({ imageUrl: image.url, amount: order.amount, note: order.description })
                }
                data-testid="qr-dynamic-print"
              >
                {t('qr.print')}
              </Button>
              {order.status === 'open' && (
                <Button
                  icon={<CloseCircleOutlined />}
                  danger
                  onClick={() => void close()}
                  data-testid="qr-dynamic-close"
                >
                  {t('qr.close')}
                </Button>
              )}
            </Space>
          </Space>
        </div>
      )}
    </Card>
  );
}
