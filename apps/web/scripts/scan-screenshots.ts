/**
 * Scan to pay and the hosted checkout page against the real system, at 390×844 in headless Chromium: the bank
 * simulator and the API server run from source on free ports (throwaway DATA_DIR, an operations token) and
 * serve the built web app. A customer funded through a real card top-up pays a merchant's static code (pasted,
 * a wrong PIN first), its dynamic code (a picture of the server's own PNG, decoded in the browser), sees the
 * paid code refused and a broken CRC named; a visitor opens a checkout link, signs in, comes back, pays and is
 * sent to the shop's return URL. Each step is checked (the script stops on the first that fails) and captured
 * into apps/web/test-results/scan/.
 *
 *   npm run build -w apps/web && npm run screenshots:scan -w apps/web
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { APIRequestContext, Page } from 'playwright-core';
import { freePort, latestCode, repositoryRoot } from '../e2e/processes.js';
import { launchChromium, PHONE_VIEWPORT } from './browser.js';

const webRoot = fileURLToPath(new URL('..', import.meta.url));
const outDir = join(webRoot, 'test-results', 'scan');
const distDir = process.env.WEB_DIST_DIR ?? join(webRoot, 'dist');
const OPS_TOKEN = 'scan-screenshots-ops-token-0123456789';
const PIN = '390517';
const READY_TIMEOUT_MS = 90_000;
const ORDER_TIMEOUT_MS = 60_000;
const LOG_LINES_MAX = 200;
/** The server sends one sign-in code a minute per phone. */
const OTP_RESEND_MS = 62_000;

interface Child {
  name: string;
  process: ChildProcess;
  log: string[];
}

/** A workspace process from its TypeScript sources (no build of the server needed). */
function startFromSource(name: string, entry: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--conditions=@yika/source', '--import', 'tsx', entry], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log: string[] = [];
  const keep = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) log.push(line);
    if (log.length > LOG_LINES_MAX) log.splice(0, log.length - LOG_LINES_MAX);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return { name, process: child, log };
}

