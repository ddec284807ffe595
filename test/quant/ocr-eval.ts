/**
 * The accuracy harness shared by test/quant/accuracy*.test.ts and scripts/quant-accuracy.ts:
 * calibration and evaluation sets of rendered text (text-data.ts, disjoint seeds), the FP32
 * reference outputs (onnxruntime-node's CPU provider: independent of twinfer, and fast; the
 * PP-OCR models match it within 1e-4, test/ppocr.test.ts), calibration with one of the three
 * calibrators, runs at int8 / fp16 on a backend, and the agreement metrics (ocr-metrics.ts).
 */
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import '../../src/node.js';
import { InferenceSession, type SessionOptions } from '../../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../../src/api/tensor.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { calibrate } from '../../src/quant/calibrate.js';
import type { CalibrationTable } from '../../src/quant/table.js';
import type { CalibrationAlgo } from '../../src/quant/calibrators.js';
import type { BackendName } from '../../src/engine/plan.js';
import { ppocrModels } from '../../src/testing/ppocr.js';
import { clsBatch, detBatch, recBatch } from './text-data.js';
import { clsTop1, ctcGreedy, detIoU, dropSpaces } from './ocr-metrics.js';

export type OcrModel = 'cls' | 'rec' | 'det';
export const OCR_MODELS: readonly OcrModel[] = ['cls', 'det', 'rec'];

/** Seeds of the two sets: different seeds give disjoint samples (text-data.ts). */
export const CAL_SEED = 1001;
export const EVAL_SEED = 2002;

/** Detector page side (a multiple of 32, as DB's FPN needs). */
export const DET_SIZE = 320;
/** Recognizer line width (PaddleOCR's rec_image_shape 3,48,320). */
export const REC_WIDTH = 320;

export function modelFile(m: OcrModel): string {
  return ppocrModels().find((x) => x.name === m)!.file;
}

/** The inputs of samples first..first+n-1 of set `seed` for model m. */
export function ocrInputs(m: OcrModel, seed: number, first: number, n: number): HostTensor {
  return m === 'cls' ? clsBatch(seed, first, n).tensor : m === 'rec' ? recBatch(seed, first, n, REC_WIDTH).tensor : detBatch(seed, first, n, DET_SIZE).tensor;
}

/** `count` samples of set `seed` in batches of at most `batch`. */
export function ocrBatches(m: OcrModel, seed: number, count: number, batch: number): HostTensor[] {
  const out: HostTensor[] = [];
  for (let first = 0; first < count; first += batch) out.push(ocrInputs(m, seed, first, Math.min(batch, count - first)));
  return out;
}

/** A calibrator, and the activation smoothing alpha where smoothing is on (src/quant/smooth.ts). */
export interface CalibrationChoice { algo: CalibrationAlgo; percentile?: number; smoothing?: number }
export const CALIBRATORS: readonly CalibrationChoice[] = [{ algo: 'entropy' }, { algo: 'minmax' }, { algo: 'percentile', percentile: 99.99 }];
export const calibratorName = (c: CalibrationChoice) => `${c.algo === 'percentile' ? `percentile ${c.percentile ?? 99.99}` : c.algo}${c.smoothing !== undefined ? ` + smoothing ${c.smoothing}` : ''}`;

export async function calibrateOcr(m: OcrModel, batches: readonly HostTensor[], c: CalibrationChoice): Promise<CalibrationTable> {
  return calibrate(modelFile(m), batches.map((x) => ({ x: fromHostTensor(x) })), {
    algo: c.algo, ...(c.percentile !== undefined ? { percentile: c.percentile } : {}), ...(c.smoothing !== undefined ? { smoothing: c.smoothing } : {}),
  });
}

