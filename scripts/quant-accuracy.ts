/**
 * Accuracy of INT8 (three calibrators) and FP16 on the three PP-OCR models, on rendered text
 * (test/quant/text-data.ts): the table of docs/quantization.md, "Accuracy on rendered text".
 *
 *   npm run build && node dist/scripts/quant-accuracy.js [--backend cpu|webgpu] [--models cls,det,rec]
 *       [--algos entropy,minmax,percentile] [--percentile 99.99] [--no-fp16] [--cal N] [--eval N]
 *       [--constraints JSON] [--smoothing ALPHA] [--json FILE]
 *
 * Per model: a calibration set (seed 1001) and a disjoint evaluation set (seed 2002); the
 * statistics are collected once (both of TensorRT's passes) and each calibrator's table made from
 * them, as calibrate() does. The reference is onnxruntime-node's FP32 output. Metrics: cls top-1
 * agreement, det mean IoU of the maps binarized at 0.3, rec identical CTC greedy strings. Also
 * printed: twinfer's FP32 against the reference, and how often FP32 reads the ground truth (the
 * rendered data is realistic when it does). Defaults: cls 64 / 500 lines, det 16 / 100 pages
 * (320x320), rec 64 / 200 lines (48x320); --cal / --eval set all three.
 * --constraints: precisionConstraints for the int8 runs, e.g. '{"p2o.Conv.0": "fp32"}'.
 * --smoothing: activation smoothing alpha (src/quant/smooth.ts) for every calibrator's table (each
 * calibrated on its own then, smoothing's channel pass included).
 */
import * as fs from 'node:fs';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor } from '../src/api/tensor.js';
import type { BackendName } from '../src/engine/plan.js';
import type { HostTensor } from '../src/ir/tensor.js';
import { StatsCollector } from '../src/quant/collect.js';
import { checkBatch } from '../src/quant/feeds.js';
import { CalibrationTable } from '../src/quant/table.js';
import { checkAlgo, needsHistogram, thresholdOf } from '../src/quant/calibrators.js';
import type { Precision } from '../src/quant/precision.js';
import {
  CAL_SEED, EVAL_SEED, DET_SIZE, REC_WIDTH, METRIC_NAME, TARGET, calibrateOcr, calibratorName, modelFile, ocrBatches, referenceOutputs, scoreOcr, twinferOutputs,
  type CalibrationChoice, type OcrModel, type Score,
} from '../test/quant/ocr-eval.js';
import { clsBatch, recBatch } from '../test/quant/text-data.js';
import { clsTop1, ctcGreedy, decodeText } from '../test/quant/ocr-metrics.js';

const argv = process.argv.slice(2);
const opt = (k: string): string | undefined => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1] : undefined; };
const backend = (opt('backend') ?? 'cpu') as BackendName;
if (backend !== 'cpu' && backend !== 'webgpu') throw new Error(`--backend must be cpu or webgpu, got ${backend}`);
const models = (opt('models') ?? 'cls,det,rec').split(',') as OcrModel[];
const percentile = Number(opt('percentile') ?? 99.99);
const calibrators: CalibrationChoice[] = (opt('algos') ?? 'entropy,minmax,percentile').split(',').map((a) => checkAlgo(a) === 'percentile' ? { algo: 'percentile', percentile } : { algo: checkAlgo(a) });
const withFp16 = !argv.includes('--no-fp16');
const constraints = opt('constraints') ? JSON.parse(opt('constraints')!) as Record<string, Precision> : undefined;
const smoothing = opt('smoothing') !== undefined ? Number(opt('smoothing')) : undefined;
const SIZES: Record<OcrModel, { cal: number; eval: number; batch: number }> = {
  cls: { cal: 64, eval: 500, batch: 50 },
  det: { cal: 16, eval: 100, batch: 4 },
  rec: { cal: 64, eval: 200, batch: 20 },
};
for (const m of models) {
  if (!SIZES[m]) throw new Error(`--models: unknown model '${m}' (cls, det, rec)`);
  if (opt('cal')) SIZES[m].cal = Number(opt('cal'));
  if (opt('eval')) SIZES[m].eval = Number(opt('eval'));
}
const backends: BackendName[] = backend === 'webgpu' ? ['webgpu', 'cpu'] : ['cpu'];

