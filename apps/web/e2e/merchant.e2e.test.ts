/**
 * Merchants end to end, as issue #4 states it: a merchant signs up in the portal and operations approve
 * it; the merchant binds a settlement card, registers a webhook endpoint and prints a dynamic QR code; a
 * customer scans the downloaded picture in the wallet and pays it with the PIN; the merchant sees the
 * payment and refunds half; the webhooks arrive signed at a test endpoint; the next business day's
 * settlement pays the merchant out and its file ties to the ledger (`yika settlement:verify`).
 * Real server and bank simulator (child processes), headless Chromium: the portal at 1440×900, the wallet
 * at 390×844. Screens are kept in apps/web/test-results/e2e-merchant/.
 *
 *   npm run build && npm run test:e2e -w apps/web
 */
import { createHmac } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, PHONE_VIEWPORT } from '../scripts/browser.js';
import { latestCode, startSystem, type System } from './processes.js';

const resultsDir = fileURLToPath(new URL('../test-results/e2e-merchant/', import.meta.url));
const OPS_TOKEN = 'e2e-ops-token-0123456789abcdef';
const ORDER_AMOUNT = 88_00;
const FEE_RATE_BPS = 60;
const SETTLEMENT_TIMEOUT_MS = 60_000;

function uniquePhone(prefix: string): string {
  return `+86${prefix}${String(Date.now() % 100_000_000).padStart(8, '0')}`;
}

function luhnCard(prefix: string): string {
  const body = `${prefix}${String(Date.now()).slice(-(18 - prefix.length))}`;
  let sum = 0;
  for (let index = 0; index < body.length; index++) {
    let digit = Number(body[body.length - 1 - index]);
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

/** Local wall-clock time in Asia/Shanghai, `HH:MM:SS`, `seconds` from now. */
function shanghaiTimeIn(seconds: number): string {
  return new Intl.DateTimeFormat('en-GB', {
    timeZone: 'Asia/Shanghai',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  }).format(new Date(Date.now() + seconds * 1_000));
}

const owner = { phone: uniquePhone('158') };
const customer = { phone: uniquePhone('139'), pin: '390517' };

interface Delivery {
  signature: string;
  body: string;
  event: { type: string; data: Record<string, unknown> };
}

let system: System | undefined;
let browser: Browser | undefined;
let portalContext: BrowserContext;
let walletContext: BrowserContext;
let portal: Page;
let wallet: Page;
let hooks: Server | undefined;
const deliveries: Delivery[] = [];
let hookUrl = '';
let webhookSecret = '';
let merchantId = '';
let qrPicture = '';
let paymentId = '';
let failedStep: string | null = null;
let setupError: Error | null = null;

async function shoot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(resultsDir, `${name}.png`), fullPage: true });
}

function step(name: string, body: () => Promise<void>, timeoutMs?: number) {
  it(
    name,
    async () => {
      if (setupError) throw setupError;
      if (failedStep) throw new Error(`not run: the earlier step "${failedStep}" failed`);
      try {
        await body();
      } catch (error) {
        failedStep = name;
        const slug = name.replace(/\W+/g, '-');
        await shoot(portal, `failed-portal-${slug}`).catch(() => undefined);
        await shoot(wallet, `failed-wallet-${slug}`).catch(() => undefined);
        if (system) process.stderr.write(`\nprocess logs at the failure of "${name}":\n${system.logs()}\n`);
        throw error;
      }
    },
    timeoutMs,
  );
}

/** Fills an antd input (the test id sits on the input itself) or an antd-mobile one (on its wrapper). */
async function fill(page: Page, testId: string, value: string): Promise<void> {
  const target = page.getByTestId(testId);
  const isInput = await target.evaluate((element) => element.tagName === 'INPUT' || element.tagName === 'TEXTAREA');
  await (isInput ? target : target.locator('input, textarea').first()).fill(value);
}

