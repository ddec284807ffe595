/**
 * Image preprocessing for calibration data (browser-safe: decoded RGBA pixels in, float32 out).
 *
 *   x[c] = (pixel[c] * scale - mean[c]) / std[c]
 *
 * after a bilinear resize to WxH (half-pixel centres, no antialiasing: cv2.resize INTER_LINEAR),
 * in the model's channel order (RGB, or BGR with `bgr`) and layout (NCHW or NHWC). A 1-channel
 * input gets luminance (0.299 R + 0.587 G + 0.114 B); alpha is dropped. Unset fields default from
 * the model input's shape where it is fixed (size, channels, layout), else: scale 1/255, mean 0,
 * std 1, RGB, NCHW.
 */
import type { ValueInfo } from '../ir/graph.js';
import { TwinferError } from '../errors.js';
import { Tensor } from '../api/tensor.js';
import { shapeMismatch } from './feeds.js';

export interface PreprocessSpec {
  /** [width, height]; default: the model input's fixed spatial size, else each image's own. */
  resize?: [number, number];
  /** Per channel (in the model's channel order) or one for all. Default 0. */
  mean?: number[];
  /** Per channel or one for all. Default 1. */
  std?: number[];
  /** Pixel multiplier applied before mean/std. Default 1/255 (pixels in [0, 1]). */
  scale?: number;
  /** Default: from the input shape (1 or 3 channels at dim 3 -> nhwc), else nchw. */
  layout?: 'nchw' | 'nhwc';
  /** Channels in BGR order (OpenCV / Caffe / PaddleOCR models). Default false (RGB). */
  bgr?: boolean;
}

/** 8-bit RGBA pixels, row-major (what pngjs, jpeg-js and canvas ImageData give). */
export interface RgbaImage {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/** A spec resolved against one model input. */
export interface ResolvedPreprocess {
  width?: number;
  height?: number;
  channels: 1 | 3;
  layout: 'nchw' | 'nhwc';
  bgr: boolean;
  mean: number[];
  std: number[];
  scale: number;
  /** Images per batch: the input's fixed batch dim, else 1. */
  batch: number;
}

const KEYS = ['resize', 'mean', 'std', 'scale', 'layout', 'bgr'];

function bad(where: string, msg: string): TwinferError {
  return new TwinferError('INVALID_ARGUMENT', `${where}: ${msg}`);
}

/** "192x48" -> [192, 48] */
export function parseSize(s: string, where = '--resize'): [number, number] {
  const m = /^\s*(\d+)\s*[xX,]\s*(\d+)\s*$/.exec(s);
  const w = m ? Number(m[1]) : NaN, h = m ? Number(m[2]) : NaN;
  if (!(w >= 1 && h >= 1)) throw bad(where, `must be WIDTHxHEIGHT (e.g. 224x224), got '${s}'`);
  return [w, h];
}

/** "0.5,0.5,0.5" -> [0.5, 0.5, 0.5] */
export function parseNumberList(s: string, where: string): number[] {
  const v = s.split(',').map((x) => x.trim());
  const n = v.map(Number);
  if (v.some((x) => x === '') || n.some((x) => !Number.isFinite(x))) throw bad(where, `must be numbers separated by commas, got '${s}'`);
  return n;
}

/** "0.0039", "1/255" -> number */
export function parseScale(s: string, where = '--scale'): number {
  const m = /^\s*([0-9.eE+-]+)\s*(?:\/\s*([0-9.eE+-]+)\s*)?$/.exec(s);
  const v = m ? Number(m[1]) / (m[2] !== undefined ? Number(m[2]) : 1) : NaN;
  if (!Number.isFinite(v) || v <= 0) throw bad(where, `must be a positive number or a fraction like 1/255, got '${s}'`);
  return v;
}

/** Checks a spec object (e.g. from a JSON file); `where` names it in messages. */
export function parsePreprocessSpec(doc: unknown, where = 'preprocess'): PreprocessSpec {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(where, 'must be a JSON object with resize, mean, std, scale, layout, bgr');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!KEYS.includes(k)) throw bad(where, `unknown key "${k}" (known: ${KEYS.join(', ')})`);
  const spec: PreprocessSpec = {};
  if (o.resize !== undefined) {
    if (typeof o.resize === 'string') spec.resize = parseSize(o.resize, `${where} "resize"`);
    else if (Array.isArray(o.resize) && o.resize.length === 2 && o.resize.every((x) => Number.isSafeInteger(x) && (x as number) >= 1)) spec.resize = [o.resize[0] as number, o.resize[1] as number];
    else throw bad(where, `"resize" must be "WxH" or [W, H], got ${JSON.stringify(o.resize)}`);
  }
  for (const k of ['mean', 'std'] as const) {
    const v = o[k];
    if (v === undefined) continue;
    const arr = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(arr) || arr.length === 0 || arr.some((x) => typeof x !== 'number' || !Number.isFinite(x))) throw bad(where, `"${k}" must be a number or a list of numbers, got ${JSON.stringify(v)}`);
    if (k === 'std' && arr.some((x) => x === 0)) throw bad(where, '"std" must not hold 0');
    spec[k] = arr as number[];
  }
  if (o.scale !== undefined) {
    if (typeof o.scale === 'string') spec.scale = parseScale(o.scale, `${where} "scale"`);
    else if (typeof o.scale === 'number' && Number.isFinite(o.scale) && o.scale > 0) spec.scale = o.scale;
    else throw bad(where, `"scale" must be a positive number or "1/255", got ${JSON.stringify(o.scale)}`);
  }
  if (o.layout !== undefined) {
    const l = typeof o.layout === 'string' ? o.layout.toLowerCase() : o.layout;
    if (l !== 'nchw' && l !== 'nhwc') throw bad(where, `"layout" must be "nchw" or "nhwc", got ${JSON.stringify(o.layout)}`);
    spec.layout = l;
  }
  if (o.bgr !== undefined) {
    if (typeof o.bgr !== 'boolean') throw bad(where, `"bgr" must be true or false, got ${JSON.stringify(o.bgr)}`);
    spec.bgr = o.bgr;
  }
  return spec;
}

