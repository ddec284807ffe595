/**
 * `calibrate(model, feeds, options)`: INT8 calibration of a model's activations on the CPU
 * reference backend, over the optimized fp32 graph (the graph the backends run, so its tensor
 * names are the ones a precision pass looks up). Two passes over the batches as TensorRT does:
 * amax of every float tensor, then a 2048-bin histogram of |x| over [0, amax]; then each tensor's
 * threshold by the chosen calibrator (minmax needs pass 1 only).
 *
 * Feeds are any (async) iterable of batches. A re-iterable one (an array, or an object whose
 * [Symbol.asyncIterator]() returns a fresh iterator each call, like calibrationFeedsFromDir's) is
 * read once per pass; a one-shot one (a generator) is buffered in memory during pass 1.
 */
import { InferenceSession } from '../api/session.js';
import type { Tensor } from '../api/tensor.js';
import type { HostTensor } from '../ir/tensor.js';
import type { OptLevel } from '../passes/index.js';
import { TwinferError } from '../errors.js';
import { DEFAULT_PERCENTILE, checkAlgo, checkPercentile, needsHistogram, thresholdOf, type CalibrationAlgo } from './calibrators.js';
import { StatsCollector } from './collect.js';
import { checkBatch } from './feeds.js';
import { CalibrationTable } from './table.js';

export type CalibrationBatch = Record<string, Tensor>;
/** Batches of feeds; `count`, where present, says how many (for progress and time left). */
export type CalibrationFeeds = (AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>) & { readonly count?: number };

export interface CalibrationProgress {
  /** 1: ranges (amax), 2: histograms. */
  pass: 1 | 2;
  /** 1 for minmax, else 2. */
  passes: 1 | 2;
  /** Batches done in this pass. */
  batch: number;
  /** Batches per pass, where known. */
  batches?: number;
  /** Batches done over all passes. */
  done: number;
  /** Batches over all passes, where known. */
  total?: number;
  elapsedMs: number;
  /** Estimated time left, where the total is known. */
  etaMs?: number;
}

export interface CalibrateOptions {
  /** Default 'entropy' (TensorRT's EntropyCalibrator2). */
  algo?: CalibrationAlgo;
  /** For 'percentile': the percentile of |x| kept, in (0, 100]. Default 99.99. */
  percentile?: number;
  /** Use at most this many batches (per pass). Default: all. */
  batches?: number;
  /** Optimizer level of the graph calibrated, when `model` is not a session. Default 2. */
  optimizationLevel?: OptLevel;
  /** Called after every batch. */
  onProgress?: (p: CalibrationProgress) => void;
}

export async function calibrate(model: string | Uint8Array | ArrayBuffer | InferenceSession, feeds: CalibrationFeeds, options: CalibrateOptions = {}): Promise<CalibrationTable> {
  const algo = checkAlgo(options.algo ?? 'entropy');
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  if (algo === 'percentile') checkPercentile(percentile);
  const limit = options.batches ?? Infinity;
  if (limit !== Infinity && !(Number.isSafeInteger(limit) && limit >= 1)) throw new TwinferError('INVALID_ARGUMENT', `batches must be an integer >= 1, got ${String(options.batches)}`);
  if (!isIterable(feeds)) throw new TwinferError('INVALID_ARGUMENT', 'feeds must be an iterable or async iterable of batches (input name -> Tensor)');
  const session = model instanceof InferenceSession ? model : await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: options.optimizationLevel ?? 2 });
  const graph = session.graph;
  const inputs = graph.feedInputs;
  const collector = new StatsCollector(graph);
  const passes: 1 | 2 = needsHistogram(algo) ? 2 : 1;

  const declared = typeof feeds.count === 'number' ? feeds.count : Array.isArray(feeds) ? feeds.length : undefined;
  let perPass = declared !== undefined ? Math.min(declared, limit) : undefined;
  const t0 = performance.now();
  let done = 0;
  const progress = (pass: 1 | 2, batch: number) => {
    done++;
    if (!options.onProgress) return;
    const elapsedMs = performance.now() - t0;
    const total = perPass !== undefined ? perPass * passes : undefined;
    options.onProgress({
      pass, passes, batch, done, elapsedMs,
      ...(perPass !== undefined ? { batches: perPass } : {}),
      ...(total !== undefined ? { total, etaMs: (elapsedMs / done) * Math.max(0, total - done) } : {}),
    });
  };

  // Pass 1: ranges. A one-shot iterable is kept for pass 2.
  const first = iteratorOf(feeds);
  const buffer: Map<string, HostTensor>[] | undefined = passes === 2 && first.oneShot ? [] : undefined;
  let n = 0;
  for await (const batch of first.iterable) {
    const host = checkBatch(inputs, batch, `calibration batch ${n}`);
    collector.observeRanges(host);
    buffer?.push(host);
    n++;
    progress(1, n);
    if (n >= limit) break;
  }
  if (n === 0) throw new TwinferError('INVALID_ARGUMENT', 'calibration data gave no batches');
  perPass = n;

  // Pass 2: histograms over [0, amax].
  if (passes === 2) {
    let k = 0;
    if (buffer) {
      for (const host of buffer) { collector.observeHistograms(host); k++; progress(2, k); await Promise.resolve(); }
    } else {
      for await (const batch of iteratorOf(feeds).iterable) {
        collector.observeHistograms(checkBatch(inputs, batch, `calibration batch ${k}`));
        k++;
        progress(2, k);
        if (k >= n) break;
      }
      if (k < n) throw new TwinferError('INVALID_ARGUMENT', `calibration data gave ${n} batches in pass 1 but only ${k} in pass 2: a re-iterable feed must give the same batches each time`);
    }
  }

  const table = new CalibrationTable(algo, algo === 'percentile' ? { percentile } : {});
  for (const [name, s] of collector.stats) table.setAmax(name, thresholdOf(s, algo, percentile), s.amax);
  return table;
}

function isIterable(x: unknown): x is CalibrationFeeds {
  return typeof x === 'object' && x !== null && (Symbol.asyncIterator in x || Symbol.iterator in x);
}

/** A fresh iteration of the feeds, and whether the feeds can be iterated again. */
function iteratorOf(feeds: CalibrationFeeds): { iterable: AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>; oneShot: boolean } {
  if (Symbol.asyncIterator in feeds) {
    const it = (feeds as AsyncIterable<CalibrationBatch>)[Symbol.asyncIterator]();
    return { iterable: { [Symbol.asyncIterator]: () => it }, oneShot: (it as unknown) === feeds };
  }
  const it = (feeds as Iterable<CalibrationBatch>)[Symbol.iterator]();
  return { iterable: { [Symbol.iterator]: () => it }, oneShot: (it as unknown) === feeds };
}