async function waitUntilReady(child: Child, url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.process.exitCode !== null) throw new Error(`${child.name} exited:\n${child.log.slice(-30).join('\n')}`);
    const ok = await fetch(url, { signal: AbortSignal.timeout(1_000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  throw new Error(`${child.name} not ready at ${url}:\n${child.log.slice(-30).join('\n')}`);
}

async function stop(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  child.process.kill('SIGTERM');
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** JSON over HTTP (plain fetch: the merchant's API key, operations); any other status stops the script. */
async function api<T>(
  base: string,
  method: string,
  path: string,
  options: { body?: unknown; headers?: Record<string, string>; expect?: number } = {},
): Promise<T> {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json' }), ...options.headers },
    ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
  });
  const text = await response.text();
  if (response.status !== (options.expect ?? 200)) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The same through the browser's cookie session (the wallet's own sign-in), with the CSRF header. */
async function asCustomer<T>(
  request: APIRequestContext,
  method: 'GET' | 'POST' | 'PUT',
  url: string,
  options: { body?: unknown; headers?: Record<string, string>; expect?: number } = {},
): Promise<T> {
  const response = await request.fetch(url, {
    method,
    headers: { 'x-yika-csrf': '1', ...options.headers },
    ...(options.body === undefined ? {} : { data: options.body }),
  });
  const text = await response.text();
  if (response.status() !== (options.expect ?? 200))
    throw new Error(`${method} ${url} → ${response.status()}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

function check(condition: boolean, what: string): void {
  if (!condition) throw new Error(`check failed: ${what}`);
  console.log(`  ok: ${what}`);
}

/** A Luhn-valid ICBC debit card number (BIN 622202). */
function debitCardNumber(): string {
  const body = `622202${String(Date.now()).slice(-12)}`;
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

async function shot(page: Page, name: string): Promise<void> {
  await page.waitForTimeout(400); // antd-mobile transitions
  await page.screenshot({ path: join(outDir, `${name}.png`) });
  console.log(`  ${name}.png`);
}

async function typePin(page: Page, pin: string): Promise<void> {
  await page.getByTestId('pin-sheet-input').click();
  await page.keyboard.type(pin);
}

interface System {
  serverUrl: string;
  bankSimUrl: string;
}

/** Signs the browser context in with an SMS code, sets the PIN, binds a card and tops up through the bank. */
async function fundCustomer(system: System, request: APIRequestContext, phone: string, fen: number): Promise<void> {
  const { serverUrl, bankSimUrl } = system;
  let sentAt = Date.now();
  await asCustomer(request, 'POST', `${serverUrl}/v1/auth/otp`, { body: { phone }, expect: 202 });
  const code = await latestCode(bankSimUrl, phone, sentAt);
  await asCustomer(request, 'POST', `${serverUrl}/v1/auth/sessions`, {
    body: { phone, code, client: 'web' },
    expect: 201,
  });
  await asCustomer(request, 'PUT', `${serverUrl}/v1/me/pin`, { body: { pin: PIN }, expect: 204 });
  sentAt = Date.now();
  const verification = await asCustomer<{ verificationId: string }>(
    request,
    'POST',
    `${serverUrl}/v1/cards/verifications`,
    { body: { cardNumber: debitCardNumber(), holderName: '王小明', phone }, expect: 201 },
  );
  const card = await asCustomer<{ id: string }>(
    request,
    'POST',
    `${serverUrl}/v1/cards/verifications/${verification.verificationId}/confirm`,
    { body: { code: await latestCode(bankSimUrl, phone, sentAt) }, expect: 201 },
  );
  const order = await asCustomer<{ id: string }>(request, 'POST', `${serverUrl}/v1/wallet/top-ups`, {
    headers: { 'idempotency-key': crypto.randomUUID() },
    body: { cardId: card.id, amount: fen },
    expect: 202,
  });
  const deadline = Date.now() + ORDER_TIMEOUT_MS;
  for (;;) {
    const current = await asCustomer<{ status: string }>(request, 'GET', `${serverUrl}/v1/wallet/orders/${order.id}`);
    if (current.status === 'succeeded') break;
    if (current.status === 'failed' || Date.now() > deadline) throw new Error(`top-up ended ${current.status}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/** An approved merchant with an API key. */
async function approvedMerchant(serverUrl: string): Promise<Record<string, string>> {
  const applied = await api<{ id: string }>(serverUrl, 'POST', '/v1/merchants/applications', {
    body: {
      legalName: '老王面馆餐饮有限公司',
      displayName: '老王面馆',
      mcc: '5812',
      contactName: '王小明',
      contactPhone: '+8613800138000',
      city: '上海',
      feeRateBps: 60,
    },
    expect: 201,
  });
  const ops = { authorization: `Bearer ${OPS_TOKEN}` };
  await api(serverUrl, 'POST', `/v1/ops/merchants/${applied.id}/decisions`, {
    headers: ops,
    body: { decision: 'approve' },
  });
  const key = await api<{ secret: string }>(serverUrl, 'POST', `/v1/ops/merchants/${applied.id}/api-keys`, {
    headers: ops,
    body: {},
    expect: 201,
  });
  return { authorization: `Bearer ${key.secret}` };
}

async function scanToPay(system: System, page: Page, merchant: Record<string, string>): Promise<number> {
  const { serverUrl } = system;
  const { payload: staticPayload } = await api<{ payload: string }>(serverUrl, 'GET', '/v1/merchant/qr-codes/static', {
    headers: merchant,
  });
  const dynamic = await api<{ id: string; qrPayload: string }>(serverUrl, 'POST', '/v1/merchant/qr-codes/dynamic', {
    headers: merchant,
    body: { amount: 4_280, description: '牛肉面 × 2' },
    expect: 201,
  });
  const picture = Buffer.from(
    await (
      await fetch(`${serverUrl}/v1/merchant/orders/${dynamic.id}/qr?format=png`, { headers: merchant })
    ).arrayBuffer(),
  );

  console.log('static code, pasted; a wrong PIN, then the right one');
  await page.goto(`${serverUrl}/scan`);
  await page.getByTestId('scan-camera-problem').waitFor(); // headless Chromium has no camera
  await page.getByTestId('scan-paste').locator('textarea').fill(staticPayload);
  await shot(page, '01-scan-paste');
  await page.getByTestId('scan-paste-submit').click();
  await page.getByTestId('scan-merchant-name').waitFor();
  check((await page.getByTestId('scan-merchant-name').textContent()) === '老王面馆', 'the merchant is named');
  check((await page.getByTestId('scan-merchant-city').textContent()) === '上海', 'its city is shown');
  await page.getByTestId('scan-amount-input').locator('input').fill('38.50');
  await shot(page, '02-scan-confirm');
  await page.getByTestId('scan-pay').click();
  await typePin(page, '111111');
  await page.getByTestId('pin-sheet-input-error').waitFor();
  await shot(page, '03-scan-wrong-pin');
  await typePin(page, PIN);
  await page.getByTestId('payment-id').waitFor();
  const paymentId = (await page.getByTestId('payment-id').textContent()) ?? '';
  await shot(page, '04-scan-paid');
  const payment = await asCustomer<{ amount: number; method: string }>(
    page.context().request,
    'GET',
    `${serverUrl}/v1/payments/${paymentId}`,
  );
  check(payment.amount === 3_850 && payment.method === 'static_qr', `payment ${paymentId}: 38.50 by static code`);

  console.log("dynamic code, from a picture of the server's PNG");
  await page.goto(`${serverUrl}/scan`);
  await page.getByTestId('scan-file').setInputFiles({ name: 'code.png', mimeType: 'image/png', buffer: picture });
  await page.getByTestId('scan-amount').waitFor();
  check(
    (await page.getByTestId('scan-amount').getAttribute('data-fen')) === '4280',
    'the picture reads as the 42.80 order',
  );
  await shot(page, '05-scan-dynamic');
  await page.getByTestId('scan-pay').click();
  await typePin(page, PIN);
  await page.getByTestId('payment-id').waitFor();
  await shot(page, '06-scan-dynamic-paid');

  console.log('the same dynamic code again, and a broken CRC');
  await page.goto(`${serverUrl}/scan`);
  await page.getByTestId('scan-paste').locator('textarea').fill(dynamic.qrPayload);
  await page.getByTestId('scan-paste-submit').click();
  await page.getByTestId('scan-pay').click();
  await typePin(page, PIN);
  await page.getByTestId('scan-pay-error').waitFor();
  check((await page.getByTestId('scan-pay-error').textContent()) === '这笔订单已经付过款了', 'a paid code is refused');
  await shot(page, '07-scan-order-paid');
  const lastDigit = staticPayload.at(-1) === '0' ? '1' : '0';
  await page.goto(`${serverUrl}/scan`);
  await page
    .getByTestId('scan-paste')
    .locator('textarea')
    .fill(staticPayload.slice(0, -1) + lastDigit);
  await page.getByTestId('scan-paste-submit').click();
  await page.getByTestId('scan-error-detail').waitFor();
  check(/^详细信息：63 /.test((await page.getByTestId('scan-error-detail').textContent()) ?? ''), 'the CRC is named');
  await shot(page, '08-scan-bad-crc');
  return 3_850 + 4_280;
}

async function checkout(system: System, visitorPage: Page, phone: string, merchant: Record<string, string>) {
  const { serverUrl, bankSimUrl } = system;
  const returnUrl = `${serverUrl}/history?from=shop`;
  const order = await api<{ id: string }>(serverUrl, 'POST', '/v1/merchant/orders', {
    headers: merchant,
    body: {
      amount: 12_980,
      description: '《三体》全集（精装）× 1',
      merchantOrderNo: 'BK20261125-0042',
      returnUrl,
      expiresInSeconds: 900,
    },
    expect: 201,
  });

  console.log('checkout: a visitor signs in, comes back, pays, returns to the shop');
  await visitorPage.goto(`${serverUrl}/checkout/${order.id}`);
  await visitorPage.getByTestId('login-phone').waitFor();
  await shot(visitorPage, '09-checkout-sign-in');
  await visitorPage.getByTestId('login-phone').locator('input').fill(phone.slice(3));
  const sentAt = Date.now();
  await visitorPage.getByTestId('login-send-code').click();
  await visitorPage
    .getByTestId('login-code')
    .locator('input')
    .fill(await latestCode(bankSimUrl, phone, sentAt));
  if (await visitorPage.getByTestId('login-submit').count()) await visitorPage.getByTestId('login-submit').click();
  await visitorPage.getByTestId('checkout-countdown').waitFor();
  check(visitorPage.url().endsWith(`/checkout/${order.id}`), 'signed in, the visitor is back on the checkout page');
  await shot(visitorPage, '10-checkout');
  await visitorPage.getByTestId('checkout-pay').click();
  await typePin(visitorPage, PIN);
  await visitorPage.getByTestId('checkout-return-url').waitFor();
  await shot(visitorPage, '11-checkout-paid');
  await visitorPage.waitForURL((url) => url.toString() === returnUrl, { timeout: 15_000 });
  check(true, 'the page went on to the return URL');
  const queried = await api<{ status: string }>(serverUrl, 'GET', `/v1/merchant/orders/${order.id}`, {
    headers: merchant,
  });
  check(queried.status === 'paid', 'the merchant sees the order paid');
  await visitorPage.goto(`${serverUrl}/checkout/${order.id}`);
  await visitorPage.getByTestId('checkout-closed').waitFor();
  check((await visitorPage.getByTestId('checkout-closed').getAttribute('data-status')) === 'paid', 'reopened: paid');
  await shot(visitorPage, '12-checkout-already-paid');

  const closed = await api<{ id: string }>(serverUrl, 'POST', '/v1/merchant/orders', {
    headers: merchant,
    body: { amount: 100, description: '已关闭的订单' },
    expect: 201,
  });
  await api(serverUrl, 'POST', `/v1/merchant/orders/${closed.id}/close`, { headers: merchant });
  await visitorPage.goto(`${serverUrl}/checkout/${closed.id}`);
  await visitorPage.getByTestId('checkout-closed').waitFor();
  check((await visitorPage.getByTestId('checkout-closed').getAttribute('data-status')) === 'closed', 'closed: closed');
  await shot(visitorPage, '13-checkout-closed');
  return 12_980;
}

async function main(): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'yika-scan-shots-'));
  const [serverPort, bankSimPort] = [await freePort(), await freePort()];
  const system = { serverUrl: `http://127.0.0.1:${serverPort}`, bankSimUrl: `http://127.0.0.1:${bankSimPort}` };
  const children: Child[] = [];
  const browser = await launchChromium();
  try {
    const bankSim = startFromSource('bank-sim', 'apps/bank-sim/src/main.ts', {
      BANK_SIM_HOST: '127.0.0.1',
      BANK_SIM_PORT: String(bankSimPort),
      BANK_SIM_API_KEY: 'scan-shots-bank-key',
      BANK_SIM_CALLBACK_SECRET: 'scan-shots-callback-secret',
      BANK_SIM_CALLBACK_RETRY_BASE_MS: '200',
      BANK_SIM_LOG_LEVEL: 'warn',
    });
    children.push(bankSim);
    await waitUntilReady(bankSim, `${system.bankSimUrl}/healthz`);
    const server = startFromSource('server', 'apps/server/src/main.ts', {
      NODE_ENV: 'development',
      HOST: '127.0.0.1',
      PORT: String(serverPort),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      SEED_DEMO_DATA: 'false',
      RATE_LIMIT_MAX: '0',
      BANK_SIM_URL: system.bankSimUrl,
      BANK_SIM_SPAWN: 'false',
      BANK_SIM_API_KEY: 'scan-shots-bank-key',
      BANK_CALLBACK_SECRET: 'scan-shots-callback-secret',
      PUBLIC_URL: system.serverUrl,
      BANK_POLL_AFTER_MS: '1000',
      BANK_POLL_INTERVAL_MS: '1000',
      OPS_API_TOKEN: OPS_TOKEN,
      WEB_DIST_DIR: distDir,
    });
    children.push(server);
    await waitUntilReady(server, `${system.serverUrl}/readyz`);

    const device = { viewport: PHONE_VIEWPORT, deviceScaleFactor: 2, locale: 'zh-CN', isMobile: true, hasTouch: true };
    const context = await browser.newContext(device);
    const page = await context.newPage();
    page.setDefaultTimeout(15_000);
    page.on('pageerror', (error) => console.error(`page error: ${error.message}`));
    const phone = `+86139${String(Date.now() % 100_000_000).padStart(8, '0')}`;
    const firstCodeAt = Date.now();
    await fundCustomer(system, context.request, phone, 50_000);
    const merchant = await approvedMerchant(system.serverUrl);
    let spent = await scanToPay(system, page, merchant);

    const visitor = await browser.newContext(device);
    const visitorPage = await visitor.newPage();
    visitorPage.setDefaultTimeout(15_000);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, firstCodeAt + OTP_RESEND_MS - Date.now())));
    spent += await checkout(system, visitorPage, phone, merchant);

    const balance = await asCustomer<{ available: number }>(context.request, 'GET', `${system.serverUrl}/v1/wallet`);
    check(
      balance.available === 50_000 - spent,
      `the wallet holds 500.00 less what was paid (${balance.available} fen)`,
    );
    await page.goto(`${system.serverUrl}/history`);
    await page.getByTestId('movement-list').waitFor();
    await shot(page, '14-history');
  } catch (error) {
    for (const child of children) console.error(`--- ${child.name}\n${child.log.slice(-30).join('\n')}`);
    throw error;
  } finally {
    await browser.close();
    for (const child of children.reverse()) await stop(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

await main();
