/**
 * Our EMVCo payloads against two independent implementations from npm (dev dependencies only):
 * - `vietnam-qr-pay` (VietQR / VNPAY-QR, EMVCo MPM): verifies the CRC over the payload's UTF-8 bytes, reads the
 *   root fields, the merchant account template and the additional data, and builds payloads;
 * - `promptparse` (PromptPay / EMVCo): decodes the whole TLV tree with sub-tags, checks the CRC, and builds.
 * Whatever we build must read the same in both; what they build must read the same in our parser.
 *
 * One known difference, pinned below: promptparse computes the CRC over UTF-16 code units truncated to a
 * byte, not over UTF-8 bytes, so its CRC check refuses every payload with a non-ASCII character, the EMVCo
 * specification's own example included (whose CRC, A13A, is over UTF-8). vietnam-qr-pay and we agree with
 * the specification.
 */
import fc from 'fast-check';
import { decode, encode, generate, parse as promptParse, tag, withCrcTag, type TLVTag } from 'promptparse';
import { QRPay } from 'vietnam-qr-pay';
import { describe, expect, it } from 'vitest';
import {
  buildYikaMpm,
  EmvcoError,
  formatAmount,
  parseMpm,
  YIKA_ACCOUNT_TEMPLATE,
  YIKA_GUID,
  type YikaCodeInput,
} from './emvco.js';
import { PAYMENT_AMOUNT_MAX } from './payments.service.js';

const merchantId = '019a0000-0000-7000-8000-000000000001';

/** Static and dynamic codes, ASCII and Chinese names, the smallest, odd and largest amounts. */
const cases: { label: string; input: YikaCodeInput }[] = [
  {
    label: 'static, ASCII',
    input: { merchantId, mcc: '5812', merchantName: 'Lao Wang Noodles', merchantCity: 'Shanghai' },
  },
  {
    label: 'static, Chinese',
    input: { merchantId, mcc: '5812', merchantName: '老王面馆（静安店）', merchantCity: '上海' },
  },
  {
    label: 'dynamic, 1 fen, Chinese',
    input: {
      merchantId,
      mcc: '5411',
      merchantName: '便利店·24小时',
      merchantCity: '北京',
      amountMinor: 1n,
      orderReference: 'A1',
    },
  },
  {
    label: 'dynamic, odd amount, mixed name',
    input: {
      merchantId,
      mcc: '5999',
      merchantName: 'Café 小笼包 & Co.',
      merchantCity: 'Hangzhou 杭州',
      amountMinor: 1_234_567n,
      orderReference: '019a1b2c3d4e5f60718293a4b5c6d7e8',
      postalCode: '310000',
    },
  },
  {
    label: 'dynamic, 10 fen, full-length name',
    input: {
      merchantId,
      mcc: '5814',
      merchantName: '一二三四五六七八九十一二三四五六七八九十一二三四五',
      merchantCity: '乌鲁木齐市天山区一二三四五六七',
      amountMinor: 10n,
      orderReference: 'x',
    },
  },
  {
    label: 'dynamic, the largest amount',
    input: {
      merchantId,
      mcc: '5812',
      merchantName: 'BIG',
      merchantCity: 'SZ',
      amountMinor: PAYMENT_AMOUNT_MAX,
      orderReference: 'max',
    },
  },
];

const isAscii = (text: string) => /^[\x20-\x7e]*$/.test(text);

/**
 * promptparse's TLV tree in our terms: root [id, value] pairs, and the sub-tags of the templates our parser
 * opens. (promptparse also tries sub-tags on any value that happens to look like TLV, e.g. "900800000.00".)
 */
function tree(tags: TLVTag[], templates: Set<string>): unknown[] {
  return tags.map((item) =>
    templates.has(item.id)
      ? [item.id, (item.subTags ?? []).map((child) => [child.id, child.value])]
      : [item.id, item.value],
  );
}

/** What vietnam-qr-pay reads from a payload, in our terms. */
function readByVietnamQrPay(payload: string) {
  const qr = new QRPay(payload);
  return {
    crcValid: qr.isValid,
    initiation: qr.initMethod,
    accountTemplate: qr.provider.fieldId,
    guid: qr.provider.guid,
    merchantId: qr.provider.data,
    mcc: qr.category,
    currency: qr.currency,
    amount: qr.amount ?? null,
    country: qr.nation,
    name: qr.merchant.name,
    city: qr.city,
    postalCode: qr.zipCode ?? null,
    orderReference: qr.additionalData.reference ?? null,
  };
}

function expectAgreement(payload: string, input: YikaCodeInput): void {
  const ours = parseMpm(payload);
  const dynamic = input.amountMinor !== undefined;

  // vietnam-qr-pay: CRC valid, every field as we meant it.
  expect(readByVietnamQrPay(payload)).toEqual({
    crcValid: true,
    initiation: dynamic ? '12' : '11',
    accountTemplate: YIKA_ACCOUNT_TEMPLATE,
    guid: YIKA_GUID,
    merchantId: input.merchantId,
    mcc: input.mcc,
    currency: '156',
    amount: dynamic ? formatAmount(input.amountMinor!) : null,
    country: 'CN',
    name: input.merchantName,
    city: input.merchantCity,
    postalCode: input.postalCode ?? null,
    orderReference: input.orderReference ?? null,
  });

  // promptparse: the same TLV tree as ours, template by template.
  const loose = promptParse(payload, false, true);
  expect(loose).not.toBeNull();
  const ourTree = ours.objects.map((object) =>
    object.children ? [object.id, object.children.map((child) => [child.id, child.value])] : [object.id, object.value],
  );
  const templates = new Set(ours.objects.filter((object) => object.children).map((object) => object.id));
  expect(tree(loose!.getTags(), templates)).toEqual(ourTree);
  expect(loose!.getTagValue('59')).toBe(ours.merchantName);
  expect(loose!.getTagValue(YIKA_ACCOUNT_TEMPLATE, '01')).toBe(input.merchantId);

  // promptparse's CRC check: passes for ASCII payloads; refuses non-ASCII ones (its CRC is not over UTF-8).
  expect(promptParse(payload, true) !== null).toBe(isAscii(payload));
}

