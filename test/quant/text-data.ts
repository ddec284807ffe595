/**
 * Rendered text for the PP-OCR accuracy tests (issue 4): a seeded, deterministic generator of
 *  - text lines for the classifier (48x192, upright or rotated 180 degrees) and the recognizer
 *    (48x320), with PaddleOCR's preprocessing: resize to height 48 keeping the aspect ratio
 *    (width capped at the input width), BGR, (x/255 - 0.5) / 0.5, the rest of the width padded
 *    with 0;
 *  - pages for the detector (several lines of varied fonts, sizes, colours, backgrounds, slight
 *    noise), BGR normalized with the ImageNet mean / std as PaddleOCR's det does.
 *
 * Sample k of a set depends only on (seed, k), so sets with different seeds are disjoint and a
 * sample is the same whatever the batch size. Text: Latin words, numbers, and Chinese characters
 * from the recognizer's dictionary (ppocr_keys_v1.txt) drawn in WenQuanYi Micro Hei.
 *
 * Fonts come from Debian packages (fonts-dejavu-core, fonts-dejavu-extra, fonts-liberation,
 * fonts-wqy-microhei; .ci/run installs them); a missing one is an error that names them, since
 * the figures in docs/quantization.md are for exactly this set. Rendering is @napi-rs/canvas
 * (Skia, a prebuilt binary from npm); Node only.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createCanvas, GlobalFonts, type SKRSContext2D } from '@napi-rs/canvas';
import { HostTensor } from '../../src/ir/tensor.js';
import { seededRandom } from '../../src/cli/run.js';
import { ppocrAssets } from '../../src/testing/ppocr.js';

export const FONT_PACKAGES = 'fonts-dejavu-core fonts-dejavu-extra fonts-liberation fonts-wqy-microhei';

const TT = '/usr/share/fonts/truetype';
/** Latin fonts: [alias, file]. Regular, bold, italic, condensed, serif, mono. */
const LATIN_FONTS: [string, string][] = [
  ['tf-dejavu-sans', 'dejavu/DejaVuSans.ttf'],
  ['tf-dejavu-sans-bold', 'dejavu/DejaVuSans-Bold.ttf'],
  ['tf-dejavu-sans-oblique', 'dejavu/DejaVuSans-Oblique.ttf'],
  ['tf-dejavu-sans-condensed', 'dejavu/DejaVuSansCondensed.ttf'],
  ['tf-dejavu-serif', 'dejavu/DejaVuSerif.ttf'],
  ['tf-dejavu-serif-italic', 'dejavu/DejaVuSerif-Italic.ttf'],
  ['tf-dejavu-mono', 'dejavu/DejaVuSansMono.ttf'],
  ['tf-liberation-sans', 'liberation/LiberationSans-Regular.ttf'],
  ['tf-liberation-sans-bold', 'liberation/LiberationSans-Bold.ttf'],
  ['tf-liberation-serif', 'liberation/LiberationSerif-Regular.ttf'],
  ['tf-liberation-serif-italic', 'liberation/LiberationSerif-Italic.ttf'],
  ['tf-liberation-mono', 'liberation/LiberationMono-Regular.ttf'],
  ['tf-liberation-narrow', 'liberation/LiberationSansNarrow-Regular.ttf'],
];
const CJK_FONT: [string, string] = ['tf-wqy-microhei', 'wqy/wqy-microhei.ttc'];

let fontsReady = false;
function registerFonts(): void {
  if (fontsReady) return;
  const missing = [...LATIN_FONTS, CJK_FONT].map(([, f]) => path.join(TT, f)).filter((f) => !fs.existsSync(f));
  if (missing.length) throw new Error(`text-data: missing font files ${missing.join(', ')}; install the Debian packages ${FONT_PACKAGES}`);
  for (const [alias, f] of [...LATIN_FONTS, CJK_FONT]) GlobalFonts.registerFromPath(path.join(TT, f), alias);
  fontsReady = true;
}

const WORDS = (
  'the of and to in is for on with as by at from that this be are was or an it not have all new more ' +
  'time year people way day man thing woman life child world school state family student group country ' +
  'problem hand part place case week company system program question work government number night point ' +
  'home water room mother area money story fact month lot right study book eye job word business issue ' +
  'side kind head house service friend father power hour game line end member law car city community name ' +
  'president team minute idea kid body information back parent face others level office door health person ' +
  'art war history party result change morning reason research girl guy moment air teacher force education ' +
  'Total Invoice Date Price Amount Street Road Avenue Phone Email Order Customer Account Balance Payment ' +
  'Station Exit Entrance Open Closed Monday Friday Sunday January March August December London Paris Tokyo ' +
  'Shanghai Beijing Berlin Madrid Rome Sydney Toronto OCR Model Layer Tensor Quantization Accuracy Receipt ' +
  'TOTAL CASH CHANGE VAT TAX NO. QTY ITEM Coffee Tea Milk Bread Rice Noodles Chicken Beef Fish Apple'
).split(' ');

