/**
 * Bound bank cards. Binding is one screen: card number, the phone number the bank holds, and the code the
 * bank sends to that phone. The full number is encrypted at rest and never shown again; customers see the
 * bank and the last four digits. The bank's card token (what payments use) is encrypted too.
 */
import type { Database, Migration } from '@yika/db';
import { newId } from '@yika/ledger';
import type { AuditTrail } from '../../platform/audit.js';
import type { BankGateway } from '../../platform/bank.js';
import type { DataCipher } from '../../platform/crypto.js';
import { DomainError, NotFoundError } from '../../platform/errors.js';
import type { EncryptedColumn } from '../../platform/key-rotation.js';
import { bankNameOf, lookupBin, luhnValid, type BinInfo } from './bins.js';

export const cardsMigrations: Migration[] = [
  {
    id: 'cards/0001_cards',
    sql: `
create table card_verifications (
  id uuid primary key,
  customer_id uuid not null,
  bank_verification_id text not null,
  card_number_enc text not null,
  card_number_index text not null,
  last4 text not null,
  bank_code text not null,
  card_type text not null,
  status text not null check (status in ('pending', 'confirmed')),
  expires_at timestamptz not null,
  created_at timestamptz not null default now()
);
create index card_verifications_customer on card_verifications (customer_id, created_at desc);

create table cards (
  id uuid primary key,
  customer_id uuid not null,
  card_number_enc text not null,
  card_number_index text not null,
  bank_token_enc text not null,
  last4 text not null,
  bank_code text not null,
  card_type text not null,
  status text not null check (status in ('active', 'unbound')),
  created_at timestamptz not null default now(),
  unbound_at timestamptz
);
create unique index cards_one_active_binding on cards (customer_id, card_number_index) where status = 'active';
`,
  },
];

/** What `yika keys:reencrypt` re-encrypts in this module (contexts as `startBinding` and `confirmBinding` write them). */
export const cardsEncryptedColumns: readonly EncryptedColumn[] = [
  { table: 'card_verifications', column: 'card_number_enc', context: (row) => `card:${row.id}` },
  { table: 'cards', column: 'card_number_enc', context: (row) => `card:${row.id}` },
  { table: 'cards', column: 'bank_token_enc', context: (row) => `card-token:${row.id}` },
];

/** Most cards one customer may have bound at once. */
export const CARDS_PER_CUSTOMER_MAX = 10;

export interface CardView {
  id: string;
  bankCode: string;
  bankName: BinInfo['bankName'];
  cardType: 'debit' | 'credit';
  last4: string;
  createdAt: string;
}

export class CardError extends DomainError {}

interface CardRow {
  id: string;
  customer_id: string;
  bank_token_enc: string;
  last4: string;
  bank_code: string;
  card_type: 'debit' | 'credit';
  card_number_index: string;
  created_at: Date | string;
}

export class CardsService {
  readonly #db: Database;
  readonly #bank: BankGateway;
  readonly #cipher: DataCipher;
  readonly #audit: AuditTrail;

  constructor(options: { db: Database; bank: BankGateway; cipher: DataCipher; audit: AuditTrail }) {
    this.#db = options.db;
    this.#bank = options.bank;
    this.#cipher = options.cipher;
    this.#audit = options.audit;
  }

