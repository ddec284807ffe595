/**
 * `calibrate(model, feeds, options)`: INT8 calibration of a model's activations on the CPU
 * reference backend, over the optimized fp32 graph (the graph the backends run, so its tensor
 * names are the ones a precision pass looks up). Two passes over the batches as TensorRT does:
 * amax of every float tensor, then a 2048-bin histogram of |x| over [0, amax]; then each tensor's
 * threshold by the chosen calibrator (minmax needs pass 1 only).
 *
 * With `smoothing` (alpha in [0, 1], src/quant/smooth.ts) a first pass collects the per-channel
 * ranges of every INT8 layer's input, the layers are smoothed (X / s, W * s) and the usual passes
 * calibrate the smoothed graph; the table carries the factors (JSON only).
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
import { ObservedCpuRunner, StatsCollector } from './collect.js';
import { ChannelRanges, applySmoothing, checkAlpha, smoothInputs, smoothingFactors } from './smooth.js';
import { checkBatch } from './feeds.js';
import { CalibrationTable } from './table.js';

export type CalibrationBatch = Record<string, Tensor>;
/** Batches of feeds; `count`, where present, says how many (for progress and time left). */
export type CalibrationFeeds = (AsyncIterable<CalibrationBatch> | Iterable<CalibrationBatch>) & { readonly count?: number };

export interface CalibrationProgress {
  /** 1: ranges (amax), 2: histograms; with smoothing, a pass of channel ranges comes first (1, then 2 and 3). */
  pass: number;
  /** 1 for minmax, else 2; one more with smoothing. */
  passes: number;
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
  /**
   * Activation smoothing strength alpha in [0, 1] (SmoothQuant; depthwise layers always take 1):
   * off when undefined. The table then holds the factors and can be written as JSON only.
   */
  smoothing?: number;
}

export async function calibrate(model: string | Uint8Array | ArrayBuffer | InferenceSession, feeds: CalibrationFeeds, options: CalibrateOptions = {}): Promise<CalibrationTable> {
  const algo = checkAlgo(options.algo ?? 'entropy');
  const percentile = options.percentile ?? DEFAULT_PERCENTILE;
  if (algo === 'percentile') checkPercentile(percentile);
  const limit = options.batches ?? Infinity;
  if (limit !== Infinity && !(Number.isSafeInteger(limit) && limit >= 1)) throw new TwinferError('INVALID_ARGUMENT', `batches must be an integer >= 1, got ${String(options.batches)}`);
  if (!isIterable(feeds)) throw new TwinferError('INVALID_ARGUMENT', 'feeds must be an iterable or async iterable of batches (input name -> Tensor)');
  const alpha = options.smoothing !== undefined ? checkAlpha(options.smoothing) : undefined;
  const session = model instanceof InferenceSession ? model : await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: options.optimizationLevel ?? 2 });
  let graph = session.graph;
  const inputs = graph.feedInputs;
  const statsPasses: 1 | 2 = needsHistogram(algo) ? 2 : 1;
  const passes = statsPasses + (alpha !== undefined ? 1 : 0);

  const declared = typeof feeds.count === 'number' ? feeds.count : Array.isArray(feeds) ? feeds.length : undefined;
  let perPass = declared !== undefined ? Math.min(declared, limit) : undefined;
  const t0 = performance.now();
  let done = 0;
  const progress = (pass: number, batch: number) => {
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

  // The first pass reads the feeds (a one-shot iterable is kept for the later passes); later passes
  // read them again, or the kept batches, and must see as many batches as the first.
  let buffer: Map<string, HostTensor>[] | undefined;
  let n = 0;
  async function eachBatch(pass: number, f: (host: Map<string, HostTensor>) => void): Promise<void> {
    if (pass === 1) {
      const first = iteratorOf(feeds);
      if (passes > 1 && first.oneShot) buffer = [];
      for await (const batch of first.iterable) {
        const host = checkBatch(inputs, batch, `calibration batch ${n}`);
        f(host);
        buffer?.push(host);
        n++;
        progress(pass, n);
        if (n >= limit) break;
      }
      if (n === 0) throw new TwinferError('INVALID_ARGUMENT', 'calibration data gave no batches');
      perPass = n;
      return;
    }
    let k = 0;
    if (buffer) {
      for (const host of buffer) { f(host); k++; progress(pass, k); await Promise.resolve(); }
      return;
    }
    for await (const batch of iteratorOf(feeds).iterable) {
      f(checkBatch(inputs, batch, `calibration batch ${k}`));
      k++;
      progress(pass, k);
      if (k >= n) break;
    }
    if (k < n) throw new TwinferError('INVALID_ARGUMENT', `calibration data gave ${n} batches in pass 1 but only ${k} in pass ${pass}: a re-iterable feed must give the same batches each time`);
  }

  let pass = 1;
  let factors: Map<string, Float32Array> | undefined;
  if (alpha !== undefined) {
    // Channel ranges of every smoothable layer's input, then the smoothed graph to calibrate.
    const sites = smoothInputs(graph);
    const ranges = new ChannelRanges(sites);
    const runner = new ObservedCpuRunner(graph);
    await eachBatch(pass++, (host) => runner.run(host, (name, t) => ranges.observe(name, t)));
    factors = new Map();
    for (const [x, readers] of sites) {
      const amax = ranges.amax.get(x);
      if (!amax) continue;
      for (const r of readers) if (r.site.conv === readers[0]!.site.conv && r.site.channels === amax.length) factors.set(r.node.name, smoothingFactors(graph, r.node, amax, alpha));
    }
    graph = graph.clone();
    applySmoothing(graph, factors);
  }

  const collector = new StatsCollector(graph);
  await eachBatch(pass++, (host) => collector.observeRanges(host));
  if (statsPasses === 2) await eachBatch(pass++, (host) => collector.observeHistograms(host));

  const table = new CalibrationTable(algo, algo === 'percentile' ? { percentile } : {});
  for (const [name, s] of collector.stats) table.setAmax(name, thresholdOf(s, algo, percentile), s.amax);
  if (factors) table.smoothing = { alpha: alpha!, factors };
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
