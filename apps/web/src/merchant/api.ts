/**
 * The portal's connection to the API. Staff sign in like wallet customers (session cookie); every
 * `/v1/merchant/*` call then names the merchant it acts for with `x-yika-merchant-id`. `portal` is the typed
 * SDK client carrying that header; `fetchFile` downloads what is not JSON (CSV, QR images) with the same
 * headers, since an `<img src>` or a plain link cannot send them.
 */
import { createYikaClient, CSRF_HEADER, isProblem, type components } from '@yika/sdk';
import { ApiError, call } from '../lib/api.js';

export const MERCHANT_HEADER = 'x-yika-merchant-id';
const ACTIVE_KEY = 'yika.merchant.active';

let activeMerchantId: string | null = readSavedMerchant();

function readSavedMerchant(): string | null {
  try {
    return window.localStorage.getItem(ACTIVE_KEY);
  } catch {
    return null;
  }
}

export function savedMerchantId(): string | null {
  return activeMerchantId;
}

/** Which merchant the following calls act for (remembered, so a reload keeps it). */
export function setActiveMerchant(merchantId: string | null): void {
  activeMerchantId = merchantId;
  try {
    if (merchantId) window.localStorage.setItem(ACTIVE_KEY, merchantId);
    else window.localStorage.removeItem(ACTIVE_KEY);
  } catch {
    // storage blocked: kept for this page only
  }
}

function merchantHeaders(): Record<string, string> {
  return activeMerchantId ? { [MERCHANT_HEADER]: activeMerchantId } : {};
}

export const portal = createYikaClient({ baseUrl: '' });
portal.use({
  onRequest({ request }) {
    for (const [name, value] of Object.entries(merchantHeaders())) request.headers.set(name, value);
    return request;
  },
});

export { call };

export type Merchant = components['schemas']['Merchant'];
export type MerchantPayment = components['schemas']['MerchantPayment'];
export type Refund = components['schemas']['Refund'];
export type PaymentOrder = components['schemas']['PaymentOrder'];

/** Query values for a URL: empty, null and undefined are left out. */
export function queryString(query: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : '';
}

/** A problem answer as ApiError, the same way `call()` reports it. */
async function problemOf(response: Response): Promise<ApiError> {
  const body: unknown = await response.json().catch(() => null);
  if (isProblem(body)) return new ApiError(body.code, response.status, body.detail, body);
  return new ApiError(response.status >= 500 ? 'internal_error' : 'generic', response.status, response.statusText);
}

/** GET a file (CSV, PNG, SVG) as a Blob, with the session cookie and the merchant header. */
export async function fetchFile(path: string): Promise<Blob> {
  let response: Response;
  try {
    response = await fetch(path, { credentials: 'same-origin', headers: { ...merchantHeaders(), [CSRF_HEADER]: '1' } });
  } catch (error) {
    throw new ApiError('network', 0, error instanceof Error ? error.message : String(error));
  }
  if (!response.ok) throw await problemOf(response);
  return response.blob();
}

/** Saves a Blob under a file name through a temporary link. */
export function saveBlob(blob: Blob, fileName: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // The click has started the download; the URL is no longer needed once it has been read.
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