describe('our payloads read by independent EMVCo parsers', () => {
  for (const { label, input } of cases) {
    it(`agree on every field: ${label}`, () => {
      expectAgreement(buildYikaMpm(input), input);
    });
  }

  it('agree for any name, city and amount (property)', () => {
    const cjk = fc.integer({ min: 0x4e00, max: 0x9fa5 }).map((code) => String.fromCharCode(code));
    const printable = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code));
    const text = (max: number) =>
      fc
        .array(fc.oneof(cjk, printable), { minLength: 1, maxLength: max })
        .map((characters) => characters.join(''))
        // EMVCo values are at least one character; we trim nothing, but a blank-only name is not a name.
        .filter((value) => value.trim() !== '');
    fc.assert(
      fc.property(
        text(25),
        text(15),
        fc.option(fc.bigInt({ min: 1n, max: PAYMENT_AMOUNT_MAX }), { nil: undefined }),
        fc.stringMatching(/^[A-Za-z0-9]{1,25}$/),
        (merchantName, merchantCity, amountMinor, reference) => {
          const input: YikaCodeInput = {
            merchantId,
            mcc: '5812',
            merchantName,
            merchantCity,
            ...(amountMinor === undefined ? {} : { amountMinor, orderReference: reference }),
          };
          expectAgreement(buildYikaMpm(input), input);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("shows the CRC difference on the EMVCo specification's own example, which carries Chinese in template 64", () => {
    const specification =
      '00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***0708A60086670902ME91320016A0112233449988770708123456786304A13A';
    expect(parseMpm(specification).merchantName).toBe('BEST TRANSPORT');
    expect(new QRPay(specification).isValid).toBe(true);
    expect(promptParse(specification, true)).toBeNull();
    expect(promptParse(specification, false, true)!.getTagValue('64', '01')).toBe('最佳运输');
  });
});

describe('payloads built by independent libraries read by our parser', () => {
  it('a full merchant-presented payload encoded with promptparse', () => {
    const account = [tag('00', 'com.example.pay'), tag('01', 'M-000042')];
    const additional = [tag('01', 'INV-7'), tag('05', 'REF-99'), tag('07', 'T1')];
    const payload = withCrcTag(
      encode([
        tag('00', '01'),
        tag('01', '12'),
        { id: '29', length: encode(account).length, value: '', subTags: account },
        tag('52', '5732'),
        tag('53', '156'),
        tag('54', '0.07'),
        tag('58', 'CN'),
        tag('59', 'PROMPT SHOP'),
        tag('60', 'GUANGZHOU'),
        { id: '62', length: encode(additional).length, value: '', subTags: additional },
      ]),
      '63',
    );
    expect(decode(payload).at(-1)!.id).toBe('63');
    expect(parseMpm(payload)).toMatchObject({
      pointOfInitiation: 'dynamic',
      merchantAccounts: [{ id: '29', globallyUniqueId: 'com.example.pay', fields: { '01': 'M-000042' } }],
      merchantCategoryCode: '5732',
      currency: '156',
      amount: '0.07',
      countryCode: 'CN',
      merchantName: 'PROMPT SHOP',
      merchantCity: 'GUANGZHOU',
      additionalData: { '01': 'INV-7', '05': 'REF-99', '07': 'T1' },
    });
  });

  it('a VNPAY-QR payload built by vietnam-qr-pay', () => {
    const qr = QRPay.initVNPayQR({
      merchantId: '0102154778',
      merchantName: 'TUGIACOMPANY',
      store: 'TU GIA COMPUTER',
      terminal: 'TUGIACO1',
      amount: '25000',
      reference: 'ORDER-1',
    });
    qr.category = '5732';
    qr.city = 'HANOI';
    expect(parseMpm(qr.build())).toMatchObject({
      merchantAccounts: [{ id: '26', globallyUniqueId: 'A000000775', fields: { '01': '0102154778' } }],
      merchantCategoryCode: '5732',
      currency: '704',
      amount: '25000',
      countryCode: 'VN',
      merchantName: 'TUGIACOMPANY',
      merchantCity: 'HANOI',
      additionalData: { '03': 'TU GIA COMPUTER', '05': 'ORDER-1', '07': 'TUGIACO1' },
    });
  });

  it('a PromptPay code by promptparse: its CRC is accepted, and the missing mandatory fields are named', () => {
    // PromptPay AnyID codes carry no merchant category, name or city, which EMVCo MPM requires: our parser
    // gets past the structure and the CRC, then names the first missing data object.
    const payload = generate.anyId({ type: 'MSISDN', target: '0812345678', amount: 30.5 });
    let refused: unknown;
    try {
      parseMpm(payload);
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(EmvcoError);
    expect((refused as EmvcoError).path).toBe('52');
  });

  it('a corrupted payload is refused by all three', () => {
    const good = buildYikaMpm(cases[0]!.input);
    const bad = good.replace('Shanghai', 'Shanghal');
    expect(() => parseMpm(bad)).toThrow(EmvcoError);
    expect(new QRPay(bad).isValid).toBe(false);
    expect(promptParse(bad, true)).toBeNull();
  });
});
