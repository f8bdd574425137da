/**
 * EMVCo QR Code Specification for Payment Systems, Merchant-Presented Mode (MPM): building Yika's codes
 * and parsing anyone's. A payload is a sequence of data objects `ID(2 digits) LENGTH(2 digits) VALUE`;
 * some IDs are templates whose value is itself such a sequence. The last object is the CRC (ID 63):
 * CRC-16/CCITT-FALSE over the whole payload up to and including "6304", as 4 upper-case hex digits.
 */

/** CRC-16/CCITT-FALSE: polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR. */
export function crc16CcittFalse(input: string): number {
  let crc = 0xffff;
  for (const byte of Buffer.from(input, 'utf8')) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit += 1) {
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    }
  }
  return crc;
}

function crcHex(payloadUpToCrcLength: string): string {
  return crc16CcittFalse(payloadUpToCrcLength).toString(16).toUpperCase().padStart(4, '0');
}

/** Data object IDs of the root level (EMVCo MPM, section 4.2). */
export const Tag = {
  payloadFormatIndicator: '00',
  pointOfInitiationMethod: '01',
  merchantCategoryCode: '52',
  transactionCurrency: '53',
  transactionAmount: '54',
  tipOrConvenienceIndicator: '55',
  convenienceFeeFixed: '56',
  convenienceFeePercentage: '57',
  countryCode: '58',
  merchantName: '59',
  merchantCity: '60',
  postalCode: '61',
  additionalData: '62',
  crc: '63',
  merchantInformationLanguage: '64',
} as const;

export interface DataObject {
  id: string;
  value: string;
  /** For templates: the nested data objects. */
  children?: DataObject[];
}

/** A payload that is not valid EMVCo MPM, with where and why. */
export class EmvcoError extends Error {
  override readonly name = 'EmvcoError';
  constructor(
    /** Dotted path of the data object, e.g. `26.01`, or `payload`. */
    readonly path: string,
    /** Character offset in the payload where the problem starts. */
    readonly offset: number,
    message: string,
  ) {
    super(`${path} at character ${offset}: ${message}`);
  }
}

const isTemplate = (id: string, depth: number) => {
  if (depth > 0) return false;
  const n = Number(id);
  return (n >= 26 && n <= 51) || n === 62 || n === 64 || (n >= 80 && n <= 99);
};

/** Most characters in a payload: EMVCo MPM limits a payload to 512. */
export const PAYLOAD_LENGTH_MAX = 512;

function parseObjects(text: string, base: number, depth: number, parent: string): DataObject[] {
  const objects: DataObject[] = [];
  const seen = new Set<string>();
  let position = 0;
  while (position < text.length) {
    const at = base + position;
    const where = (id: string) => (parent ? `${parent}.${id}` : id);
    if (text.length - position < 4) {
      throw new EmvcoError(
        parent || 'payload',
        at,
        `${text.length - position} characters left, too few for an ID and a length`,
      );
    }
    const id = text.slice(position, position + 2);
    const lengthText = text.slice(position + 2, position + 4);
    if (!/^\d{2}$/.test(id)) throw new EmvcoError(parent || 'payload', at, `ID "${id}" is not two digits`);
    if (!/^\d{2}$/.test(lengthText))
      throw new EmvcoError(where(id), at + 2, `length "${lengthText}" is not two digits`);
    const length = Number(lengthText);
    if (length === 0) throw new EmvcoError(where(id), at + 2, 'length is 00; a data object must have a value');
    const value = text.slice(position + 4, position + 4 + length);
    if (value.length < length) {
      throw new EmvcoError(where(id), at + 2, `length says ${length} characters but only ${value.length} remain`);
    }
    if (seen.has(id)) throw new EmvcoError(where(id), at, 'appears twice');
    seen.add(id);
    const object: DataObject = { id, value };
    if (isTemplate(id, depth)) object.children = parseObjects(value, at + 4, depth + 1, where(id));
    objects.push(object);
    position += 4 + length;
  }
  return objects;
}

export interface ParsedMpm {
  objects: DataObject[];
  /** '11' static (the customer enters the amount), '12' dynamic (one payment). */
  pointOfInitiation: 'static' | 'dynamic' | null;
  merchantAccounts: { id: string; globallyUniqueId: string | null; fields: Record<string, string> }[];
  merchantCategoryCode: string;
  currency: string;
  /** Decimal text as carried, e.g. "12.50"; null when the customer enters it. */
  amount: string | null;
  countryCode: string;
  merchantName: string;
  merchantCity: string;
  postalCode: string | null;
  additionalData: Record<string, string>;
}

