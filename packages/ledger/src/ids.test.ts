import { describe, expect, it } from 'vitest';
import { accountIdFor, expiryTransferId, isUuid, newId, transferId } from './ids.js';

describe('ids', () => {
  it('derives the same transfer id from the same business key and step, and different ids otherwise', () => {
    expect(transferId('order-1', 'capture')).toBe(transferId('order-1', 'capture'));
    expect(transferId('order-1', 'capture')).not.toBe(transferId('order-1', 'refund'));
    expect(transferId('order-1', 'capture')).not.toBe(transferId('order-2', 'capture'));
    expect(isUuid(transferId('order-1', 'capture'))).toBe(true);
  });

  it('derives account ids in their own namespace, so an account and a transfer never share an id', () => {
    expect(accountIdFor('wallet', 'c1')).toBe(accountIdFor('wallet', 'c1'));
    expect(accountIdFor('wallet', 'c1')).not.toBe(accountIdFor('merchant', 'c1'));
    expect(accountIdFor('wallet', 'c1')).not.toBe(transferId('wallet', 'c1'));
    expect(isUuid(accountIdFor('system', 'bank-clearing.CNY'))).toBe(true);
  });

  it('accepts canonical lower-case uuids only, never the nil uuid', () => {
    expect(isUuid(newId())).toBe(true);
    expect(isUuid(newId().toUpperCase())).toBe(false);
    expect(isUuid('00000000-0000-0000-0000-000000000000')).toBe(false);
    expect(isUuid('not-a-uuid')).toBe(false);
    expect(isUuid(expiryTransferId(newId()))).toBe(true);
  });
});
