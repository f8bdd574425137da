/**
 * Reading a merchant's QR code in the browser: from the camera (the BarcodeDetector API where the browser
 * has it, else jsQR on video frames), from an uploaded picture (jsQR on a canvas), or from pasted text.
 * Nothing here knows React; the scan screen drives it.
 */
import type jsQRFunction from 'jsqr';

type JsQr = typeof jsQRFunction;
let jsQrLoading: Promise<JsQr> | null = null;
/** jsQR is fetched the first time a picture or a frame needs it (the checkout page never does). */
function loadJsQr(): Promise<JsQr> {
  jsQrLoading ??= import('jsqr').then((module) => module.default);
  return jsQrLoading;
}

/** EMVCo MPM caps a payload at 512 characters; the server refuses longer ones too. */
export const PAYLOAD_LENGTH_MAX = 512;
/** Pictures larger than this are refused before decoding (a phone photo is a few MB). */
export const PICTURE_BYTES_MAX = 15 * 1024 * 1024;
/** Frames and pictures are scaled down to this many pixels on their longer side before jsQR reads them. */
const DECODE_SIDE_PX_MAX = 1_024;
/** How often a video frame is looked at: enough to feel instant, little enough to keep a phone cool. */
export const FRAME_INTERVAL_MS = 200;

export type Scanned =
  | { kind: 'emvco'; payload: string }
  /** A link to this wallet's own hosted checkout page or payment request: opened, not paid from here. */
  | { kind: 'link'; path: string }
  | { kind: 'empty' }
  | { kind: 'too_long' };

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const OWN_PATHS = [new RegExp(`^/checkout/${UUID}$`, 'i'), new RegExp(`^/pay/${UUID}$`, 'i')];

/**
 * What scanned or pasted text is. A link is followed only to this app's own origin and only to the checkout
 * and payment-request screens: a QR code must not be able to send the customer anywhere else. Anything else
 * is handed to the server as an EMVCo payload, which names what is wrong with it.
 */
export function classifyScanned(text: string, origin: string): Scanned {
  // Pasted text often ends with a line break; inner spaces are part of the payload (merchant names).
  const trimmed = text.replace(/^[\s\u200b\ufeff]+|[\s\u200b\ufeff]+$/g, '');
  if (trimmed === '') return { kind: 'empty' };
  if (/^https?:\/\//i.test(trimmed)) {
    try {
      const url = new URL(trimmed);
      if (url.origin === origin && OWN_PATHS.some((pattern) => pattern.test(url.pathname))) {
        return { kind: 'link', path: url.pathname };
      }
    } catch {
      // not a URL after all: the server says what it is not
    }
  }
  if (trimmed.length > PAYLOAD_LENGTH_MAX) return { kind: 'too_long' };
  return { kind: 'emvco', payload: trimmed };
}

/** jsQR over RGBA pixels; both normal and inverted (light on dark) codes. */
export async function decodePixels(pixels: Uint8ClampedArray, width: number, height: number): Promise<string | null> {
  const jsQR = await loadJsQr();
  const found = jsQR(pixels, width, height, { inversionAttempts: 'attemptBoth' });
  return found && found.data !== '' ? found.data : null;
}

function scaled(width: number, height: number): { width: number; height: number } {
  const factor = Math.min(1, DECODE_SIDE_PX_MAX / Math.max(width, height, 1));
  return { width: Math.max(1, Math.round(width * factor)), height: Math.max(1, Math.round(height * factor)) };
}

/** Draws an image or a video frame onto a (reused) canvas, scaled down, and decodes it. */
export async function decodeDrawable(
  source: CanvasImageSource,
  sourceWidth: number,
  sourceHeight: number,
  canvas: HTMLCanvasElement = document.createElement('canvas'),
): Promise<string | null> {
  if (sourceWidth === 0 || sourceHeight === 0) return null;
  const { width, height } = scaled(sourceWidth, sourceHeight);
  canvas.width = width;
  canvas.height = height;
  const context = canvas.getContext('2d', { willReadFrequently: true });
  if (!context) return null;
  context.drawImage(source, 0, 0, width, height);
  return decodePixels(context.getImageData(0, 0, width, height).data, width, height);
}

export type PictureProblem = 'not_image' | 'too_large' | 'unreadable' | 'no_code';