let cjkChars: string[] | undefined;
/** Chinese characters of the recognizer's dictionary (CJK Unified Ideographs, all in GB2312 / GBK range fonts). */
function cjk(): string[] {
  if (!cjkChars) {
    const dict = fs.readFileSync(path.join(ppocrAssets(), 'ppocr_keys_v1.txt'), 'utf8').split('\n');
    cjkChars = dict.filter((c) => c.length === 1 && c >= '\u4e00' && c <= '\u9fa5');
  }
  return cjkChars;
}

type Rand = () => number;
const pick = <T>(r: Rand, a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** Independent stream for sample k of set `seed`. */
function sampleRand(seed: number, k: number, salt: number): Rand {
  return seededRandom((Math.imul(seed, 0x9e3779b1) ^ Math.imul(k + 1, 0x85ebca6b) ^ Math.imul(salt, 0xc2b2ae35)) >>> 0);
}

function numberToken(r: Rand): string {
  switch (int(r, 0, 4)) {
    case 0: return String(int(r, 0, 9999));
    case 1: return `${int(r, 1, 999)}.${String(int(r, 0, 99)).padStart(2, '0')}`;
    case 2: return `${int(r, 2000, 2030)}-${String(int(r, 1, 12)).padStart(2, '0')}-${String(int(r, 1, 28)).padStart(2, '0')}`;
    case 3: return `${int(r, 10, 99)}:${String(int(r, 0, 59)).padStart(2, '0')}`;
    default: return `${int(r, 100, 999)}-${int(r, 1000, 9999)}`;
  }
}

/** A line of text: Latin words and numbers, or (cjk) mostly Chinese with a few Latin tokens. */
function lineText(r: Rand, isCjk: boolean, maxChars: number): string {
  let s = '';
  while (s.length < maxChars) {
    let tok: string;
    if (isCjk) {
      const u = r();
      tok = u < 0.8 ? Array.from({ length: int(r, 2, 5) }, () => pick(r, cjk())).join('') : u < 0.9 ? numberToken(r) : pick(r, WORDS);
      if (s && r() < 0.3) tok = (r() < 0.5 ? '，' : ' ') + tok;
    } else {
      tok = r() < 0.8 ? pick(r, WORDS) : numberToken(r);
      if (s) tok = ' ' + tok;
    }
    if (s && s.length + tok.length > maxChars) break;
    s += tok;
  }
  return s.trim();
}

/** 8-bit RGBA image (canvas ImageData layout). */
export interface Rgba { width: number; height: number; data: Uint8ClampedArray }

interface Colours { bg: [number, number, number]; ink: [number, number, number] }

/** Background / ink pairs with enough contrast: mostly dark on light, sometimes light on dark. */
function colours(r: Rand): Colours {
  const light = (): [number, number, number] => [int(r, 170, 255), int(r, 170, 255), int(r, 170, 255)];
  const dark = (): [number, number, number] => [int(r, 0, 90), int(r, 0, 90), int(r, 0, 90)];
  return r() < 0.8 ? { bg: light(), ink: dark() } : { bg: dark(), ink: light() };
}
const css = (c: [number, number, number]) => `rgb(${c[0]},${c[1]},${c[2]})`;

function addNoise(img: Rgba, r: Rand, amp: number): void {
  const d = img.data;
  for (let i = 0; i < d.length; i += 4) {
    for (let c = 0; c < 3; c++) d[i + c] = d[i + c]! + (r() + r() - 1) * amp;
  }
}

export interface LineSample {
  text: string;
  /** Rotated by 180 degrees (cls label 1). */
  rotated: boolean;
  /** The text line image before resizing (height ~ 48 to 96 px). */
  image: Rgba;
  /** Describes the sample (text, font, size, colours), to check that two sets are disjoint. */
  key: string;
}

/**
 * Text line k of set `seed`. `maxChars` bounds the text length; a line is drawn at a random
 * scale (cap height 48 to 96 px before the model's resize to 48), font, colours, margins and
 * noise; `rotate` makes it upside down with probability 1/2.
 */
export function textLine(seed: number, k: number, opts: { maxChars?: number; rotate?: boolean } = {}): LineSample {
  registerFonts();
  const r = sampleRand(seed, k, 1);
  const isCjk = r() < 0.4;
  const maxChars = opts.maxChars ?? 24;
  const text = lineText(r, isCjk, isCjk ? Math.max(3, Math.round(maxChars / 2)) : maxChars);
  const font = isCjk ? CJK_FONT[0] : pick(r, LATIN_FONTS)[0];
  const h = int(r, 48, 96);
  const size = Math.round(h * (0.62 + r() * 0.18));
  const col = colours(r);
  const probe = createCanvas(8, 8).getContext('2d');
  probe.font = `${size}px "${font}"`;
  const padL = int(r, 1, Math.round(h * 0.3)), padR = int(r, 1, Math.round(h * 0.3));
  const w = Math.max(8, Math.ceil(probe.measureText(text).width) + padL + padR);
  const canvas = createCanvas(w, h);
  const g = canvas.getContext('2d');
  g.fillStyle = css(col.bg);
  g.fillRect(0, 0, w, h);
  g.fillStyle = css(col.ink);
  g.font = `${size}px "${font}"`;
  g.textBaseline = 'middle';
  g.fillText(text, padL, h / 2 + (r() - 0.5) * h * 0.12);
  const image = g.getImageData(0, 0, w, h) as unknown as Rgba;
  const noise = r() * 10;
  addNoise(image, r, noise);
  const rotated = opts.rotate ? r() < 0.5 : false;
  if (rotated) rotate180(image);
  return { text, rotated, image, key: `${text}|${font}|${size}|${h}|${col.bg}|${col.ink}|${rotated}` };
}

/** Rotation by 180 degrees = the pixel order reversed. */
function rotate180(img: Rgba): void {
  const d = img.data, n = img.width * img.height;
  for (let i = 0, j = n - 1; i < j; i++, j--) {
    for (let c = 0; c < 4; c++) { const t = d[4 * i + c]!; d[4 * i + c] = d[4 * j + c]!; d[4 * j + c] = t; }
  }
}

/**
 * Bilinear resize of one channel of an RGBA image, half-pixel centres (cv2.resize INTER_LINEAR
 * when upsampling / mild downsampling, which is what PaddleOCR calls).
 */
function sampleBilinear(img: Rgba, outW: number, outH: number, fn: (x: number, y: number, b: number, g: number, r: number) => void): void {
  const sx = img.width / outW, sy = img.height / outH, d = img.data, W = img.width;
  for (let y = 0; y < outH; y++) {
    let fy = (y + 0.5) * sy - 0.5; if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), img.height - 1), y1 = Math.min(y0 + 1, img.height - 1), wy = fy - y0;
    for (let x = 0; x < outW; x++) {
      let fx = (x + 0.5) * sx - 0.5; if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), W - 1), x1 = Math.min(x0 + 1, W - 1), wx = fx - x0;
      const px = (c: number) => {
        const a = d[4 * (y0 * W + x0) + c]!, b = d[4 * (y0 * W + x1) + c]!, e = d[4 * (y1 * W + x0) + c]!, f = d[4 * (y1 * W + x1) + c]!;
        return (a * (1 - wx) + b * wx) * (1 - wy) + (e * (1 - wx) + f * wx) * wy;
      };
      fn(x, y, px(2), px(1), px(0));
    }
  }
}