/** FP32 reference outputs per batch from onnxruntime-node (CPU provider). */
export async function referenceOutputs(m: OcrModel, batches: readonly HostTensor[]): Promise<Float32Array[]> {
  const s = await ort.InferenceSession.create(fs.readFileSync(modelFile(m)));
  try {
    const out: Float32Array[] = [];
    for (const x of batches) {
      const r = await s.run({ x: new ort.Tensor('float32', x.data as Float32Array, x.dims) });
      out.push(Float32Array.from(r[s.outputNames[0]!]!.data as Float32Array));
    }
    return out;
  } finally {
    await s.release();
  }
}

export interface RunOptions { precision: 'fp32' | 'fp16' | 'int8'; table?: CalibrationTable; backends?: BackendName[]; extra?: SessionOptions }

/** twinfer's outputs per batch at a precision on a backend. */
export async function twinferOutputs(m: OcrModel, batches: readonly HostTensor[], o: RunOptions): Promise<{ outputs: Float32Array[]; session: InferenceSession }> {
  const session = await InferenceSession.create(modelFile(m), {
    backends: o.backends ?? ['cpu'],
    ...(o.precision !== 'fp32' ? { precision: o.precision } : {}),
    ...(o.table ? { calibrationTable: o.table } : {}),
    ...o.extra,
  });
  const outputs: Float32Array[] = [];
  for (const x of batches) {
    const r = await session.run({ x: fromHostTensor(x) });
    outputs.push(Float32Array.from(toHostTensor(r[session.outputNames[0]!]!).data as Float32Array));
  }
  return { outputs, session };
}

export interface Score {
  /** cls: top-1 agreement; det: mean IoU; rec: fraction of identical strings. */
  value: number;
  /** Lines or pages compared. */
  count: number;
  /** Per-sample values (cls / rec: 1 agree, 0 not; det: the page's IoU). */
  perSample: number[];
  /** rec only: identical strings with spaces ignored (PaddleOCR RecMetric's ignore_space). */
  spaceless?: number;
}

export const METRIC_NAME: Record<OcrModel, string> = { cls: 'top-1 agreement', det: 'mean IoU of maps > 0.3', rec: 'identical strings' };

/** Agreement of `outs` with the reference `ref`, batch by batch (dims from the batch inputs). */
export function scoreOcr(m: OcrModel, batches: readonly HostTensor[], ref: readonly Float32Array[], outs: readonly Float32Array[]): Score {
  const perSample: number[] = [];
  let spaceless = 0;
  const same = (p: readonly number[], q: readonly number[]) => p.length === q.length && p.every((v, j) => v === q[j]);
  batches.forEach((x, i) => {
    const n = x.dims[0]!, a = ref[i]!, b = outs[i]!;
    if (a.length !== b.length) throw new Error(`${m}: output sizes differ (${a.length} vs ${b.length})`);
    if (m === 'cls') {
      const p = clsTop1(a, n), q = clsTop1(b, n);
      for (let k = 0; k < n; k++) perSample.push(p[k] === q[k] ? 1 : 0);
    } else if (m === 'det') {
      perSample.push(...detIoU(a, b, n));
    } else {
      const C = 6625, T = a.length / n / C;
      const p = ctcGreedy(a, n, T, C), q = ctcGreedy(b, n, T, C);
      for (let k = 0; k < n; k++) {
        perSample.push(same(p[k]!, q[k]!) ? 1 : 0);
        if (same(dropSpaces(p[k]!), dropSpaces(q[k]!))) spaceless++;
      }
    }
  });
  const value = perSample.reduce((s, v) => s + v, 0) / perSample.length;
  return { value, count: perSample.length, perSample, ...(m === 'rec' ? { spaceless: spaceless / perSample.length } : {}) };
}

/** Issue 4's bars: int8 per model, fp16 0.999 on all three. */
export const TARGET: Record<'int8' | 'fp16', Record<OcrModel, number>> = {
  int8: { cls: 0.99, det: 0.95, rec: 0.97 },
  fp16: { cls: 0.999, det: 0.999, rec: 0.999 },
};
