/**
 * Callback delivery: POST the signed outcome to Yika; any 2xx ends delivery, anything else (or no
 * answer) is retried after base, 2×base, 4×base… for at most 6 attempts. Fault modes add copies, a
 * first copy with a wrong signature, and random hold-backs that shuffle the order of arrival.
 */
import type { FastifyBaseLogger } from 'fastify';
import { SIGNATURE_HEADER, signCallback } from './signature.js';
import type { Timers } from './timers.js';

export const CALLBACK_ATTEMPTS_MAX = 6;
export const CALLBACK_ATTEMPT_TIMEOUT_MS = 10_000;
/** With `reorder`, each copy is held back by up to max(2 × latencyMs, this). */
export const REORDER_WINDOW_MS_MIN = 100;

export interface CallbackSenderOptions {
  secret: string;
  retryBaseMs: number;
  timers: Timers;
  random: () => number;
  now: () => number;
  log: FastifyBaseLogger;
}

export interface DeliveryPlan {
  /** Extra copies besides the first (duplicateCallbacks). */
  duplicates: number;
  /** Send the first copy once with a wrong signature before delivering it correctly. */
  badSignatureFirst: boolean;
  /** Largest random hold-back per copy in ms; 0 sends at once. */
  holdBackMsMax: number;
}

export class CallbackSender {
  #aborter = new AbortController();

  constructor(private readonly options: CallbackSenderOptions) {}

  send(url: string, body: string, plan: DeliveryPlan): void {
    for (let copy = 0; copy <= plan.duplicates; copy += 1) {
      const badFirst = copy === 0 && plan.badSignatureFirst;
      const holdBackMs = plan.holdBackMsMax > 0 ? Math.floor(this.options.random() * plan.holdBackMsMax) : 0;
      this.options.timers.schedule(() => {
        if (!badFirst) return this.#attempt(url, body, 1);
        // The wrong signature first (Yika must refuse it), then the real delivery whatever Yika answered.
        void this.#post(url, body, false).then(() =>
          this.options.timers.schedule(() => this.#attempt(url, body, 1), 0),
        );
      }, holdBackMs);
    }
  }

  /** Aborts requests in flight; used by reset and close together with Timers.clear. */
  abortInFlight(): void {
    this.#aborter.abort();
    this.#aborter = new AbortController();
  }

  #attempt(url: string, body: string, attempt: number): void {
    void this.#post(url, body, true).then((delivered) => {
      if (delivered) return;
      if (attempt >= CALLBACK_ATTEMPTS_MAX) {
        this.options.log.warn({ url, attempts: attempt }, 'callback not delivered; giving up');
        return;
      }
      const delayMs = this.options.retryBaseMs * 2 ** (attempt - 1);
      this.options.timers.schedule(() => this.#attempt(url, body, attempt + 1), delayMs);
    });
  }

  /** One POST; resolves true on a 2xx and false on anything else. Never rejects. */
  async #post(url: string, body: string, signedCorrectly: boolean): Promise<boolean> {
    const t = Math.floor(this.options.now() / 1000);
    const signature = signCallback(signedCorrectly ? this.options.secret : `wrong:${this.options.secret}`, body, t);
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [SIGNATURE_HEADER]: signature },
        body,
        signal: AbortSignal.any([this.#aborter.signal, AbortSignal.timeout(CALLBACK_ATTEMPT_TIMEOUT_MS)]),
        redirect: 'manual',
      });
      await response.body?.cancel();
      return response.status >= 200 && response.status < 300;
    } catch (error) {
      this.options.log.debug({ url, err: error }, 'callback attempt failed');
      return false;
    }
  }
}