/** One pass of statistics for all calibrators (what calibrate() does per calibrator). */
async function tables(m: OcrModel, batches: HostTensor[]): Promise<Map<string, CalibrationTable>> {
  if (smoothing !== undefined) {
    const out = new Map<string, CalibrationTable>();
    for (const c of calibrators) out.set(calibratorName(c), await calibrateOcr(m, batches, { ...c, smoothing }));
    return out;
  }
  const session = await InferenceSession.create(modelFile(m), { backends: ['cpu'] });
  const collector = new StatsCollector(session.graph);
  const feeds = batches.map((x, i) => checkBatch(session.graph.feedInputs, { x: fromHostTensor(x) }, `calibration batch ${i}`));
  for (const f of feeds) collector.observeRanges(f);
  if (calibrators.some((c) => needsHistogram(c.algo))) for (const f of feeds) collector.observeHistograms(f);
  const out = new Map<string, CalibrationTable>();
  for (const c of calibrators) {
    const t = new CalibrationTable(c.algo, c.algo === 'percentile' ? { percentile: c.percentile! } : {});
    for (const [name, s] of collector.stats) t.setAmax(name, thresholdOf(s, c.algo, c.percentile), s.amax);
    out.set(calibratorName(c), t);
  }
  return out;
}

/** How often twinfer's FP32 reads the ground truth (cls: the rotation; rec: the text, spaces ignored). */
function groundTruth(m: OcrModel, outs: Float32Array[], batch: number): string {
  if (m === 'det') return '';
  let right = 0, n = 0;
  outs.forEach((o, i) => {
    const count = o.length / (m === 'cls' ? 2 : 40 * 6625);
    if (m === 'cls') {
      const s = clsBatch(EVAL_SEED, i * batch, count).samples, top = clsTop1(o, count);
      s.forEach((x, k) => { right += (x.rotated ? 1 : 0) === top[k] ? 1 : 0; n++; });
    } else {
      const s = recBatch(EVAL_SEED, i * batch, count, REC_WIDTH).samples, seqs = ctcGreedy(o, count, 40, 6625);
      s.forEach((x, k) => { right += decodeText(seqs[k]!).replace(/ /g, '') === x.text.replace(/ /g, '') ? 1 : 0; n++; });
    }
  });
  return `${(100 * right / n).toFixed(1)}% ${m === 'cls' ? 'orientation right' : 'lines read exactly'}`;
}

const pct = (v: number) => `${(100 * v).toFixed(2)}%`;
const fmt = (m: OcrModel, v: number) => m === 'det' ? v.toFixed(4) : pct(v);
/** rec: strict (spaces ignored). */
const show = (m: OcrModel, s: Score) => `${fmt(m, s.value)}${s.spaceless !== undefined ? ` (${pct(s.spaceless)})` : ''}`;