export class PictureError extends Error {
  override readonly name = 'PictureError';
  constructor(readonly problem: PictureProblem) {
    super(problem);
  }
}

/** Reads the QR code in an uploaded picture. Throws PictureError saying why there is none. */
export async function decodePicture(file: Blob): Promise<string> {
  if (!file.type.startsWith('image/')) throw new PictureError('not_image');
  if (file.size > PICTURE_BYTES_MAX) throw new PictureError('too_large');
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new PictureError('unreadable');
  }
  try {
    const text = await decodeDrawable(bitmap, bitmap.width, bitmap.height);
    if (text === null) throw new PictureError('no_code');
    return text;
  } finally {
    bitmap.close();
  }
}

/** The part of the BarcodeDetector API we use (not yet in TypeScript's DOM library). */
interface BarcodeDetectorLike {
  detect(source: CanvasImageSource): Promise<{ rawValue: string }[]>;
}
interface BarcodeDetectorConstructor {
  new (options: { formats: string[] }): BarcodeDetectorLike;
  getSupportedFormats?: () => Promise<string[]>;
}

/** The browser's own QR reader when it has one that reads QR codes, else null (jsQR is used). */
async function nativeDetector(): Promise<BarcodeDetectorLike | null> {
  const constructor = (globalThis as { BarcodeDetector?: BarcodeDetectorConstructor }).BarcodeDetector;
  if (!constructor) return null;
  try {
    const formats = (await constructor.getSupportedFormats?.()) ?? ['qr_code'];
    return formats.includes('qr_code') ? new constructor({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

export type CameraProblem = 'unsupported' | 'denied' | 'no_camera' | 'busy' | 'failed';

export class CameraError extends Error {
  override readonly name = 'CameraError';
  constructor(readonly problem: CameraProblem) {
    super(problem);
  }
}

/** Maps getUserMedia's DOMException names to what the screen tells the customer. */
export function cameraProblemOf(error: unknown): CameraProblem {
  const name = error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'denied';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'no_camera';
  if (name === 'NotReadableError' || name === 'AbortError') return 'busy';
  return 'failed';
}

export interface CameraScan {
  /** Which reader runs: the browser's or jsQR. */
  readonly engine: 'native' | 'jsqr';
  stop(): void;
}

/**
 * Opens the back camera into `video` and reads frames until a code is found (`onCode` is called once) or
 * `stop()` is called. Throws CameraError when the camera cannot be used; the screen then offers upload and
 * paste instead.
 */
export async function startCameraScan(video: HTMLVideoElement, onCode: (text: string) => void): Promise<CameraScan> {
  if (!navigator.mediaDevices?.getUserMedia) throw new CameraError('unsupported');
  let stream: MediaStream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: { ideal: 'environment' } },
      audio: false,
    });
  } catch (error) {
    throw new CameraError(cameraProblemOf(error));
  }
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
    for (const track of stream.getTracks()) track.stop();
    video.srcObject = null;
  };
  video.srcObject = stream;
  video.muted = true;
  video.playsInline = true;
  try {
    await video.play();
  } catch (error) {
    stop();
    throw new CameraError(cameraProblemOf(error));
  }

  const detector = await nativeDetector();
  const canvas = document.createElement('canvas');
  const read = async (): Promise<string | null> => {
    if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) return null;
    if (detector) {
      const codes = await detector.detect(video);
      return codes.find((code) => code.rawValue !== '')?.rawValue ?? null;
    }
    return decodeDrawable(video, video.videoWidth, video.videoHeight, canvas);
  };
  // One frame at a time: the next is looked at only after this one is read, never piling up.
  const tick = () => {
    if (stopped) return;
    read().then(
      (text) => {
        if (stopped) return;
        if (text !== null) {
          stop();
          onCode(text);
          return;
        }
        timer = setTimeout(tick, FRAME_INTERVAL_MS);
      },
      () => {
        if (!stopped) timer = setTimeout(tick, FRAME_INTERVAL_MS);
      },
    );
  };
  tick();
  return { engine: detector ? 'native' : 'jsqr', stop };
}

/** Only http(s) return URLs are followed after a checkout; anything else (javascript:, data:) is not. */
export function safeReturnUrl(url: string | null | undefined): string | null {
  if (!url) return null;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.toString() : null;
  } catch {
    return null;
  }
}