/** A JSON call from inside a page, with its session cookie and the CSRF header. */
async function pageApi<T>(
  page: Page,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const response = await page.request.fetch(`${system!.serverUrl}${path}`, {
    method,
    headers: { 'x-yika-csrf': '1', ...headers },
    ...(body === undefined ? {} : { data: body }),
  });
  const text = await response.text();
  if (!response.ok()) throw new Error(`${method} ${path} → ${response.status()}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

function verifySignature(delivery: Delivery): boolean {
  const parts = Object.fromEntries(delivery.signature.split(',').map((part) => part.split('=', 2) as [string, string]));
  const expected = createHmac('sha256', webhookSecret).update(`${parts.t}.${delivery.body}`).digest('hex');
  return parts.v1 === expected && Math.abs(Date.now() / 1000 - Number(parts.t)) < 300;
}

describe('merchants, end to end', () => {
  beforeAll(async () => {
    try {
      await mkdir(resultsDir, { recursive: true });
      hooks = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          deliveries.push({
            signature: String(request.headers['yika-signature'] ?? ''),
            body,
            event: JSON.parse(body) as Delivery['event'],
          });
          response.writeHead(204).end();
        });
      });
      await new Promise<void>((resolve) => hooks!.listen(0, '127.0.0.1', resolve));
      const address = hooks.address();
      hookUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/yika-webhooks`;
      browser = await launchChromium();
      system = await startSystem({
        env: {
          OPS_API_TOKEN: OPS_TOKEN,
          WEBHOOK_ALLOW_PRIVATE_NETWORKS: 'true',
          SETTLEMENT_GRACE_MS: '1000',
          SETTLEMENT_INTERVAL_MS: '1000',
        },
      });
      portalContext = await browser.newContext({
        viewport: { width: 1440, height: 900 },
        locale: 'zh-CN',
        timezoneId: 'Asia/Shanghai',
        acceptDownloads: true,
      });
      walletContext = await browser.newContext({
        viewport: PHONE_VIEWPORT,
        locale: 'zh-CN',
        timezoneId: 'Asia/Shanghai',
        isMobile: true,
        hasTouch: true,
      });
      portal = await portalContext.newPage();
      wallet = await walletContext.newPage();
      portal.setDefaultTimeout(15_000);
      wallet.setDefaultTimeout(15_000);
    } catch (error) {
      setupError = error instanceof Error ? error : new Error(String(error));
    }
  });

  afterAll(async () => {
    await browser?.close();
    await system?.stop();
    await new Promise((resolve) => hooks?.close(resolve));
  });

  step('a merchant signs up in the portal and waits for review', async () => {
    const { serverUrl, bankSimUrl } = system!;
    await portal.goto(`${serverUrl}/merchant`);
    await portal.getByTestId('portal-signin').waitFor();
    await fill(portal, 'signin-phone', owner.phone.slice(3));
    const sentAt = Date.now();
    await portal.getByTestId('signin-send-code').click();
    await fill(portal, 'signin-code', await latestCode(bankSimUrl, owner.phone, sentAt));
    await shoot(portal, '01-portal-sign-in');
    await portal.getByTestId('signin-submit').click();
    await portal.getByTestId('onboarding-form').waitFor();
    await fill(portal, 'onboarding-legal-name', '上海小王餐饮管理有限公司');
    await fill(portal, 'onboarding-display-name', '小王面馆');
    await portal.getByTestId('onboarding-mcc').click();
    await portal.locator('.ant-select-item-option[title^="5812"]').click();
    await fill(portal, 'onboarding-contact-name', '王小明');
    await fill(portal, 'onboarding-contact-phone', owner.phone.slice(3));
    await fill(portal, 'onboarding-city', 'Shanghai');
    await expect.poll(() => portal.getByTestId('onboarding-fee').textContent()).toContain('0.60');
    await shoot(portal, '02-onboarding');
    await portal.getByTestId('onboarding-submit').click();
    await portal.getByTestId('review-status').waitFor();
    await shoot(portal, '03-pending-review');
    const { items } = await pageApi<{ items: { merchantId: string; role: string; status: string }[] }>(
      portal,
      'GET',
      '/v1/me/merchants',
    );
    expect(items).toEqual([expect.objectContaining({ role: 'owner', status: 'pending' })]);
    merchantId = items[0]!.merchantId;
  });

  step('operations approve it and the portal opens', async () => {
    const approved = await fetch(`${system!.serverUrl}/v1/ops/merchants/${merchantId}/decisions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPS_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ decision: 'approve' }),
    });
    expect(approved.status, await approved.text()).toBe(200);
    await portal.getByTestId('review-refresh').click();
    await portal.getByTestId('page-dashboard').waitFor();
    await expect.poll(() => portal.getByTestId('portal-merchant-name').textContent()).toContain('小王面馆');
    await shoot(portal, '04-dashboard-empty');
  });

  step('binds a settlement card verified by the bank and adds a webhook endpoint', async () => {
    const { serverUrl, bankSimUrl } = system!;
    await portal.goto(`${serverUrl}/merchant/settlements`);
    await portal.getByTestId('settlement-account-change').click();
    await portal.getByTestId('settlement-account-form').waitFor();
    await fill(portal, 'settlement-account-card', luhnCard('622202'));
    await fill(portal, 'settlement-account-holder', '上海小王餐饮管理有限公司');
    await fill(portal, 'settlement-account-phone', owner.phone.slice(3));
    const sentAt = Date.now();
    await portal.getByTestId('settlement-account-send').click();
    await fill(portal, 'settlement-account-code', await latestCode(bankSimUrl, owner.phone, sentAt));
    await portal.getByTestId('settlement-account-confirm').click();
    await portal.getByTestId('settlement-account-details').waitFor();
    await shoot(portal, '05-settlement-account');

    await portal.goto(`${serverUrl}/merchant/webhooks`);
    await portal.getByTestId('webhook-add').click();
    await fill(portal, 'webhook-url', hookUrl);
    await portal.getByTestId('webhook-submit').click();
    const secret = portal.getByTestId('webhook-secret');
    await secret.waitFor();
    webhookSecret = ((await secret.textContent()) ?? '').trim();
    expect(webhookSecret).toMatch(/\S{16,}/);
    await shoot(portal, '06-webhook-endpoint');
  });

  step('prints a dynamic QR code for 88.00 and downloads its picture', async () => {
    await portal.goto(`${system!.serverUrl}/merchant/qr-codes`);
    await fill(portal, 'qr-dynamic-amount', '88.00');
    await fill(portal, 'qr-dynamic-description', '牛肉面两碗');
    await portal.getByTestId('qr-dynamic-create').click();
    await portal.getByTestId('qr-dynamic-image').waitFor();
    await shoot(portal, '07-dynamic-qr');
    const [download] = await Promise.all([
      portal.waitForEvent('download'),
      portal.getByTestId('qr-dynamic-download-png').click(),
    ]);
    qrPicture = join(resultsDir, 'dynamic-qr.png');
    await download.saveAs(qrPicture);
    expect((await readFile(qrPicture)).subarray(1, 4).toString('latin1')).toBe('PNG');
  });

  step('a customer with money in the wallet scans the picture and pays with the PIN', async () => {
    const { serverUrl, bankSimUrl } = system!;
    await wallet.goto(`${serverUrl}/`);
    await wallet.getByTestId('screen-login').waitFor();
    await fill(wallet, 'login-phone', customer.phone.slice(3));
    const sentAt = Date.now();
    await wallet.getByTestId('login-send-code').click();
    await fill(wallet, 'login-code', await latestCode(bankSimUrl, customer.phone, sentAt));
    await wallet.getByTestId('login-submit').click();
    await wallet.getByTestId('screen-set-pin').waitFor();
    for (let time = 0; time < 2; time++) {
      await wallet.getByTestId('set-pin-input').click();
      await wallet.keyboard.type(customer.pin);
      if (time === 0)
        await wallet
          .getByTestId('set-pin-prompt')
          .filter({ hasText: /再次|again/ })
          .waitFor();
    }
    await wallet.getByTestId('screen-home').waitFor();

    // Money in through the bank, as the wallet's own test does it on screen.
    const cardSentAt = Date.now();
    const verification = await pageApi<{ verificationId: string }>(wallet, 'POST', '/v1/cards/verifications', {
      cardNumber: luhnCard('621700'),
      holderName: '李小红',
      phone: customer.phone,
    });
    const card = await pageApi<{ id: string }>(
      wallet,
      'POST',
      `/v1/cards/verifications/${verification.verificationId}/confirm`,
      {
        code: await latestCode(bankSimUrl, customer.phone, cardSentAt),
      },
    );
    const topUp = await pageApi<{ id: string }>(
      wallet,
      'POST',
      '/v1/wallet/top-ups',
      { cardId: card.id, amount: 200_00 },
      { 'idempotency-key': `e2e-top-up-${Date.now()}` },
    );
    await expect
      .poll(async () => (await pageApi<{ status: string }>(wallet, 'GET', `/v1/wallet/orders/${topUp.id}`)).status, {
        timeout: 30_000,
        interval: 500,
      })
      .toBe('succeeded');

    await wallet.goto(`${serverUrl}/scan`);
    await wallet.getByTestId('scan-file').setInputFiles(qrPicture);
    await wallet.getByTestId('scan-merchant-name').waitFor();
    await expect.poll(() => wallet.getByTestId('scan-merchant-name').textContent()).toContain('小王面馆');
    await expect.poll(() => wallet.getByTestId('scan-amount').textContent()).toContain('88.00');
    await shoot(wallet, '08-wallet-scan-confirm');
    await wallet.getByTestId('scan-pay').click();
    await wallet.getByTestId('pin-sheet').waitFor();
    await wallet.getByTestId('pin-sheet-input').click();
    await wallet.keyboard.type(customer.pin);
    await wallet.getByTestId('scan-done').waitFor();
    paymentId = ((await wallet.getByTestId('payment-id').textContent()) ?? '').trim();
    expect(paymentId).toMatch(/^[0-9a-f-]{36}$/);
    await shoot(wallet, '09-wallet-paid');
  });

  step('the merchant sees the payment and refunds half of it', async () => {
    await portal.goto(`${system!.serverUrl}/merchant/transactions`);
    const row = portal.getByTestId(`payment-row-${paymentId}`);
    await row.waitFor();
    await shoot(portal, '10-transactions');
    await portal.getByTestId(`payment-open-${paymentId}`).click();
    await portal.getByTestId('refund-form').waitFor();
    await fill(portal, 'refund-amount', '44.00');
    await fill(portal, 'refund-reason', '少了一碗');
    await portal.getByTestId('refund-submit').click();
    await expect.poll(() => portal.locator('[data-testid^="refund-row-"]').count(), { timeout: 15_000 }).toBe(1);
    await shoot(portal, '11-refunded-half');
  });

  step('the webhooks arrive signed at the test endpoint', async () => {
    await expect
      .poll(() => deliveries.map((delivery) => delivery.event.type).sort(), { timeout: 30_000, interval: 250 })
      .toEqual(expect.arrayContaining(['payment.succeeded', 'refund.succeeded']));
    for (const delivery of deliveries) expect(verifySignature(delivery), delivery.body).toBe(true);
    const payment = deliveries.find((delivery) => delivery.event.type === 'payment.succeeded')!;
    expect(JSON.stringify(payment.event.data)).toContain(paymentId);
    await portal.goto(`${system!.serverUrl}/merchant/webhooks`);
    await portal.locator('[data-testid^="webhook-replay-"]').first().waitFor();
    await shoot(portal, '12-webhook-deliveries');
  });

  step(
    "the next business day's settlement pays out net of the refund and fees, and its file ties to the ledger",
    async () => {
      // Today's business date closes at its cut-off; restart the server with the cut-off seconds away.
      await system!.whileServerStopped(async () => undefined, { SETTLEMENT_CUTOFF: shanghaiTimeIn(5) });
      const fee = Math.floor((ORDER_AMOUNT * FEE_RATE_BPS + 5_000) / 10_000);
      const refundedFee = Math.floor((fee * 4_400 + 4_400) / 8_800);
      type Settlement = {
        id: string;
        status: string;
        gross: number;
        refunds: number;
        fees: number;
        net: number;
        businessDate: string;
      };
      let settlement: Settlement | undefined;
      await expect
        .poll(
          async () => {
            const { items } = await pageApi<{ items: Settlement[] }>(
              portal,
              'GET',
              '/v1/merchant/settlements',
              undefined,
              {
                'x-yika-merchant-id': merchantId,
              },
            );
            settlement = items.find((item) => item.gross > 0);
            return settlement?.status;
          },
          { timeout: SETTLEMENT_TIMEOUT_MS, interval: 1_000 },
        )
        .toBe('paid');
      expect(settlement).toMatchObject({ gross: ORDER_AMOUNT, refunds: 44_00 });
      expect(settlement!.net).toBe(ORDER_AMOUNT - 44_00 - settlement!.fees);
      expect(settlement!.fees).toBe(fee - refundedFee);

      await portal.goto(`${system!.serverUrl}/merchant/settlements`);
      const fileLink = portal.getByTestId(`settlement-file-${settlement!.businessDate}`);
      await fileLink.waitFor();
      await shoot(portal, '13-settlements');
      const [download] = await Promise.all([portal.waitForEvent('download'), fileLink.click()]);
      const file = join(resultsDir, 'settlement.csv');
      await download.saveAs(file);
      const csv = await readFile(file, 'utf8');
      expect(csv).toContain(paymentId);
      expect(csv).toContain('88.00');
      expect(csv).toContain('44.00');

      const verified = await system!.whileServerStopped(() => system!.cli(['settlement:verify']));
      expect(verified.code, verified.output).toBe(0);
      await expect
        .poll(() => deliveries.some((delivery) => delivery.event.type === 'settlement.completed'), { timeout: 30_000 })
        .toBe(true);
    },
    SETTLEMENT_TIMEOUT_MS * 3,
  );
});