/** Resolves a spec against the model input it feeds. */
export function resolvePreprocess(spec: PreprocessSpec, input: ValueInfo, where = 'preprocess'): ResolvedPreprocess {
  if (input.dtype && input.dtype !== 'float32') throw bad(where, `images become float32 tensors, but input '${input.name}' is ${input.dtype}`);
  const shape = input.shape;
  if (shape && shape.length !== 4) throw bad(where, `images need a rank-4 input (NCHW or NHWC), but '${input.name}' has shape [${shape.join(',')}]`);
  const isCh = (d: unknown) => d === 1 || d === 3;
  const layout = spec.layout ?? (shape && !isCh(shape[1]) && isCh(shape[3]) ? 'nhwc' : 'nchw');
  const [cDim, hDim, wDim] = layout === 'nchw' ? [1, 2, 3] : [3, 1, 2];
  const c = shape?.[cDim];
  if (typeof c === 'number' && !isCh(c)) throw bad(where, `input '${input.name}' [${shape!.join(',')}] has ${c} channels in ${layout.toUpperCase()}; images give 1 or 3`);
  const channels = (typeof c === 'number' ? c : 3) as 1 | 3;
  const fixed = (d: unknown) => (typeof d === 'number' ? d : undefined);
  const width = spec.resize?.[0] ?? fixed(shape?.[wDim]);
  const height = spec.resize?.[1] ?? fixed(shape?.[hDim]);
  const per = (v: number[] | undefined, def: number, name: string): number[] => {
    if (!v) return new Array<number>(channels).fill(def);
    if (v.length === 1) return new Array<number>(channels).fill(v[0]!);
    if (v.length !== channels) throw bad(where, `${name} has ${v.length} values, input '${input.name}' has ${channels} channels`);
    return v.slice();
  };
  const std = per(spec.std, 1, 'std');
  if (std.some((x) => x === 0)) throw bad(where, 'std must not hold 0');
  const n = fixed(shape?.[0]);
  return {
    ...(width !== undefined ? { width } : {}), ...(height !== undefined ? { height } : {}),
    channels, layout, bgr: spec.bgr ?? false, mean: per(spec.mean, 0, 'mean'), std, scale: spec.scale ?? 1 / 255,
    batch: n !== undefined && n >= 1 ? n : 1,
  };
}

