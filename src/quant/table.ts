/**
 * CalibrationTable: activation tensor name -> INT8 scale (symmetric, per tensor; amax = 127 * scale).
 * The float32 scale is what every format stores, so it is the source of truth; amax is derived.
 *
 * Two formats, both read and written (browser-safe: text in, text out; files in node-data.ts):
 * - JSON: {"format": "twinfer-calibration", "version": 1, "algorithm": "entropy",
 *          "tensorrt": "TRT-100000-EntropyCalibration2", "tensors": {"x": {"scale": s, "amax": a}}}
 *   (tensors may also carry "absMax", the largest |x| seen, which the TensorRT format cannot hold;
 *   a table made with activation smoothing also has "smoothing": {"alpha", "nodes": {name: [s_c...]}},
 *   src/quant/smooth.ts, which the TensorRT format cannot hold either, so such a table is JSON only).
 * - TensorRT's calibration cache (also Paddle-TRT's calibration table): a header line
 *   `TRT-<version>-<Calibrator>`, then one `name: <hex>` line per tensor, hex being the IEEE-754
 *   bits of the float32 scale (written as 8 lowercase digits; read as 1..8 digits, any case).
 */
import { TwinferError } from '../errors.js';
import type { CalibrationAlgo } from './calibrators.js';

export const TABLE_FORMAT = 'twinfer-calibration';
export const TABLE_VERSION = 1;
/** TensorRT version written into new cache headers (10.0.0); tables read keep their own. */
export const DEFAULT_TRT_VERSION = '100000';

/** TensorRT calibrator names <-> twinfer algorithms. */
const TRT_NAMES: Record<CalibrationAlgo, string> = {
  entropy: 'EntropyCalibration2',
  minmax: 'MinMaxCalibration',
  percentile: 'PercentileCalibration',
};
const FROM_TRT: Record<string, CalibrationAlgo> = {
  EntropyCalibration2: 'entropy', EntropyCalibration: 'entropy', MinMaxCalibration: 'minmax', PercentileCalibration: 'percentile',
};

export interface CalibrationEntry {
  /** float32 scale: real value = int8 value * scale. */
  readonly scale: number;
  /** The threshold: 127 * scale. */
  readonly amax: number;
  /** Largest finite |x| seen during calibration, where known (JSON only). */
  readonly absMax?: number;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** A float32's IEEE bits as 8 lowercase hex digits. */
export function scaleToHex(scale: number): string {
  f32[0] = scale;
  return u32[0]!.toString(16).padStart(8, '0');
}

/** Hex IEEE bits -> float32 value. */
export function hexToScale(hex: string): number {
  u32[0] = parseInt(hex, 16);
  return f32[0]!;
}

function bad(source: string, line: number | undefined, msg: string): TwinferError {
  return new TwinferError('INVALID_ARGUMENT', `calibration table '${source}'${line !== undefined ? ` line ${line}` : ''}: ${msg}`);
}

export class CalibrationTable {
  /** The algorithm that made it, where known ('unknown' for a TensorRT calibrator twinfer does not name). */
  algorithm: CalibrationAlgo | 'unknown';
  /** TensorRT calibrator name of the header (e.g. EntropyCalibration2, LegacyCalibration). */
  calibrator: string;
  /** TensorRT version digits of the header (e.g. 100000 for 10.0.0, 8601 for 8.6.1). */
  trtVersion: string;
  /** Percentile used, for the percentile algorithm. */
  percentile?: number;
  /** Activation smoothing (src/quant/smooth.ts): alpha and each layer's input-channel factors. */
  smoothing?: { alpha: number; factors: Map<string, Float32Array> };
  private readonly entries = new Map<string, CalibrationEntry>();

  constructor(algorithm: CalibrationAlgo | 'unknown' = 'entropy', opts: { calibrator?: string; trtVersion?: string; percentile?: number } = {}) {
    this.algorithm = algorithm;
    this.calibrator = opts.calibrator ?? (algorithm === 'unknown' ? 'EntropyCalibration2' : TRT_NAMES[algorithm]);
    this.trtVersion = opts.trtVersion ?? DEFAULT_TRT_VERSION;
    if (opts.percentile !== undefined) this.percentile = opts.percentile;
  }

  get size(): number { return this.entries.size; }
  get names(): string[] { return [...this.entries.keys()]; }
  has(name: string): boolean { return this.entries.has(name); }
  get(name: string): CalibrationEntry | undefined { return this.entries.get(name); }
  [Symbol.iterator](): IterableIterator<[string, CalibrationEntry]> { return this.entries.entries(); }

  /** Sets a tensor from its threshold (amax): scale = fround(amax / 127). */
  setAmax(name: string, amax: number, absMax?: number): void {
    if (!(amax >= 0) || !Number.isFinite(amax)) throw new TwinferError('INVALID_ARGUMENT', `amax of '${name}' must be a finite number >= 0, got ${amax}`);
    this.setScale(name, Math.fround(amax / 127), absMax);
  }

