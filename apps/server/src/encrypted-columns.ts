/**
 * Every encrypted column of the server, as each module declares it: what `yika keys:reencrypt` moves to
 * the current key (platform/key-rotation.ts). Append a module's list when it starts encrypting a column;
 * the key-rotation test fails for a `*_ciphertext` or `*_enc` column that is not listed here.
 */
import { cardsEncryptedColumns } from './modules/cards/index.js';
import { identityEncryptedColumns } from './modules/identity/index.js';
import { merchantsEncryptedColumns } from './modules/merchants/index.js';
import { paymentsEncryptedColumns } from './modules/payments/index.js';
import type { EncryptedColumn } from './platform/key-rotation.js';

export const encryptedColumns: readonly EncryptedColumn[] = [
  ...identityEncryptedColumns,
  ...cardsEncryptedColumns,
  ...merchantsEncryptedColumns,
  ...paymentsEncryptedColumns,
];