function get(objects: DataObject[], id: string): DataObject | undefined {
  return objects.find((object) => object.id === id);
}

/**
 * Parses and validates any EMVCo MPM payload: structure, lengths, nested templates, the mandatory data
 * objects and their formats, and the CRC. Throws EmvcoError naming the data object and what is wrong.
 */
export function parseMpm(payload: string): ParsedMpm {
  if (payload.length > PAYLOAD_LENGTH_MAX) {
    throw new EmvcoError(
      'payload',
      PAYLOAD_LENGTH_MAX,
      `is ${payload.length} characters, more than ${PAYLOAD_LENGTH_MAX}`,
    );
  }
  const objects = parseObjects(payload, 0, 0, '');
  const first = objects[0];
  if (!first || first.id !== Tag.payloadFormatIndicator)
    throw new EmvcoError('00', 0, 'the payload must start with the payload format indicator (ID 00)');
  if (first.value !== '01')
    throw new EmvcoError('00', 4, `payload format indicator is "${first.value}", expected "01"`);
  const last = objects.at(-1)!;
  const crcOffset = payload.length - 8;
  if (last.id !== Tag.crc) throw new EmvcoError('63', payload.length, 'the payload must end with the CRC (ID 63)');
  if (!/^[0-9A-Fa-f]{4}$/.test(last.value) || payload.slice(crcOffset, crcOffset + 4) !== '6304') {
    throw new EmvcoError('63', crcOffset, 'the CRC must be 4 hexadecimal characters (6304xxxx)');
  }
  const expected = crcHex(payload.slice(0, crcOffset + 4));
  if (last.value.toUpperCase() !== expected) {
    throw new EmvcoError(
      '63',
      crcOffset + 4,
      `CRC is ${last.value.toUpperCase()} but the payload's CRC is ${expected}`,
    );
  }

  const offsetOf = (id: string) => {
    let position = 0;
    for (const object of objects) {
      if (object.id === id) return position;
      position += 4 + object.value.length;
    }
    return payload.length;
  };
  const required = (id: string, name: string): string => {
    const object = get(objects, id);
    if (!object) throw new EmvcoError(id, payload.length, `${name} (ID ${id}) is missing`);
    return object.value;
  };
  const check = (id: string, value: string, pattern: RegExp, what: string) => {
    if (!pattern.test(value)) throw new EmvcoError(id, offsetOf(id) + 4, `${what}, got "${value}"`);
  };

  const initiation = get(objects, Tag.pointOfInitiationMethod);
  if (initiation)
    check('01', initiation.value, /^1[12]$/, 'point of initiation method must be 11 (static) or 12 (dynamic)');

  const accounts = objects.filter((object) => Number(object.id) >= 2 && Number(object.id) <= 51);
  if (accounts.length === 0)
    throw new EmvcoError(
      '02-51',
      payload.length,
      'at least one merchant account information (ID 02 to 51) is required',
    );
  for (const account of accounts) {
    if (account.children) {
      const guid = get(account.children, '00');
      if (!guid)
        throw new EmvcoError(
          `${account.id}.00`,
          offsetOf(account.id) + 4,
          'a merchant account information template needs a globally unique identifier (sub-ID 00)',
        );
      if (guid.value.length > 32)
        throw new EmvcoError(
          `${account.id}.00`,
          offsetOf(account.id) + 4,
          'globally unique identifier is longer than 32 characters',
        );
    }
  }

  const mcc = required(Tag.merchantCategoryCode, 'merchant category code');
  check('52', mcc, /^\d{4}$/, 'merchant category code must be 4 digits');
  const currency = required(Tag.transactionCurrency, 'transaction currency');
  check('53', currency, /^\d{3}$/, 'transaction currency must be an ISO 4217 numeric code (3 digits)');
  const amount = get(objects, Tag.transactionAmount)?.value ?? null;
  if (amount !== null)
    check(
      '54',
      amount,
      /^(?=.{1,13}$)(?:0|[1-9]\d*)(?:\.\d+)?$/,
      'transaction amount must be a decimal number of at most 13 characters',
    );
  if (amount !== null && Number(amount) <= 0)
    throw new EmvcoError('54', offsetOf('54') + 4, 'transaction amount must be greater than zero');
  if (initiation?.value === '12' && amount === null)
    throw new EmvcoError('54', payload.length, 'a dynamic code (01 = 12) must carry an amount');
  const country = required(Tag.countryCode, 'country code');
  check('58', country, /^[A-Z]{2}$/, 'country code must be 2 upper-case letters (ISO 3166-1 alpha-2)');
  const name = required(Tag.merchantName, 'merchant name');
  if (name.length > 25)
    throw new EmvcoError('59', offsetOf('59') + 4, `merchant name is ${name.length} characters, at most 25`);
  const city = required(Tag.merchantCity, 'merchant city');
  if (city.length > 15)
    throw new EmvcoError('60', offsetOf('60') + 4, `merchant city is ${city.length} characters, at most 15`);
  const postal = get(objects, Tag.postalCode)?.value ?? null;
  if (postal !== null && postal.length > 10)
    throw new EmvcoError('61', offsetOf('61') + 4, 'postal code is longer than 10 characters');

  const additional = get(objects, Tag.additionalData);
  return {
    objects,
    pointOfInitiation: initiation ? (initiation.value === '11' ? 'static' : 'dynamic') : null,
    merchantAccounts: accounts.map((account) => ({
      id: account.id,
      globallyUniqueId: account.children ? (get(account.children, '00')?.value ?? null) : null,
      fields: Object.fromEntries((account.children ?? []).map((child) => [child.id, child.value])),
    })),
    merchantCategoryCode: mcc,
    currency,
    amount,
    countryCode: country,
    merchantName: name,
    merchantCity: city,
    postalCode: postal,
    additionalData: Object.fromEntries((additional?.children ?? []).map((child) => [child.id, child.value])),
  };
}