/**
 * PaddleOCR's line preprocessing (rec resize_norm_img / cls): height 48, width
 * min(W, ceil(48 * w / h)), BGR, (x/255 - 0.5) / 0.5, zero padding on the right. Writes image k
 * of an [N, 3, 48, W] float32 buffer.
 */
export function writeLine(img: Rgba, out: Float32Array, k: number, W: number, H = 48): void {
  const rw = Math.min(W, Math.max(1, Math.ceil(H * img.width / img.height)));
  const base = k * 3 * H * W, plane = H * W;
  out.fill(0, base, base + 3 * plane);
  sampleBilinear(img, rw, H, (x, y, b, g, r) => {
    const o = base + y * W + x;
    out[o] = b / 127.5 - 1;
    out[o + plane] = g / 127.5 - 1;
    out[o + 2 * plane] = r / 127.5 - 1;
  });
}

export interface LineBatch { tensor: HostTensor; samples: LineSample[] }

/** Lines first..first+n-1 of set `seed` as a classifier batch [n, 3, 48, 192], half of them rotated. */
export function clsBatch(seed: number, first: number, n: number): LineBatch {
  const samples = Array.from({ length: n }, (_, i) => textLine(seed, first + i, { maxChars: 16, rotate: true }));
  return { tensor: lineTensor(samples, 192), samples };
}

/** Lines first..first+n-1 of set `seed` as a recognizer batch [n, 3, 48, width]. */
export function recBatch(seed: number, first: number, n: number, width = 320): LineBatch {
  const samples = Array.from({ length: n }, (_, i) => textLine(seed, first + i, { maxChars: 20 }));
  return { tensor: lineTensor(samples, width), samples };
}