  /** Step 1: checks the number, asks the bank to send its code to the card's phone. */
  async startBinding(
    customerId: string,
    input: { cardNumber: string; phone: string; holderName: string },
  ): Promise<{
    verificationId: string;
    bankName: BinInfo['bankName'];
    cardType: string;
    last4: string;
    expiresAt: string;
  }> {
    const digits = input.cardNumber.replace(/[\s-]/g, '');
    if (!luhnValid(digits)) {
      throw new CardError({
        code: 'card_number_invalid',
        status: 422,
        title: 'Invalid card number',
        detail: 'Check the card number: it does not pass the Luhn check.',
      });
    }
    const bin = lookupBin(digits);
    if (bin.cardType !== 'debit') {
      throw new CardError({
        code: 'card_type_unsupported',
        status: 422,
        title: 'Debit cards only',
        detail: 'Only debit cards can be bound to the wallet.',
      });
    }
    const index = this.#cipher.blindIndex('card-number', digits);
    const { rows: active } = await this.#db.query<{ same: boolean }>(
      `select card_number_index = $2 as same from cards where customer_id = $1 and status = 'active'`,
      [customerId, index],
    );
    if (active.some((row) => row.same)) {
      throw new CardError({
        code: 'card_already_bound',
        status: 409,
        title: 'Card already bound',
        detail: 'This card is already bound to your wallet.',
      });
    }
    if (active.length >= CARDS_PER_CUSTOMER_MAX) {
      throw new CardError({
        code: 'too_many_cards',
        status: 422,
        title: 'Too many cards',
        detail: `At most ${CARDS_PER_CUSTOMER_MAX} cards can be bound.`,
      });
    }
    const id = newId();
    const started = await this.#bank.startCardVerification({
      requestId: id,
      cardNumber: digits,
      holderName: input.holderName,
      phone: input.phone,
    });
    await this.#db.query(
      `insert into card_verifications (id, customer_id, bank_verification_id, card_number_enc, card_number_index, last4, bank_code, card_type, status, expires_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9)`,
      [
        id,
        customerId,
        started.verificationId,
        this.#cipher.encrypt(digits, `card:${id}`),
        index,
        digits.slice(-4),
        bin.bankCode,
        bin.cardType,
        started.expiresAt,
      ],
    );
    return {
      verificationId: id,
      bankName: bin.bankName,
      cardType: bin.cardType,
      last4: digits.slice(-4),
      expiresAt: started.expiresAt,
    };
  }

  /** Step 2: the bank's code; on success the card is bound. */
  async confirmBinding(customerId: string, verificationId: string, code: string): Promise<CardView> {
    const { rows } = await this.#db.query<{
      bank_verification_id: string;
      card_number_enc: string;
      card_number_index: string;
      last4: string;
      bank_code: string;
      card_type: 'debit' | 'credit';
      status: string;
    }>(`select * from card_verifications where id = $1 and customer_id = $2`, [verificationId, customerId]);
    const verification = rows[0];
    if (!verification || verification.status !== 'pending')
      throw new NotFoundError('No such card verification in progress.');
    const confirmed = await this.#bank.confirmCardVerification(verification.bank_verification_id, code);
    const digits = this.#cipher.decrypt(verification.card_number_enc, `card:${verificationId}`);
    const id = newId();
    return this.#db.transaction(async (tx) => {
      await tx.query(`update card_verifications set status = 'confirmed' where id = $1`, [verificationId]);
      const { rows: inserted } = await tx.query<CardRow>(
        `insert into cards (id, customer_id, card_number_enc, card_number_index, bank_token_enc, last4, bank_code, card_type, status)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 'active')
         on conflict do nothing
         returning *`,
        [
          id,
          customerId,
          this.#cipher.encrypt(digits, `card:${id}`),
          verification.card_number_index,
          this.#cipher.encrypt(confirmed.cardToken, `card-token:${id}`),
          verification.last4,
          verification.bank_code,
          verification.card_type,
        ],
      );
      if (!inserted[0]) {
        throw new CardError({
          code: 'card_already_bound',
          status: 409,
          title: 'Card already bound',
          detail: 'This card is already bound to your wallet.',
        });
      }
      const card = cardView(inserted[0]);
      await this.#audit.record(tx, {
        action: 'cards.bound',
        actor: { type: 'customer', id: customerId },
        subject: { type: 'card', id },
        after: { status: 'active', bankCode: card.bankCode, cardType: card.cardType, last4: card.last4 },
        detail: { customerId, verificationId },
      });
      return card;
    });
  }

  async list(customerId: string): Promise<CardView[]> {
    const { rows } = await this.#db.query<CardRow>(
      `select * from cards where customer_id = $1 and status = 'active' order by created_at`,
      [customerId],
    );
    return rows.map(cardView);
  }

  async unbind(customerId: string, cardId: string): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ last4: string; bank_code: string }>(
        `update cards set status = 'unbound', unbound_at = now() where id = $1 and customer_id = $2 and status = 'active'
         returning last4, bank_code`,
        [cardId, customerId],
      );
      const card = rows[0];
      if (!card) throw new NotFoundError('No such bound card.');
      await this.#audit.record(tx, {
        action: 'cards.unbound',
        actor: { type: 'customer', id: customerId },
        subject: { type: 'card', id: cardId },
        before: { status: 'active', bankCode: card.bank_code, last4: card.last4 },
        after: { status: 'unbound' },
        detail: { customerId },
      });
    });
  }

  /** The bank token of a customer's active card, for the wallet's top-ups and withdrawals. */
  async cardForPayment(
    customerId: string,
    cardId: string,
  ): Promise<{ cardToken: string; last4: string; bankName: string; fingerprint: string }> {
    const { rows } = await this.#db.query<CardRow>(
      `select * from cards where id = $1 and customer_id = $2 and status = 'active'`,
      [cardId, customerId],
    );
    const card = rows[0];
    if (!card) throw new NotFoundError('No such bound card.');
    return {
      cardToken: this.#cipher.decrypt(card.bank_token_enc, `card-token:${card.id}`),
      last4: card.last4,
      bankName: bankNameOf(card.bank_code).en,
      // The card number's blind index: the same card under any customer, for the risk engine's card rules.
      fingerprint: card.card_number_index,
    };
  }
}

function cardView(row: CardRow): CardView {
  return {
    id: row.id,
    bankCode: row.bank_code,
    bankName: bankNameOf(row.bank_code),
    cardType: row.card_type,
    last4: row.last4,
    createdAt: (row.created_at instanceof Date ? row.created_at : new Date(row.created_at)).toISOString(),
  };
}
