/**
 * Text messages to customers' phones, behind one provider interface. `bank-sim` posts to the simulator
 * (whose inbox tests and demos read); `http` posts the same JSON to any provider that takes a bearer
 * token. Both bound each request with a timeout and retry a bounded number of times, and only on
 * failures a retry can cure (network errors, timeouts, 429, 5xx).
 */
import type { Config } from '../config.js';

export interface SmsMessage {
  /** E.164, e.g. `+8613800138000`. */
  to: string;
  text: string;
}

export interface SmsSender {
  /** Resolves when the provider accepted the message; throws `SmsDeliveryError` otherwise. */
  send(message: SmsMessage): Promise<{ messageId: string | null }>;
}

export class SmsDeliveryError extends Error {
  override readonly name = 'SmsDeliveryError';
}

export const SMS_ATTEMPTS_MAX = 3;
const RETRY_BASE_DELAY_MS = 100;

export interface HttpSmsOptions {
  url: string;
  token: string;
  timeoutMs: number;
  attemptsMax?: number;
  /** Waits between attempts; tests replace it. */
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** Posts `{ to, text }` as JSON with `authorization: Bearer <token>`; any 2xx is acceptance. */
export class HttpSmsSender implements SmsSender {
  readonly #options: Required<HttpSmsOptions>;

  constructor(options: HttpSmsOptions) {
    this.#options = { attemptsMax: SMS_ATTEMPTS_MAX, sleep: defaultSleep, ...options };
  }

  async send(message: SmsMessage): Promise<{ messageId: string | null }> {
    const { url, token, timeoutMs, attemptsMax, sleep } = this.#options;
    let lastProblem = 'no attempt made';
    for (let attempt = 1; attempt <= attemptsMax; attempt += 1) {
      if (attempt > 1) await sleep(RETRY_BASE_DELAY_MS * 2 ** (attempt - 2));
      let response: Response;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ to: message.to, text: message.text }),
          signal: AbortSignal.timeout(timeoutMs),
        });
      } catch (error) {
        lastProblem =
          error instanceof Error && error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'unreachable';
        continue;
      }
      const body = await response.text().catch(() => '');
      if (response.ok) return { messageId: messageIdOf(body) };
      lastProblem = `answered ${response.status}`;
      if (!retryable(response.status)) break;
    }
    throw new SmsDeliveryError(`SMS provider ${lastProblem}`);
  }
}

function messageIdOf(body: string): string | null {
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed === 'object' && parsed !== null && 'messageId' in parsed) {
      const id = parsed.messageId;
      return typeof id === 'string' ? id : null;
    }
  } catch {
    // A provider need not answer JSON.
  }
  return null;
}

/** The bank simulator's SMS endpoint (`POST /v1/sms`, PROTOCOL.md). */
export class BankSimSmsSender extends HttpSmsSender {
  constructor(options: Omit<HttpSmsOptions, 'url' | 'token'> & { baseUrl: string; apiKey: string }) {
    const { baseUrl, apiKey, ...rest } = options;
    super({ ...rest, url: new URL('/v1/sms', baseUrl).toString(), token: apiKey });
  }
}

export function createSmsSender(config: Config): SmsSender {
  switch (config.SMS_PROVIDER) {
    case 'bank-sim':
      return new BankSimSmsSender({
        baseUrl: config.BANK_SIM_URL,
        apiKey: config.BANK_SIM_API_KEY,
        timeoutMs: config.SMS_TIMEOUT_MS,
      });
    case 'http':
      // loadConfig refuses SMS_PROVIDER=http without SMS_HTTP_URL.
      return new HttpSmsSender({
        url: config.SMS_HTTP_URL ?? '',
        token: config.SMS_HTTP_TOKEN ?? '',
        timeoutMs: config.SMS_TIMEOUT_MS,
      });
  }
}