interface Row { model: OcrModel; metric: string; count: number; cal: number; cells: Record<string, Score>; fp32: number; truth: string; seconds: Record<string, number> }
const rows: Row[] = [];
const t0 = performance.now();
for (const m of models) {
  const { cal, eval: count, batch } = SIZES[m];
  const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${m}: ${s}\n`);
  const calib = ocrBatches(m, CAL_SEED, cal, batch).slice();
  const evals = ocrBatches(m, EVAL_SEED, count, batch);
  log(`${cal} calibration and ${count} evaluation ${m === 'det' ? `pages (${DET_SIZE}x${DET_SIZE})` : 'lines'}`);
  const ref = await referenceOutputs(m, evals);
  const row: Row = { model: m, metric: METRIC_NAME[m], count, cal, cells: {}, fp32: 0, truth: '', seconds: {} };
  let t = performance.now();
  const fp32 = await twinferOutputs(m, evals, { precision: 'fp32', backends });
  row.seconds.fp32 = (performance.now() - t) / 1000;
  row.fp32 = scoreOcr(m, evals, ref, fp32.outputs).value;
  row.truth = groundTruth(m, fp32.outputs, batch);
  log(`fp32 ${fmt(m, row.fp32)} (${row.seconds.fp32!.toFixed(1)} s); ${row.truth}`);
  t = performance.now();
  const tabs = await tables(m, calib);
  log(`calibrated (${((performance.now() - t) / 1000).toFixed(1)} s)`);
  if (withFp16) {
    t = performance.now();
    const r = await twinferOutputs(m, evals, { precision: 'fp16', table: tabs.values().next().value!, backends });
    row.seconds.fp16 = (performance.now() - t) / 1000;
    row.cells.fp16 = scoreOcr(m, evals, ref, r.outputs);
    log(`fp16 ${show(m, row.cells.fp16)} (${row.seconds.fp16.toFixed(1)} s)`);
  }
  for (const [name, table] of tabs) {
    t = performance.now();
    const r = await twinferOutputs(m, evals, { precision: 'int8', table, backends, ...(constraints ? { extra: { precisionConstraints: constraints } } : {}) });
    row.seconds[name] = (performance.now() - t) / 1000;
    row.cells[`int8 ${name}`] = scoreOcr(m, evals, ref, r.outputs);
    log(`int8 ${name} ${show(m, row.cells[`int8 ${name}`]!)} (${row.seconds[name]!.toFixed(1)} s) ${JSON.stringify(r.session.precisionReport?.counts)}`);
  }
  rows.push(row);
}

const cols = [...new Set(rows.flatMap((r) => Object.keys(r.cells)))];
console.log(`\nbackend ${backend}; reference: onnxruntime-node FP32; calibration seed ${CAL_SEED}, evaluation seed ${EVAL_SEED}\n`);
console.log(`| model | metric | cal / eval | twinfer fp32 | ${cols.join(' | ')} |`);
console.log(`| --- | --- | --- | --- | ${cols.map(() => '---').join(' | ')} |`);
for (const r of rows) {
  const cell = (c: string) => {
    const v = r.cells[c];
    if (v === undefined) return '';
    const bar = TARGET[c === 'fp16' ? 'fp16' : 'int8'][r.model];
    // rec on fp16: the bar applies to the spaces-ignored figure (as test/quant/accuracy.test.ts).
    const got = c === 'fp16' && v.spaceless !== undefined ? v.spaceless : v.value;
    return `${show(r.model, v)}${got >= bar ? '' : ' ✗'}`;
  };
  console.log(`| ${r.model} | ${r.metric} | ${r.cal} / ${r.count} | ${fmt(r.model, r.fp32)} | ${cols.map(cell).join(' | ')} |`);
}
console.log(`\n✗: below issue 4's bar (int8: cls 99%, det IoU 0.95, rec 97%; fp16: 99.9%); rec: identical index sequences (in brackets: spaces ignored, as PaddleOCR's RecMetric)`);
if (constraints) console.log(`int8 runs with precisionConstraints ${JSON.stringify(constraints)}`);
if (smoothing !== undefined) console.log(`int8 tables made with activation smoothing, alpha ${smoothing}`);
for (const r of rows) console.log(`${r.model}: ${r.truth ? `FP32 ${r.truth}; ` : ''}seconds ${Object.entries(r.seconds).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
const json = opt('json');
if (json) fs.writeFileSync(json, JSON.stringify({ backend, rows }, null, 1));
if (backend === 'webgpu') process.exit(0); // Dawn's device keeps the event loop alive