  /** Sets a tensor from its scale (rounded to float32). */
  setScale(name: string, scale: number, absMax?: number): void {
    const s = Math.fround(scale);
    if (!(s >= 0) || !Number.isFinite(s)) throw new TwinferError('INVALID_ARGUMENT', `scale of '${name}' must be a finite number >= 0, got ${scale}`);
    this.entries.set(name, { scale: s, amax: s * 127, ...(absMax !== undefined ? { absMax } : {}) });
  }

  /** Same algorithm header and the same scales for the same names, in any order (absMax is ignored). */
  sameScales(other: CalibrationTable): boolean {
    if (this.size !== other.size || this.header() !== other.header()) return false;
    for (const [k, e] of this.entries) if (other.get(k)?.scale !== e.scale) return false;
    return true;
  }

  /** `TRT-<version>-<Calibrator>` */
  header(): string { return `TRT-${this.trtVersion}-${this.calibrator}`; }

  // ---- TensorRT calibration cache ----

  toTensorRT(): string {
    if (this.smoothing) throw new TwinferError('INVALID_ARGUMENT', 'this calibration table holds activation smoothing factors, which TensorRT\'s calibration cache format cannot carry: write it as JSON (a .json name)');
    let s = `${this.header()}\n`;
    for (const [name, e] of this.entries) s += `${name}: ${scaleToHex(e.scale)}\n`;
    return s;
  }

  static fromTensorRT(text: string, source = 'table'): CalibrationTable {
    const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
    let first = 0;
    while (first < lines.length && lines[first]!.trim() === '') first++;
    if (first === lines.length) throw bad(source, undefined, 'is empty');
    const head = /^TRT-(\d+)-([A-Za-z0-9_]+)$/.exec(lines[first]!.trim());
    if (!head) throw bad(source, first + 1, `expected a header like 'TRT-100000-EntropyCalibration2', got '${clip(lines[first]!)}'`);
    const algo = FROM_TRT[head[2]!] ?? 'unknown';
    const table = new CalibrationTable(algo, { calibrator: head[2]!, trtVersion: head[1]! });
    for (let i = first + 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === '') continue;
      // Names may hold ': ' themselves (e.g. TensorFlow's 'x:0'); the value follows the last colon.
      const colon = line.lastIndexOf(':');
      const name = colon > 0 ? line.slice(0, colon) : '';
      const hex = colon > 0 ? line.slice(colon + 1).trim() : '';
      if (!name || !/^[0-9a-fA-F]{1,8}$/.test(hex)) throw bad(source, i + 1, `expected 'tensor_name: <scale as 8 hex digits>', got '${clip(line)}'`);
      if (table.has(name)) throw bad(source, i + 1, `tensor '${name}' appears twice`);
      const scale = hexToScale(hex);
      if (!Number.isFinite(scale) || scale < 0 || Object.is(scale, -0)) throw bad(source, i + 1, `scale of '${name}' is ${scale} (bits ${hex}); scales must be finite and >= 0`);
      table.setScale(name, scale);
    }
    return table;
  }

  // ---- JSON ----

  toJSON(): Record<string, unknown> {
    const tensors: Record<string, Record<string, number>> = {};
    for (const [name, e] of this.entries) tensors[name] = { scale: e.scale, amax: e.amax, ...(e.absMax !== undefined ? { absMax: e.absMax } : {}) };
    return {
      format: TABLE_FORMAT, version: TABLE_VERSION, algorithm: this.algorithm,
      ...(this.percentile !== undefined ? { percentile: this.percentile } : {}),
      tensorrt: this.header(), tensors,
      ...(this.smoothing ? { smoothing: { alpha: this.smoothing.alpha, nodes: Object.fromEntries([...this.smoothing.factors].map(([k, v]) => [k, Array.from(v)])) } } : {}),
    };
  }

  toJSONString(): string { return `${JSON.stringify(this.toJSON(), null, 2)}\n`; }