function tlv(id: string, value: string): string {
  if (!/^\d{2}$/.test(id)) throw new RangeError(`data object ID must be two digits: ${id}`);
  if (value.length === 0 || value.length > 99)
    throw new RangeError(`data object ${id} must be 1 to 99 characters, got ${value.length}`);
  return `${id}${String(value.length).padStart(2, '0')}${value}`;
}

/** Yika's identifier in merchant account information, under the template ID Yika uses (26). */
export const YIKA_GUID = 'cn.yika.pay';
export const YIKA_ACCOUNT_TEMPLATE = '26';

export interface YikaCodeInput {
  merchantId: string;
  mcc: string;
  merchantName: string;
  merchantCity: string;
  /** ISO 4217 numeric; 156 for CNY. */
  currencyNumeric?: string;
  countryCode?: string;
  /** Dynamic codes: the amount in minor units and the order it pays. */
  amountMinor?: bigint;
  orderReference?: string;
  postalCode?: string;
}

/** Formats fen as the decimal amount EMVCo carries ("12.50"). */
export function formatAmount(minor: bigint): string {
  if (minor <= 0n) throw new RangeError('amount must be positive');
  const yuan = minor / 100n;
  const fen = minor % 100n;
  return `${yuan}.${fen.toString().padStart(2, '0')}`;
}

/** Builds a Yika merchant-presented code: static, or dynamic when it carries an amount and an order. */
export function buildYikaMpm(input: YikaCodeInput): string {
  const dynamic = input.amountMinor !== undefined;
  let payload =
    tlv('00', '01') +
    tlv('01', dynamic ? '12' : '11') +
    tlv(YIKA_ACCOUNT_TEMPLATE, tlv('00', YIKA_GUID) + tlv('01', input.merchantId)) +
    tlv('52', input.mcc) +
    tlv('53', input.currencyNumeric ?? '156') +
    (dynamic ? tlv('54', formatAmount(input.amountMinor!)) : '') +
    tlv('58', input.countryCode ?? 'CN') +
    tlv('59', input.merchantName) +
    tlv('60', input.merchantCity) +
    (input.postalCode ? tlv('61', input.postalCode) : '') +
    (input.orderReference ? tlv('62', tlv('05', input.orderReference)) : '');
  payload += '6304';
  payload += crcHex(payload);
  // Whatever we build must pass our own parser: a malformed code would fail at the till, not here.
  parseMpm(payload);
  return payload;
}