function lineTensor(samples: LineSample[], W: number): HostTensor {
  const t = new HostTensor('float32', [samples.length, 3, 48, W]);
  samples.forEach((s, k) => writeLine(s.image, t.data as Float32Array, k, W));
  return t;
}

export interface PageSample { image: Rgba; key: string; lines: number }

/**
 * Page k of set `seed`: size x size pixels, a plain or gradient background, 4 to 10 lines of text
 * (Latin or Chinese, 12 to 36 px, various fonts and colours, some on a box of their own colour,
 * some tilted by up to 6 degrees), then slight noise.
 */
export function detPage(seed: number, k: number, size: number): PageSample {
  registerFonts();
  const r = sampleRand(seed, k, 2);
  const canvas = createCanvas(size, size);
  const g = canvas.getContext('2d');
  const col = colours(r);
  if (r() < 0.5) {
    g.fillStyle = css(col.bg);
  } else {
    const grad = g.createLinearGradient(0, 0, size * r(), size);
    grad.addColorStop(0, css(col.bg));
    grad.addColorStop(1, css(col.bg.map((v) => Math.max(0, Math.min(255, v + int(r, -40, 40)))) as [number, number, number]));
    g.fillStyle = grad;
  }
  g.fillRect(0, 0, size, size);
  const lines = int(r, 4, 10);
  const keys: string[] = [];
  let y = int(r, 4, 20);
  for (let i = 0; i < lines && y < size - 16; i++) {
    const px = int(r, 12, 36);
    const isCjk = r() < 0.35;
    const font = isCjk ? CJK_FONT[0] : pick(r, LATIN_FONTS)[0];
    const text = lineText(r, isCjk, Math.max(3, Math.round((size / px) * (isCjk ? 0.7 : 1.4) * (0.3 + 0.7 * r()))));
    g.font = `${px}px "${font}"`;
    const w = g.measureText(text).width;
    const x = int(r, 4, Math.max(4, Math.round(size - w - 4)));
    drawLine(g, r, text, x, y + px * 0.5, px, w, col);
    keys.push(`${text}|${font}|${px}|${x}|${y}`);
    y += Math.round(px * (1.25 + r() * 0.9));
  }
  const image = g.getImageData(0, 0, size, size) as unknown as Rgba;
  addNoise(image, r, r() * 12);
  return { image, key: keys.join('/'), lines: keys.length };
}

function drawLine(g: SKRSContext2D, r: Rand, text: string, x: number, cy: number, px: number, w: number, page: Colours): void {
  g.save();
  g.translate(x, cy);
  if (r() < 0.25) g.rotate((r() - 0.5) * 0.2);
  let ink = page.ink;
  if (r() < 0.2) {
    const box = colours(r);
    g.fillStyle = css(box.bg);
    g.fillRect(-px * 0.3, -px * 0.75, w + px * 0.6, px * 1.5);
    ink = box.ink;
  } else if (r() < 0.3) {
    ink = [int(r, 0, 150), int(r, 0, 150), int(r, 0, 150)];
    if (page.bg[0] + page.bg[1] + page.bg[2] < 384) ink = ink.map((v) => 255 - v) as [number, number, number];
  }
  g.fillStyle = css(ink);
  g.textBaseline = 'middle';
  g.fillText(text, 0, 0);
  g.restore();
}

const DET_MEAN = [0.485, 0.456, 0.406];
const DET_STD = [0.229, 0.224, 0.225];

/**
 * Pages first..first+n-1 of set `seed` as a detector batch [n, 3, size, size]: PaddleOCR's det
 * preprocessing, x/255 normalized per channel with the ImageNet mean / std applied in the BGR
 * order of the OpenCV image (as PaddleOCR's NormalizeImage does).
 */
export function detBatch(seed: number, first: number, n: number, size = 320): { tensor: HostTensor; samples: PageSample[] } {
  const samples = Array.from({ length: n }, (_, i) => detPage(seed, first + i, size));
  const t = new HostTensor('float32', [n, 3, size, size]);
  const out = t.data as Float32Array, plane = size * size;
  samples.forEach((s, k) => {
    const d = s.image.data;
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) out[(k * 3 + c) * plane + p] = (d[4 * p + 2 - c]! / 255 - DET_MEAN[c]!) / DET_STD[c]!;
    }
  });
  return { tensor: t, samples };
}

/** Encodes an RGBA image as PNG (for looking at samples). */
export function toPng(img: Rgba): Buffer {
  const c = createCanvas(img.width, img.height);
  const g = c.getContext('2d');
  const id = g.createImageData(img.width, img.height);
  id.data.set(img.data);
  g.putImageData(id, 0, 0);
  return c.toBuffer('image/png');
}
