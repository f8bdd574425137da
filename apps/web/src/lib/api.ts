/**
 * The wallet's one connection to the API: the typed SDK client, and `call()`, which turns openapi-fetch's
 * `{ data, error }` into a value or a thrown `ApiError` carrying the problem's stable `code`.
 */
import { createYikaClient, isProblem, type Problem } from '@yika/sdk';
import type { TFunction } from 'i18next';

export const yika = createYikaClient({ baseUrl: '' });

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: string,
    readonly status: number,
    detail: string,
    readonly problem?: Problem,
  ) {
    super(detail);
  }
}

/** Listeners told when any call answers 401, so the app can go back to sign-in. */
const unauthenticatedListeners = new Set<() => void>();
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

interface FetchResult<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

/** Awaits an SDK call; returns its data or throws ApiError (also for network failures: code `network`). */
export async function call<T>(request: Promise<FetchResult<T>>): Promise<T> {
  let result: FetchResult<T>;
  try {
    result = await request;
  } catch (error) {
    throw new ApiError('network', 0, error instanceof Error ? error.message : String(error));
  }
  const { data, error, response } = result;
  if (response.ok) return data as T;
  // Only a missing or ended session signs the app out: `step_up_required` is a 401 as well.
  const code = isProblem(error) ? error.code : null;
  if (response.status === 401 && (code === null || code === 'unauthenticated')) {
    for (const listener of unauthenticatedListeners) listener();
  }
  if (isProblem(error)) throw new ApiError(error.code, response.status, error.detail, error);
  throw new ApiError(response.status >= 500 ? 'internal_error' : 'generic', response.status, response.statusText);
}

/** A localized sentence for an error: per problem code, else the server's `detail`, else a generic one. */
export function errorMessage(t: TFunction, error: unknown, overrides: Record<string, string> = {}): string {
  if (error instanceof ApiError) {
    const override = overrides[error.code];
    if (override) return t(override);
    const key = `errors.${error.code}`;
    const known = t(key, { defaultValue: '' });
    if (known) return known;
    return error.message || t('errors.generic');
  }
  return t('errors.generic');
}
