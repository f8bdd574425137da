/**
 * Screenshots of every wallet screen at 390×844, in Chinese (and the home screen in English), written to
 * apps/web/test-results/screens/. The built app (apps/web/dist) is served by a tiny static server and the
 * API is answered with fixtures through Playwright's request interception, so every screen (including
 * loading-free, filled states) can be looked at without a server or bank.
 *
 *   npm run build -w apps/web && npm run screenshots -w apps/web
 */
import { readFile, mkdir } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Balance, Movement, MonthlyBill, Order } from '@yika/sdk';
import type { Page, Route } from 'playwright-core';
import QRCode from 'qrcode';
import { launchChromium, PHONE_VIEWPORT } from './browser.js';

const webRoot = fileURLToPath(new URL('..', import.meta.url));
const distDir = process.env.WEB_DIST_DIR ?? join(webRoot, 'dist');
const outDir = join(webRoot, 'test-results', 'screens');

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/** Serves dist/ with the SPA fallback, like the API server does. */
async function serveDist(): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const path = normalize(decodeURIComponent((request.url ?? '/').split('?')[0] ?? '/')).replace(/^(\.\.[/\\])+/, '');
    const file = join(distDir, path);
    const send = (filePath: string) =>
      readFile(filePath).then((body) => {
        response.writeHead(200, { 'content-type': contentTypes[extname(filePath)] ?? 'application/octet-stream' });
        response.end(body);
      });
    send(file).catch(() =>
      send(join(distDir, 'index.html')).catch(() => {
        response.writeHead(404);
        response.end('run `npm run build -w apps/web` first');
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const now = new Date('2026-11-25T08:30:00Z');
const minutesAgo = (minutes: number) => new Date(now.getTime() - minutes * 60_000).toISOString();
const card = {
  id: '0193a1b2-0000-7000-8000-000000000001',
  bankCode: 'ICBC',
  bankName: { 'zh-CN': '中国工商银行', en: 'ICBC' },
  cardType: 'debit',
  last4: '0123',
  createdAt: minutesAgo(60),
};

const fixtures = {
  profile: {
    customerId: '0193a1b2-0000-7000-8000-00000000000a',
    phone: '+8613800138000',
    status: 'active',
    accountClass: 'I',
    maskedName: null,
    frozenBy: null,
    kycVerified: false,
    pinSet: true,
    pinLockedUntil: null,
    totpEnabled: false,
    passkeyCount: 0,
    createdAt: minutesAgo(90),
  },
  balance: { currency: 'CNY', available: 5_000, held: 2_000 } satisfies Balance,
  movements: {
    movements: [
      {
        id: 'm4',
        type: 'withdrawal',
        amount: -2_000,
        counterparty: '中国工商银行（0123）',
        note: null,
        currency: 'CNY',
        status: 'processing',
        balanceAfter: 5_000,
        createdAt: minutesAgo(1),
      },
      {
        id: 'm3',
        type: 'p2p_out',
        amount: -3_000,
        counterparty: '*明',
        note: '午饭',
        currency: 'CNY',
        status: 'succeeded',
        balanceAfter: 7_000,
        createdAt: minutesAgo(5),
      },
      {
        id: 'm2',
        type: 'p2p_in',
        amount: 123_456,
        counterparty: '*红',
        note: null,
        currency: 'CNY',
        status: 'succeeded',
        balanceAfter: 10_000,
        createdAt: minutesAgo(30),
      },
      {
        id: 'm1',
        type: 'top_up',
        amount: 10_000,
        counterparty: '中国工商银行（0123）',
        note: null,
        currency: 'CNY',
        status: 'succeeded',
        balanceAfter: 10_000,
        createdAt: minutesAgo(40),
      },
    ],
    nextCursor: null,
  } satisfies { movements: Movement[]; nextCursor: string | null },
  bill: {
    month: '2026-11',
    currency: 'CNY',
    openingBalance: 0,
    closingBalance: 128_456,
    income: 133_456,
    spending: 5_000,
    byCategory: [
      { category: 'top_up', count: 1, amount: 10_000 },
      { category: 'p2p_in', count: 1, amount: 123_456 },
      { category: 'p2p_out', count: 1, amount: 3_000 },
      { category: 'withdrawal', count: 1, amount: 2_000 },
    ],
  } satisfies MonthlyBill,
  order: {
    id: '0193a1b2-0000-7000-8000-0000000000b1',
    kind: 'withdrawal',
    cardId: card.id,
    amount: 2_000,
    currency: 'CNY',
    status: 'processing',
    failureReason: null,
    createdAt: minutesAgo(1),
    completedAt: null,
  } satisfies Order,
  devices: {
    devices: [
      {
        id: 'd1',
        name: 'iPhone',
        clientDeviceId: 'x',
        userAgent: null,
        createdAt: minutesAgo(90),
        lastSeenAt: minutesAgo(1),
        current: true,
      },
      {
        id: 'd2',
        name: 'Web',
        clientDeviceId: 'y',
        userAgent: null,
        createdAt: minutesAgo(3000),
        lastSeenAt: minutesAgo(2000),
        current: false,
      },
    ],
  },
};

const paymentRequest = {
  id: '0193a1b2-0000-7000-8000-0000000000d1',
  requesterMaskedName: '*红',
  amount: 8_800,
  currency: 'CNY',
  note: '电影票',
  status: 'open',
  expiresAt: minutesAgo(-60 * 24),
};

// A 1×1 QR stand-in is unreadable; a small SVG square is enough to see the layout.
const qrSvgText =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 21 21"><rect width="21" height="21" fill="#fff"/><path d="M1 1h7v7H1zM13 1h7v7h-7zM1 13h7v7H1zM10 10h2v2h-2zM14 14h3v3h-3z" fill="#000"/></svg>';
const qrDataUrl = 'data:image/svg+xml;base64,' + Buffer.from(qrSvgText).toString('base64');

// Scan to pay and checkout: real EMVCo payloads (built by the server's buildYikaMpm, CRC included).
const merchant = { id: '0193a1b2-0000-7000-8000-0000000000f1', displayName: '老王面馆', city: '上海', mcc: '5812' };
const staticPayload =
  '00020101021126550011cn.yika.pay01360193a1b2-0000-7000-8000-0000000000f15204581253031565802CN5904老王面馆6002上海63049D25';
const dynamicPayload =
  '00020101021226550011cn.yika.pay01360193a1b2-0000-7000-8000-0000000000f1520458125303156540542.805802CN5904老王面馆6002上海623605320193a1b20000700080000000000000e363048425';
// The EMVCo specification's example: valid, but no Yika merchant account in it.
const foreignPayload =
  '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';
const dynamicOrderId = '0193a1b2-0000-7000-8000-0000000000e3';
const checkoutOrder = {
  id: '0193a1b2-0000-7000-8000-0000000000e1',
  merchantId: merchant.id,
  merchantName: '云端书店',
  channel: 'checkout',
  amount: 12_980,
  currency: 'CNY',
  description: '《三体》全集（精装）× 1',
  merchantOrderNo: 'BK20261125-0042',
  notifyUrl: 'https://books.example.cn/yika/notify',
  returnUrl: 'https://books.example.cn/orders/BK20261125-0042?paid=1',
  status: 'open',
  paymentId: null,
  qrPayload: dynamicPayload,
  // The page counts down against the browser's clock, not the fixtures' fixed `now`.
  expiresAt: new Date(Date.now() + 14.5 * 60_000).toISOString(),
  createdAt: minutesAgo(0.5),
};
const expiredOrder = {
  ...checkoutOrder,
  id: '0193a1b2-0000-7000-8000-0000000000e2',
  status: 'expired',
  expiresAt: minutesAgo(5),
};
function merchantPayment(amount: number, method: 'static_qr' | 'dynamic_qr' | 'checkout', name: string) {
  return {
    id: '0193a1b2-0000-7000-8000-0000000000a1',
    merchantId: merchant.id,
    merchantName: name,
    orderId: method === 'static_qr' ? null : dynamicOrderId,
    method,
    amount,
    fee: Math.round((amount * 60) / 10_000),
    feeRateBps: 60,
    refundedAmount: 0,
    currency: 'CNY',
    status: 'succeeded',
    createdAt: now.toISOString(),
  };
}
const problem = (code: string, status: number, title: string, detail: string, instance: string) => ({
  type: `urn:yika:problem:${code}`,
  title,
  status,
  detail,
  instance,
  code,
  requestId: 'r',
});

/** Answers /v1 like the server would, from the fixtures. `signedIn` switches GET /v1/me to 401. */
function api(state: { signedIn: boolean }) {
  return async (route: Route) => {
    const request = route.request();
    const url = new URL(request.url());
    const key = `${request.method()} ${url.pathname}`;
    const json = (status: number, body: unknown) =>
      route.fulfill({ status, contentType: 'application/json', body: JSON.stringify(body) });
    if (key === 'GET /v1/me')
      return state.signedIn
        ? json(200, fixtures.profile)
        : json(401, {
            type: 'urn:yika:problem:unauthenticated',
            title: 'Not signed in',
            status: 401,
            detail: 'Sign in first.',
            instance: '/v1/me',
            code: 'unauthenticated',
            requestId: 'r',
          });
    if (key === 'POST /v1/auth/otp') return json(202, { expiresInSeconds: 300, resendAfterSeconds: 60 });
    if (key === 'GET /v1/wallet') return json(200, fixtures.balance);
    if (key === 'GET /v1/cards') return json(200, { cards: [card] });
    if (key === 'POST /v1/cards/verifications')
      return json(201, {
        verificationId: '0193a1b2-0000-7000-8000-0000000000c1',
        bankName: card.bankName,
        cardType: 'debit',
        last4: '0123',
        expiresAt: minutesAgo(-5),
      });
    if (key === 'GET /v1/wallet/movements') return json(200, fixtures.movements);
    if (key.startsWith('GET /v1/wallet/bills/')) return json(200, fixtures.bill);
    if (key.startsWith('GET /v1/wallet/orders/')) return json(200, fixtures.order);
    if (key === 'POST /v1/wallet/payment-requests')
      return json(201, { ...paymentRequest, link: `${url.origin}/pay/${paymentRequest.id}`, qrSvg: qrSvgText });
    if (key.startsWith('GET /v1/wallet/payment-requests/')) return json(200, paymentRequest);
    if (key === 'POST /v1/wallet/payee-preview') return json(200, { maskedName: '*明' });
    if (key === 'POST /v1/wallet/transfers')
      return json(401, {
        type: 'urn:yika:problem:step_up_required',
        title: 'Confirmation required',
        status: 401,
        detail: 'Payments of 500000 fen or more need an SMS code, an authenticator code or a passkey besides the PIN.',
        instance: url.pathname,
        code: 'step_up_required',
        requestId: 'r',
      });
    if (key === 'POST /v1/me/otp') return json(202, { expiresInSeconds: 300 });
    if (key === 'GET /v1/me/limits')
      return json(200, {
        accountClass: 'I',
        perTransaction: 100_000,
        daily: 100_000,
        yearly: 100_000,
        yearlyPeriod: 'since_opening',
      });
    if (key === 'GET /v1/me/devices') return json(200, fixtures.devices);
    if (key === 'GET /v1/me/passkeys') return json(200, { passkeys: [] });
    if (key === 'POST /v1/payments/qr/preview') {
      const { payload } = request.postDataJSON() as { payload: string };
      if (!payload.includes('cn.yika.pay'))
        return json(
          422,
          problem(
            'qr_not_yika',
            422,
            'Not a Yika code',
            'This is a valid EMVCo code of BEST TRANSPORT, but not one Yika can pay.',
            url.pathname,
          ),
        );
      const dynamic = payload === dynamicPayload;
      return json(200, {
        kind: dynamic ? 'dynamic' : 'static',
        merchant,
        amount: dynamic ? 4_280 : null,
        currency: 'CNY',
        orderId: dynamic ? dynamicOrderId : null,
        description: dynamic ? '牛肉面 × 2' : null,
        expiresAt: dynamic ? new Date(Date.now() + 15 * 60_000).toISOString() : null,
      });
    }
    if (key === 'POST /v1/payments/qr/pay') {
      const body = request.postDataJSON() as { payload: string; amount?: number };
      const dynamic = body.payload === dynamicPayload;
      return json(
        201,
        merchantPayment(
          dynamic ? 4_280 : (body.amount ?? 0),
          dynamic ? 'dynamic_qr' : 'static_qr',
          merchant.displayName,
        ),
      );
    }
    if (key === `GET /v1/checkout/${checkoutOrder.id}`) return json(200, checkoutOrder);
    if (key === `GET /v1/checkout/${expiredOrder.id}`) return json(200, expiredOrder);
    if (key === `POST /v1/checkout/${checkoutOrder.id}/pay`)
      return json(201, merchantPayment(checkoutOrder.amount, 'checkout', checkoutOrder.merchantName));
    if (key === 'POST /v1/me/totp/enrolment')
      return json(201, { secret: 'JBSWY3DPEHPK3PXP', otpauthUri: 'otpauth://totp/Yika', qrDataUrl });
    return json(404, {
      type: 'urn:yika:problem:not_found',
      title: 'Not found',
      status: 404,
      detail: `fixture missing: ${key}`,
      instance: url.pathname,
      code: 'not_found',
      requestId: 'r',
    });
  };
}

async function shoot(page: Page, name: string, ready: string): Promise<void> {
  await page.getByTestId(ready).first().waitFor({ state: 'visible', timeout: 10_000 });
  // antd-mobile transitions; ECharts animates its first paint for about a second.
  await page.waitForTimeout(ready === 'bill-chart' ? 1_500 : 400);
  const path = join(outDir, `${name}.png`);
  await page.screenshot({ path });
  process.stdout.write(`${path}\n`);
}

/** Scan to pay (paste, picture, confirm, PIN, receipt, a foreign code) and the hosted checkout page. */
async function scanAndCheckout(page: Page, url: string): Promise<void> {
  await page.goto(`${url}/scan`);
  // Headless Chromium has no camera: the screen says so and offers the picture and paste instead.
  await page.getByTestId('scan-camera-problem').waitFor({ timeout: 10_000 });
  await page.getByTestId('scan-paste').locator('textarea').fill(staticPayload);
  await shoot(page, '25-scan-paste', 'scan-paste');
  await page.getByTestId('scan-paste-submit').click();
  await page.getByTestId('scan-amount-input').locator('input').fill('38.50');
  await shoot(page, '26-scan-confirm', 'scan-merchant-name');
  await page.getByTestId('scan-pay').click();
  await shoot(page, '27-scan-pin', 'pin-sheet');
  await page.getByTestId('pin-sheet-input').click();
  await page.keyboard.type('390517');
  await shoot(page, '28-scan-paid', 'payment-id');

  // A picture of a dynamic code, decoded in the browser (jsQR on a canvas), not by the fixture.
  await page.goto(`${url}/scan`);
  const picture = await QRCode.toBuffer(dynamicPayload, {
    type: 'png',
    errorCorrectionLevel: 'M',
    margin: 4,
    width: 600,
  });
  await page.getByTestId('scan-file').setInputFiles({ name: 'code.png', mimeType: 'image/png', buffer: picture });
  await shoot(page, '29-scan-dynamic-from-picture', 'scan-amount');

  await page.goto(`${url}/scan`);
  await page.getByTestId('scan-paste').locator('textarea').fill(foreignPayload);
  await page.getByTestId('scan-paste-submit').click();
  await shoot(page, '30-scan-not-yika', 'scan-error');

  await page.goto(`${url}/checkout/${checkoutOrder.id}`);
  await shoot(page, '31-checkout', 'checkout-countdown');
  await page.getByTestId('checkout-pay').click();
  await page.getByTestId('pin-sheet-input').click();
  await page.keyboard.type('390517');
  // Shot before the page leaves for the shop (after a few seconds).
  await shoot(page, '32-checkout-paid', 'checkout-return-url');
  await page.goto(`${url}/checkout/${expiredOrder.id}`);
  await shoot(page, '33-checkout-expired', 'checkout-closed');
}

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const { url, server } = await serveDist();
  const browser = await launchChromium();
  try {
    const state = { signedIn: false };
    const context = await browser.newContext({
      viewport: PHONE_VIEWPORT,
      deviceScaleFactor: 2,
      locale: 'zh-CN',
      isMobile: true,
      hasTouch: true,
    });
    await context.route('**/v1/**', api(state));
    const page = await context.newPage();
    page.on('pageerror', (error) => process.stderr.write(`page error: ${error.message}\n`));

    await page.goto(`${url}/login`);
    await shoot(page, '01-login-phone', 'login-phone');
    await page.getByTestId('login-phone').locator('input').fill('13800138000');
    await page.getByTestId('login-send-code').click();
    await page.getByTestId('login-code').locator('input').fill('123456');
    await shoot(page, '02-login-code', 'login-code-sent');

    state.signedIn = true;
    const screens: [string, string, string][] = [
      ['03-set-pin', '/pin/setup?from=register', 'set-pin-input'],
      ['04-home', '/', 'balance'],
      ['05-cards', '/cards', 'card-list'],
      ['07-top-up', '/top-up', 'move-amount'],
      ['08-withdraw', '/withdraw', 'move-amount'],
      ['09-order-processing', `/orders/${fixtures.order.id}`, 'order-where'],
      ['10-transfer-phone', '/transfer', 'transfer-phone'],
      ['13-request', '/request', 'request-create'],
      ['13c-pay-request', `/pay/${paymentRequest.id}`, 'pay-request-requester'],
      ['14-history', '/history', 'movement-list'],
      ['15-bill', '/bill/2026-11', 'bill-chart'],
      ['16-settings', '/settings', 'settings-pin'],
      ['17-change-pin', '/settings/pin', 'change-pin-input'],
      ['19-passkeys', '/settings/passkeys', 'passkeys-empty'],
      ['20-devices', '/settings/devices', 'device-list'],
      ['20b-kyc', '/settings/kyc', 'kyc-limits'],
      ['20c-freeze', '/settings/freeze', 'freeze-toggle'],
    ];
    for (const [name, path, ready] of screens) {
      await page.goto(`${url}${path}`);
      await shoot(page, name, ready);
    }

    await page.goto(`${url}/cards/bind`);
    await page.getByTestId('bind-card-number').locator('input').fill('6222 0212 3456 7890 128');
    await page.getByTestId('bind-holder-name').locator('input').fill('王小明');
    await page.getByTestId('bind-send-code').click();
    await shoot(page, '06-bind-card', 'bind-code-sent');

    await page.goto(`${url}/withdraw`);
    await page.getByTestId('move-amount').locator('input').fill('20');
    await page.getByTestId('move-submit').click();
    await shoot(page, '08b-withdraw-pin', 'pin-sheet');

    await page.goto(`${url}/transfer`);
    await page.getByTestId('transfer-phone').locator('input').fill('13900139000');
    await page.getByTestId('transfer-next').click();
    await page.getByTestId('transfer-amount').locator('input').fill('30.00');
    await page.getByTestId('transfer-note').locator('textarea').fill('午饭');
    await shoot(page, '11-transfer-confirm', 'transfer-payee-name');
    await page.getByTestId('transfer-submit').click();
    await shoot(page, '12-transfer-pin', 'pin-sheet');
    // A large payment: the fixture answers step_up_required, and the wallet asks for a second factor.
    await page.getByTestId('pin-sheet-input').click();
    await page.keyboard.type('390517');
    await page.getByTestId('step-up-send').click();
    await page.getByTestId('step-up-code').locator('input').fill('123456');
    await shoot(page, '12b-transfer-step-up', 'step-up-sheet');

    await page.goto(`${url}/request`);
    await page.getByTestId('request-amount-input').locator('input').fill('88');
    await page.getByTestId('request-note').locator('input').fill('电影票');
    await page.getByTestId('request-create').click();
    await shoot(page, '13b-request-created', 'request-qr');

    await page.goto(`${url}/settings/totp`);
    await page.getByTestId('totp-start').click();
    await shoot(page, '18-totp', 'totp-qr');

    await scanAndCheckout(page, url);

    await page.goto(`${url}/`);
    await page.getByTestId('language-toggle').click();
    await shoot(page, '21-home-en', 'balance');
    await page.goto(`${url}/history`);
    await shoot(page, '22-history-en', 'movement-list');
    await page.goto(`${url}/bill/2026-11`);
    await shoot(page, '23-bill-en', 'bill-chart');
    await page.goto(`${url}/checkout/${checkoutOrder.id}`);
    await shoot(page, '36-checkout-en', 'checkout-countdown');

    // Error states: the same screens when the API fails.
    await context.route('**/v1/wallet/movements**', (route) =>
      route.fulfill({
        status: 503,
        contentType: 'application/problem+json',
        body: JSON.stringify({
          type: 'urn:yika:problem:internal_error',
          title: 'Internal server error',
          status: 503,
          detail: 'Try again.',
          instance: '/v1/wallet/movements',
          code: 'internal_error',
          requestId: 'r',
        }),
      }),
    );
    await page.goto(`${url}/history`);
    await shoot(page, '24-history-error-en', 'history-error');
    await context.close();
  } finally {
    await browser.close();
    server.close();
  }
}

await main();
