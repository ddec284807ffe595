/**
 * Node only (file system, pngjs, jpeg-js): calibration data folders and calibration table files.
 * Exported from src/node.ts; core modules never import this file.
 *
 * A data folder holds either tensors or images:
 * - tensors (.npy, .pb TensorProto), one file per batch per input:
 *   - one input: every tensor file in DIR (or in DIR/<input>/) is a batch;
 *   - several inputs: files DIR/<input>_<k>.npy|.pb (batch k, every input the same set of k), or
 *     one subfolder DIR/<input>/ per input with the same number of files, paired in order.
 *   Files are ordered by name with numbers compared as numbers (x_2 before x_10). Input names
 *   are used with / \ : * ? " < > | replaced by _. Float files of another float type are
 *   converted (NumPy's float64 default is common); everything else must match the input's dtype.
 * - images (.png, .jpg, .jpeg), for a model with one float32 rank-4 input, preprocessed by a
 *   PreprocessSpec (preprocess.ts); a batch is the input's fixed batch dim of images (else 1),
 *   and leftover images that do not fill a batch are not used (the feeds' notes say so).
 * Other files and dotfiles are ignored. Every shape and dtype is checked against the model
 * input, and a mismatch names the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import type { onnx } from 'onnx-proto';
import type { ValueInfo } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { allocStorage, isFloat, LOW_PRECISION_FLOATS, type NumericArray } from '../ir/dtype.js';
import { roundArrayToDtype } from '../ir/lowp.js';
import { pb } from '../onnx/proto.js';
import { tensorFromProto } from '../onnx/tensor-proto.js';
import { parseNpy } from '../onnx/npy.js';
import { fromHostTensor } from '../api/tensor.js';
import { TwinferError, asTwinferError } from '../errors.js';
import { dtypeMismatch, shapeMismatch } from './feeds.js';
import { imagesToTensor, resolvePreprocess, type PreprocessSpec, type RgbaImage } from './preprocess.js';
import { CalibrationTable } from './table.js';
import type { CalibrationBatch } from './calibrate.js';

const TENSOR_EXT = new Set(['.npy', '.pb']);
const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const collator = new Intl.Collator('en', { numeric: true });

/** Calibration batches read from a folder, lazily, once per iteration. */
export interface DirFeeds extends AsyncIterable<CalibrationBatch> {
  /** Batches per iteration. */
  readonly count: number;
  readonly kind: 'tensors' | 'images';
  /** Things worth telling a user (unused images, ...). */
  readonly notes: string[];
}

export interface DirFeedsOptions {
  /** How images become tensors (images only). */
  preprocess?: PreprocessSpec;
}