/**
 * Writes one image into `out` at image index `k` of a batch (NCHW or NHWC of r.channels x H x W).
 * `width`/`height` are the target size (r.width/r.height, or the image's own).
 */
export function writeImage(img: RgbaImage, r: ResolvedPreprocess, width: number, height: number, out: Float32Array, k: number): void {
  const C = r.channels, plane = width * height;
  const base = k * C * plane;
  const sw = img.width, sh = img.height, src = img.data;
  if (src.length < sw * sh * 4) throw new TwinferError('INVALID_ARGUMENT', `image data holds ${src.length} bytes, ${sw}x${sh} RGBA needs ${sw * sh * 4}`);
  const fx = sw / width, fy = sh / height;
  // Model channel k reads source channel ch[k] (RGBA offsets); gray mixes all three.
  const ch = r.bgr ? [2, 1, 0] : [0, 1, 2];
  const px = new Float64Array(3);
  for (let y = 0; y < height; y++) {
    const syf = Math.min(Math.max((y + 0.5) * fy - 0.5, 0), sh - 1);
    const y0 = Math.floor(syf), y1 = Math.min(y0 + 1, sh - 1), wy = syf - y0;
    for (let x = 0; x < width; x++) {
      const sxf = Math.min(Math.max((x + 0.5) * fx - 0.5, 0), sw - 1);
      const x0 = Math.floor(sxf), x1 = Math.min(x0 + 1, sw - 1), wx = sxf - x0;
      const a = (y0 * sw + x0) * 4, b = (y0 * sw + x1) * 4, c = (y1 * sw + x0) * 4, d = (y1 * sw + x1) * 4;
      for (let q = 0; q < 3; q++) {
        const top = src[a + q]! + (src[b + q]! - src[a + q]!) * wx;
        const bot = src[c + q]! + (src[d + q]! - src[c + q]!) * wx;
        px[q] = top + (bot - top) * wy;
      }
      const o = y * width + x;
      if (C === 1) {
        const v = 0.299 * px[0]! + 0.587 * px[1]! + 0.114 * px[2]!;
        out[base + o] = (v * r.scale - r.mean[0]!) / r.std[0]!;
      } else {
        for (let q = 0; q < 3; q++) {
          const v = (px[ch[q]!]! * r.scale - r.mean[q]!) / r.std[q]!;
          if (r.layout === 'nchw') out[base + q * plane + o] = v; else out[base + o * 3 + q] = v;
        }
      }
    }
  }
}

/**
 * A batch of decoded images -> the input tensor (e.g. canvas ImageData in a browser). `names`
 * label the images in messages (file names); sizes must agree unless the spec resizes.
 */
export function imagesToTensor(images: readonly RgbaImage[], r: ResolvedPreprocess, input: ValueInfo, names: readonly string[] = images.map((_, k) => `image ${k}`)): Tensor {
  if (images.length === 0) throw new TwinferError('INVALID_ARGUMENT', 'no images to batch');
  const w = r.width ?? images[0]!.width, h = r.height ?? images[0]!.height;
  images.forEach((img, j) => {
    if (r.width === undefined && (img.width !== w || img.height !== h)) throw new TwinferError('INVALID_ARGUMENT', `calibration image '${names[j]}' is ${img.width}x${img.height} but '${names[0]}' is ${w}x${h}: give a resize to batch them`);
  });
  const n = images.length;
  const dims = r.layout === 'nchw' ? [n, r.channels, h, w] : [n, h, w, r.channels];
  const why = shapeMismatch(input.name, input.shape, dims, new Map());
  if (why) throw new TwinferError('INVALID_ARGUMENT', `calibration image '${names[0]}' preprocessed to [${dims.join(',')}]: ${why}`);
  const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
  images.forEach((img, j) => writeImage(img, r, w, h, data, j));
  return new Tensor('float32', data, dims);
}
