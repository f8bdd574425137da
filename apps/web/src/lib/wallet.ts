/** Wallet reads shared by several screens. */
import type { Card, Movement, MovementType } from '@yika/sdk';
import { call, yika } from './api.js';

export async function loadCards(): Promise<Card[]> {
  return (await call(yika.GET('/v1/cards'))).cards;
}

export async function loadBalance() {
  return call(yika.GET('/v1/wallet'));
}

export interface MovementQuery {
  cursor?: string;
  limit?: number;
  type?: MovementType;
  from?: string;
  to?: string;
}

export async function loadMovements(
  query: MovementQuery,
): Promise<{ movements: Movement[]; nextCursor: string | null }> {
  return call(yika.GET('/v1/wallet/movements', { params: { query } }));
}

export function cardLabel(
  card: { bankName: { 'zh-CN': string; en: string }; last4: string },
  language: string,
): string {
  const bank = language === 'en' ? card.bankName.en : card.bankName['zh-CN'];
  return language === 'en' ? `${bank} (…${card.last4})` : `${bank}（${card.last4}）`;
}
