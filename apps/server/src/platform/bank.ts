/**
 * Yika's side of the bank gateway (apps/bank-sim/PROTOCOL.md): card verification, debits and credits
 * answered by signed callbacks, and the status query that recovers a lost callback. Every call has a
 * timeout and a bounded number of retries; the bank is idempotent on `requestId`, so a retry is safe.
 */
import { verifyCallbackSignature } from '@yika/bank-sim/signature';
import { DomainError } from './errors.js';

export interface BankGatewayOptions {
  baseUrl: string;
  apiKey: string;
  callbackSecret: string;
  /** Per attempt. */
  timeoutMs?: number;
  /** Attempts for network errors and 5xx answers. */
  attempts?: number;
}

export type BankPaymentKind = 'debit' | 'credit';
export type BankPaymentStatus = 'processing' | 'succeeded' | 'failed';

export interface BankPaymentOutcome {
  requestId: string;
  kind: BankPaymentKind;
  status: BankPaymentStatus;
  reason?: string;
  bankReference?: string;
  amount: number;
  currency: string;
}

/** The bank answered that it cannot do what was asked (a 4xx with a code). */
export class BankRefusedError extends DomainError {
  constructor(bankCode: string, detail: string) {
    super({ code: `bank_${bankCode}`.slice(0, 64), status: 422, title: 'Refused by the bank', detail });
  }
}

/** The bank could not be reached or failed; the operation may be retried later. */
export class BankUnavailableError extends DomainError {
  constructor(detail: string) {
    super({ code: 'bank_unavailable', status: 503, title: 'Bank unavailable', detail });
  }
}

export class BankGateway {
  readonly #options: Required<BankGatewayOptions>;

  constructor(options: BankGatewayOptions) {
    this.#options = { timeoutMs: 5_000, attempts: 3, ...options };
  }

  startCardVerification(input: { requestId: string; cardNumber: string; holderName: string; phone: string }) {
    return this.#call<{ verificationId: string; expiresAt: string }>('POST', '/v1/cards/verifications', input);
  }

  confirmCardVerification(verificationId: string, code: string) {
    return this.#call<{ cardToken: string; last4: string; cardType: string }>(
      'POST',
      `/v1/cards/verifications/${encodeURIComponent(verificationId)}/confirm`,
      { code },
    );
  }

  requestPayment(input: {
    requestId: string;
    kind: BankPaymentKind;
    cardToken: string;
    amount: bigint;
    currency: string;
    callbackUrl: string;
  }) {
    return this.#call<{ requestId: string; status: BankPaymentStatus }>('POST', '/v1/payments', {
      ...input,
      amount: Number(input.amount),
    });
  }

  /** The bank's view of a payment, or null when it never received the request. */
  async paymentStatus(requestId: string): Promise<BankPaymentOutcome | null> {
    try {
      return await this.#call<BankPaymentOutcome>('GET', `/v1/payments/${encodeURIComponent(requestId)}`);
    } catch (error) {
      if (error instanceof BankRefusedError && error.code === 'bank_not_found') return null;
      throw error;
    }
  }

  /** Verifies `x-bank-signature: t=…,v1=…` over the raw body; false for anything malformed or stale. */
  verifyCallback(header: string | undefined, rawBody: string, nowSeconds = Math.floor(Date.now() / 1000)): boolean {
    return verifyCallbackSignature(this.#options.callbackSecret, header, rawBody, nowSeconds);
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const { baseUrl, apiKey, timeoutMs, attempts } = this.#options;
    let lastError = 'no attempt made';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      try {
        const response = await fetch(new URL(path, baseUrl), {
          method,
          headers: {
            authorization: `Bearer ${apiKey}`,
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        const payload = (await response.json().catch(() => ({}))) as Record<string, unknown>;
        if (response.ok) return payload as T;
        if (response.status < 500) {
          const code = typeof payload.code === 'string' ? payload.code : `http_${response.status}`;
          throw new BankRefusedError(code, `The bank refused the request (${code}).`);
        }
        lastError = `HTTP ${response.status}`;
      } catch (error) {
        if (error instanceof BankRefusedError) throw error;
        lastError = error instanceof Error ? error.message : String(error);
      }
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
    }
    throw new BankUnavailableError(`The bank did not answer (${lastError}).`);
  }
}
