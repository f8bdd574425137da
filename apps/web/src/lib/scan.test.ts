import QRCode from 'qrcode';
import { describe, expect, it } from 'vitest';
import { cameraProblemOf, classifyScanned, decodePixels, PAYLOAD_LENGTH_MAX, safeReturnUrl } from './scan.js';

const origin = 'https://wallet.example.cn';
// A static Yika code for "老王面馆" in 上海 (built by the server's buildYikaMpm; CRC included).
const payload =
  '00020101021126550011cn.yika.pay0136019a0000-0000-7000-8000-0000000000015204581253031565802CN5904老王面馆6002上海6304EFAA';

/** Renders text as a QR code into RGBA pixels, the way a camera frame or a picture reaches jsQR. */
function qrPixels(text: string, options: { scale?: number; inverted?: boolean } = {}) {
  const scale = options.scale ?? 4;
  const quiet = 4;
  const code = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const modules = code.modules.size;
  const side = (modules + 2 * quiet) * scale;
  const pixels = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y += 1) {
    for (let x = 0; x < side; x += 1) {
      const moduleX = Math.floor(x / scale) - quiet;
      const moduleY = Math.floor(y / scale) - quiet;
      const inside = moduleX >= 0 && moduleY >= 0 && moduleX < modules && moduleY < modules;
      const dark = inside && code.modules.get(moduleY, moduleX) === 1;
      const value = dark !== Boolean(options.inverted) ? 0 : 255;
      const offset = (y * side + x) * 4;
      pixels[offset] = value;
      pixels[offset + 1] = value;
      pixels[offset + 2] = value;
      pixels[offset + 3] = 255;
    }
  }
  return { pixels, side };
}

describe('decodePixels', () => {
  it('reads an EMVCo payload with a Chinese merchant name back exactly', async () => {
    const { pixels, side } = qrPixels(payload);
    expect(await decodePixels(pixels, side, side)).toBe(payload);
  });

  it('reads light-on-dark codes too', async () => {
    const { pixels, side } = qrPixels(payload, { inverted: true });
    expect(await decodePixels(pixels, side, side)).toBe(payload);
  });

  it('finds nothing in a blank frame', async () => {
    const side = 64;
    expect(await decodePixels(new Uint8ClampedArray(side * side * 4).fill(255), side, side)).toBeNull();
  });
});

describe('classifyScanned', () => {
  it('treats anything else as an EMVCo payload, trimmed of surrounding whitespace only', () => {
    expect(classifyScanned(`  ${payload}\r\n`, origin)).toEqual({ kind: 'emvco', payload });
    expect(classifyScanned('0002 01 x', origin)).toEqual({ kind: 'emvco', payload: '0002 01 x' });
  });

  it('says empty and too long before asking the server', () => {
    expect(classifyScanned(' \n\u200b', origin)).toEqual({ kind: 'empty' });
    expect(classifyScanned('1'.repeat(PAYLOAD_LENGTH_MAX), origin).kind).toBe('emvco');
    expect(classifyScanned('1'.repeat(PAYLOAD_LENGTH_MAX + 1), origin)).toEqual({ kind: 'too_long' });
  });

  it("follows only this app's checkout and payment-request links", () => {
    const id = '019a0000-0000-7000-8000-0000000000b1';
    expect(classifyScanned(`${origin}/checkout/${id}`, origin)).toEqual({ kind: 'link', path: `/checkout/${id}` });
    expect(classifyScanned(`${origin}/pay/${id}?x=1`, origin)).toEqual({ kind: 'link', path: `/pay/${id}` });
    // Another site, or another path of ours, is not followed: handed on as a payload the server refuses.
    expect(classifyScanned(`https://evil.example/checkout/${id}`, origin).kind).toBe('emvco');
    expect(classifyScanned(`${origin}/settings`, origin).kind).toBe('emvco');
    expect(classifyScanned(`${origin}/checkout/not-an-id`, origin).kind).toBe('emvco');
  });
});

describe('safeReturnUrl', () => {
  it('keeps http and https, refuses every other scheme and junk', () => {
    expect(safeReturnUrl('https://shop.example.cn/done?order=1')).toBe('https://shop.example.cn/done?order=1');
    expect(safeReturnUrl('http://localhost:8080/r')).toBe('http://localhost:8080/r');
    expect(safeReturnUrl('javascript:alert(1)')).toBeNull();
    expect(safeReturnUrl('data:text/html,hi')).toBeNull();
    expect(safeReturnUrl('/relative')).toBeNull();
    expect(safeReturnUrl(null)).toBeNull();
  });
});

describe('cameraProblemOf', () => {
  it("maps getUserMedia's errors to what the screen says", () => {
    const named = (name: string) => Object.assign(new Error(name), { name });
    expect(cameraProblemOf(named('NotAllowedError'))).toBe('denied');
    expect(cameraProblemOf(named('NotFoundError'))).toBe('no_camera');
    expect(cameraProblemOf(named('OverconstrainedError'))).toBe('no_camera');
    expect(cameraProblemOf(named('NotReadableError'))).toBe('busy');
    expect(cameraProblemOf('weird')).toBe('failed');
  });
});