/** The file-name form of an input name. */
export function fileNameOf(input: string): string { return input.replace(/[/\\:*?"<>|]/g, '_'); }

function invalid(msg: string): TwinferError { return new TwinferError('INVALID_ARGUMENT', msg); }

/** Lists a data folder for a model's feed inputs (sync, so layout errors come before anything runs). */
export function calibrationFeedsFromDir(dir: string, inputs: readonly ValueInfo[], opts: DirFeedsOptions = {}): DirFeeds {
  let st: fs.Stats;
  try { st = fs.statSync(dir); } catch { throw invalid(`calibration data folder '${dir}' does not exist`); }
  if (!st.isDirectory()) throw invalid(`calibration data '${dir}' is not a folder`);
  if (inputs.length === 0) throw invalid('the model has no inputs to feed');
  const entries = fs.readdirSync(dir, { withFileTypes: true }).filter((e) => !e.name.startsWith('.'));
  const files = entries.filter((e) => e.isFile()).map((e) => e.name).sort(collator.compare);
  const tensorFiles = files.filter((f) => TENSOR_EXT.has(path.extname(f).toLowerCase()));
  const imageFiles = files.filter((f) => IMAGE_EXT.has(path.extname(f).toLowerCase()));
  const subdirs = new Set(entries.filter((e) => e.isDirectory()).map((e) => e.name));
  if (tensorFiles.length && imageFiles.length) throw invalid(`calibration data folder '${dir}' mixes tensor files (${tensorFiles[0]}) and images (${imageFiles[0]}): use one kind`);
  if (imageFiles.length) return imageFeeds(dir, imageFiles, inputs, opts.preprocess ?? {});
  if (opts.preprocess) throw invalid(`preprocessing options apply to images, but '${dir}' holds no .png/.jpg images`);

  // Tensors: per-input file lists, paired by index.
  let lists: string[][];
  const allSubdirs = inputs.every((i) => subdirs.has(fileNameOf(i.name)));
  if (allSubdirs && !tensorFiles.length) {
    lists = inputs.map((i) => {
      const sub = path.join(dir, fileNameOf(i.name));
      return fs.readdirSync(sub).filter((f) => !f.startsWith('.') && TENSOR_EXT.has(path.extname(f).toLowerCase())).sort(collator.compare).map((f) => path.join(sub, f));
    });
    inputs.forEach((i, k) => { if (lists[k]!.length !== lists[0]!.length) throw invalid(`calibration data: '${path.join(dir, fileNameOf(i.name))}' holds ${lists[k]!.length} tensor files but '${path.join(dir, fileNameOf(inputs[0]!.name))}' holds ${lists[0]!.length}: every input needs one file per batch`); });
  } else if (inputs.length === 1) {
    lists = [tensorFiles.map((f) => path.join(dir, f))];
  } else {
    lists = flatLists(dir, tensorFiles, inputs);
  }
  if (!lists[0]!.length) {
    throw invalid(`calibration data folder '${dir}' holds no .npy/.pb tensors or .png/.jpg images${inputs.length > 1 ? ` (with several inputs: files <input>_<k>.npy|.pb or one subfolder per input: ${inputs.map((i) => fileNameOf(i.name)).join(', ')})` : ''}`);
  }
  const count = lists[0]!.length;
  return {
    count, kind: 'tensors', notes: [],
    async *[Symbol.asyncIterator]() {
      for (let k = 0; k < count; k++) {
        const batch: CalibrationBatch = {};
        const symbols = new Map<string, number>();
        inputs.forEach((info, j) => {
          const file = lists[j]![k]!;
          let t = readTensor(file);
          if (info.dtype && t.dtype !== info.dtype && isFloat(info.dtype) && isFloat(t.dtype)) t = convertFloat(t, info.dtype);
          const why = dtypeMismatch(info.name, info.dtype, t.dtype) ?? shapeMismatch(info.name, info.shape, t.dims, symbols);
          if (why) throw invalid(`calibration file '${file}': ${why}`);
          batch[info.name] = fromHostTensor(t);
        });
        yield batch;
      }
    },
  };
}

/** Several inputs, files `<input>_<k>.ext` at the top of the folder. */
function flatLists(dir: string, files: string[], inputs: readonly ValueInfo[]): string[][] {
  const byInput = inputs.map(() => new Map<number, string>());
  for (const f of files) {
    const stem = f.slice(0, f.length - path.extname(f).length);
    let hit = false;
    inputs.forEach((info, j) => {
      const pre = `${fileNameOf(info.name)}_`;
      if (!stem.startsWith(pre) || !/^\d+$/.test(stem.slice(pre.length))) return;
      const k = Number(stem.slice(pre.length));
      if (byInput[j]!.has(k)) throw invalid(`calibration data: '${path.join(dir, f)}' and '${path.join(dir, byInput[j]!.get(k)!)}' are both batch ${k} of input '${info.name}'`);
      byInput[j]!.set(k, f);
      hit = true;
    });
    if (!hit) throw invalid(`calibration file '${path.join(dir, f)}' names no input: with several inputs, files are named <input>_<k>.npy|.pb (inputs: ${inputs.map((i) => fileNameOf(i.name)).join(', ')}), or each input has its own subfolder`);
  }
  const ks = [...new Set(byInput.flatMap((m) => [...m.keys()]))].sort((a, b) => a - b);
  return inputs.map((info, j) => ks.map((k) => {
    const f = byInput[j]!.get(k);
    if (f === undefined) {
      const other = byInput.find((m) => m.has(k))!.get(k)!;
      throw invalid(`calibration data: '${path.join(dir, other)}' has no partner for input '${info.name}' (expected ${fileNameOf(info.name)}_${k}.npy or .pb)`);
    }
    return path.join(dir, f);
  }));
}

function readTensor(file: string): HostTensor {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(fs.readFileSync(file)); } catch (e) {
    throw new TwinferError('IO', `cannot read '${file}': ${(e as Error).message}`, { cause: e });
  }
  if (file.toLowerCase().endsWith('.npy')) return parseNpy(bytes, `calibration file '${file}'`);
  let proto: onnx.TensorProto;
  try { proto = pb.TensorProto.decode(bytes); } catch (e) {
    throw invalid(`calibration file '${file}' is not a serialized TensorProto: ${(e as Error).message}`);
  }
  try { return tensorFromProto(proto); } catch (e) { throw asTwinferError(e, 'INVALID_ARGUMENT'); }
}

function convertFloat(t: HostTensor, dtype: NonNullable<ValueInfo['dtype']>): HostTensor {
  const out = allocStorage(dtype, t.size) as NumericArray;
  out.set(t.data as NumericArray);
  if (LOW_PRECISION_FLOATS.has(dtype)) roundArrayToDtype(dtype, out as Float32Array);
  return new HostTensor(dtype, t.dims, out);
}

function imageFeeds(dir: string, files: string[], inputs: readonly ValueInfo[], spec: PreprocessSpec): DirFeeds {
  if (inputs.length !== 1) throw invalid(`calibration images feed one input, but the model has ${inputs.length} (${inputs.map((i) => i.name).join(', ')}): use tensor files`);
  const input = inputs[0]!;
  const r = resolvePreprocess(spec, input, 'image preprocessing');
  const count = Math.floor(files.length / r.batch);
  const notes: string[] = [];
  if (count === 0) throw invalid(`calibration data folder '${dir}' holds ${files.length} images, fewer than one batch of ${r.batch} (input '${input.name}' [${input.shape?.join(',')}])`);
  const left = files.length - count * r.batch;
  if (left) notes.push(`${left} image(s) left out: ${files.length} images do not fill batches of ${r.batch}`);
  return {
    count, kind: 'images', notes,
    async *[Symbol.asyncIterator]() {
      for (let k = 0; k < count; k++) {
        const names = files.slice(k * r.batch, (k + 1) * r.batch).map((f) => path.join(dir, f));
        yield { [input.name]: imagesToTensor(names.map(decodeImage), r, input, names) };
      }
    },
  };
}

/** Decodes a PNG or JPEG file to 8-bit RGBA. */
export function decodeImage(file: string): RgbaImage {
  let bytes: Buffer;
  try { bytes = fs.readFileSync(file); } catch (e) {
    throw new TwinferError('IO', `cannot read '${file}': ${(e as Error).message}`, { cause: e });
  }
  try {
    if (bytes.length >= 8 && bytes[0] === 0x89 && bytes.toString('latin1', 1, 4) === 'PNG') {
      const png = pngjs.PNG.sync.read(bytes);
      return { width: png.width, height: png.height, data: png.data };
    }
    if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
      const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
      return { width: img.width, height: img.height, data: img.data };
    }
  } catch (e) {
    throw invalid(`cannot decode image '${file}': ${(e as Error).message ?? String(e)}`);
  }
  throw invalid(`'${file}' is neither a PNG nor a JPEG image`);
}

// ---- calibration table files ----

/** Reads a table in either format (JSON if the text starts with '{', else TensorRT's cache). */
export function readCalibrationTable(file: string): CalibrationTable {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
    throw new TwinferError('IO', `cannot read calibration table '${file}': ${(e as Error).message}`, { cause: e });
  }
  return CalibrationTable.parse(text, file);
}

/** Writes a table: JSON for a .json file, else TensorRT's cache format. Atomic (temp file + rename). */
export function writeCalibrationTable(file: string, table: CalibrationTable): void {
  const text = path.extname(file).toLowerCase() === '.json' ? table.toJSONString() : table.toTensorRT();
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* nothing to clean */ }
    throw new TwinferError('IO', `cannot write calibration table '${file}': ${(e as Error).message}`, { cause: e });
  }
}