  static fromJSON(text: string, source = 'table'): CalibrationTable {
    let doc: unknown;
    try { doc = JSON.parse(text); } catch (e) {
      const msg = (e as Error).message;
      const pos = /position (\d+)/.exec(msg)?.[1];
      const line = pos !== undefined ? lineOf(text, Number(pos)) : (/line (\d+)/.exec(msg)?.[1] !== undefined ? Number(/line (\d+)/.exec(msg)![1]) : undefined);
      throw bad(source, line, `is not valid JSON (${msg})`);
    }
    if (!isObject(doc)) throw bad(source, 1, 'must be a JSON object');
    if (doc.format !== undefined && doc.format !== TABLE_FORMAT) throw bad(source, keyLine(text, 'format'), `"format" must be "${TABLE_FORMAT}", got ${JSON.stringify(doc.format)}`);
    if (doc.version !== undefined && doc.version !== TABLE_VERSION) throw bad(source, keyLine(text, 'version'), `"version" ${JSON.stringify(doc.version)} is not supported (this build reads ${TABLE_VERSION})`);
    const algo = doc.algorithm ?? 'unknown';
    if (typeof algo !== 'string' || !['entropy', 'minmax', 'percentile', 'unknown'].includes(algo)) {
      throw bad(source, keyLine(text, 'algorithm'), `"algorithm" must be entropy, minmax, percentile or unknown, got ${JSON.stringify(algo)}`);
    }
    const opts: { calibrator?: string; trtVersion?: string; percentile?: number } = {};
    if (doc.tensorrt !== undefined) {
      const h = typeof doc.tensorrt === 'string' ? /^TRT-(\d+)-([A-Za-z0-9_]+)$/.exec(doc.tensorrt) : null;
      if (!h) throw bad(source, keyLine(text, 'tensorrt'), `"tensorrt" must be a header like "TRT-100000-EntropyCalibration2", got ${JSON.stringify(doc.tensorrt)}`);
      opts.trtVersion = h[1]!; opts.calibrator = h[2]!;
    }
    if (doc.percentile !== undefined) {
      if (typeof doc.percentile !== 'number' || !(doc.percentile > 0 && doc.percentile <= 100)) throw bad(source, keyLine(text, 'percentile'), `"percentile" must be a number in (0, 100], got ${JSON.stringify(doc.percentile)}`);
      opts.percentile = doc.percentile;
    }
    const table = new CalibrationTable(algo as CalibrationAlgo | 'unknown', opts);
    if (!isObject(doc.tensors)) throw bad(source, keyLine(text, 'tensors'), '"tensors" must be an object of name -> {"scale", "amax"}');
    for (const [name, v] of Object.entries(doc.tensors)) {
      const where = keyLine(text, name, text.indexOf('"tensors"'));
      if (!isObject(v)) throw bad(source, where, `tensor '${name}' must be an object with "scale" and/or "amax"`);
      for (const k of Object.keys(v)) if (!['scale', 'amax', 'absMax'].includes(k)) throw bad(source, where, `tensor '${name}' has unknown key "${k}"`);
      const num = (k: string): number | undefined => {
        const x = v[k];
        if (x === undefined) return undefined;
        if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) throw bad(source, where, `tensor '${name}': "${k}" must be a finite number >= 0, got ${JSON.stringify(x)}`);
        return x;
      };
      const scale = num('scale'), amax = num('amax'), absMax = num('absMax');
      if (scale === undefined && amax === undefined) throw bad(source, where, `tensor '${name}' needs "scale" or "amax"`);
      if (scale !== undefined && amax !== undefined) {
        const implied = Math.fround(scale) * 127;
        if (Math.abs(implied - amax) > 1e-6 * Math.max(implied, amax) + 1e-30) throw bad(source, where, `tensor '${name}': "amax" ${amax} disagrees with "scale" ${scale} (amax must be 127 * scale = ${implied})`);
      }
      if (scale !== undefined) table.setScale(name, scale, absMax); else table.setAmax(name, amax!, absMax);
    }
    if (doc.smoothing !== undefined) table.smoothing = parseSmoothing(doc.smoothing, source, keyLine(text, 'smoothing'));
    return table;
  }

  /** Reads either format: JSON when the text starts with '{', else TensorRT's. */
  static parse(text: string, source = 'table'): CalibrationTable {
    return text.trimStart().startsWith('{') ? CalibrationTable.fromJSON(text, source) : CalibrationTable.fromTensorRT(text, source);
  }
}

function parseSmoothing(v: unknown, source: string, line: number | undefined): { alpha: number; factors: Map<string, Float32Array> } {
  if (!isObject(v) || typeof v.alpha !== 'number' || !(v.alpha >= 0 && v.alpha <= 1) || !isObject(v.nodes)) {
    throw bad(source, line, '"smoothing" must be {"alpha": a number in [0, 1], "nodes": {node name: [factor per input channel]}}');
  }
  const factors = new Map<string, Float32Array>();
  for (const [name, f] of Object.entries(v.nodes)) {
    if (!Array.isArray(f) || f.length === 0 || f.some((x) => typeof x !== 'number' || !Number.isFinite(x) || !(x > 0))) {
      throw bad(source, line, `"smoothing" factors of '${name}' must be a non-empty list of finite numbers > 0`);
    }
    factors.set(name, Float32Array.from(f as number[]));
  }
  return { alpha: v.alpha, factors };
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Line of the first occurrence of a JSON key (best effort, for messages). */
function keyLine(text: string, key: string, from = 0): number | undefined {
  const i = text.indexOf(`${JSON.stringify(key)}:`, Math.max(0, from));
  const j = i >= 0 ? i : text.indexOf(JSON.stringify(key), Math.max(0, from));
  return j >= 0 ? lineOf(text, j) : undefined;
}

function clip(s: string): string { return s.length > 80 ? `${s.slice(0, 77)}...` : s; }
