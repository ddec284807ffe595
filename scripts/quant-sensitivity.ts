/**
 * Per-layer INT8 sensitivity of a PP-OCR model (Polygraphy's / PaddleSlim's layer-wise analysis in
 * small): which INT8 layers cost the agreement with FP32, and how much of the network must stay in
 * float to reach issue 4's bar. The table of docs/quantization.md, "Why the recognizer misses 97%".
 *
 *   npm run build && node dist/scripts/quant-sensitivity.js [--model rec] [--algo percentile]
 *       [--percentile 99.99] [--smoothing ALPHA] [--cal 64] [--eval 200] [--probe 40] [--steps 4,10,16,22,28,32]
 *
 * 1. One table from the calibration set (seed 1001), as the accuracy tests make it.
 * 2. Each INT8 candidate alone (the rest fp32) on `--probe` evaluation lines: the agreement and the
 *    output SNR (dB) against onnxruntime-node's FP32 output. Low SNR = sensitive.
 * 3. The whole model INT8 except the k most sensitive layers (kept fp32 by precisionConstraints),
 *    for each k of `--steps`, on all `--eval` lines: the curve of agreement against k.
 * CPU backend; the INT8 CPU kernels are exact, so the figures hold for every backend's integers.
 */
import '../src/node.js';
import type { HostTensor } from '../src/ir/tensor.js';
import type { Precision } from '../src/quant/precision.js';
import { checkAlgo } from '../src/quant/calibrators.js';
import {
  CAL_SEED, EVAL_SEED, METRIC_NAME, TARGET, calibrateOcr, ocrBatches, referenceOutputs, scoreOcr, twinferOutputs, type OcrModel,
} from '../test/quant/ocr-eval.js';

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1]! : d; };
const m = opt('model', 'rec') as OcrModel;
if (!['cls', 'det', 'rec'].includes(m)) throw new Error(`--model must be cls, det or rec, got ${m}`);
const algo = checkAlgo(opt('algo', 'percentile'));
const percentile = Number(opt('percentile', '99.99'));
const smoothing = argv.includes('--smoothing') ? Number(opt('smoothing', '0.5')) : undefined;
const calN = Number(opt('cal', m === 'det' ? '16' : '64'));
const evalN = Number(opt('eval', m === 'det' ? '100' : '200'));
const probeN = Number(opt('probe', m === 'det' ? '20' : '40'));
const steps = opt('steps', '4,10,16,22,28,32').split(',').map(Number);
const batch = m === 'det' ? 4 : 20;

/** 10·log10(signal / error) of outs against ref, over every element of every batch. */
function snr(ref: readonly Float32Array[], outs: readonly Float32Array[]): number {
  let s = 0, e = 0;
  outs.forEach((o, i) => { const r = ref[i]!; for (let k = 0; k < o.length; k++) { s += r[k]! * r[k]!; e += (o[k]! - r[k]!) ** 2; } });
  return e === 0 ? Infinity : 10 * Math.log10(s / e);
}
const pct = (v: number) => (m === 'det' ? v.toFixed(4) : `${(100 * v).toFixed(1)}%`);

const t0 = performance.now();
const log = (s: string) => process.stderr.write(`[${((performance.now() - t0) / 1000).toFixed(0)}s] ${s}\n`);
const table = await calibrateOcr(m, ocrBatches(m, CAL_SEED, calN, batch), { algo, ...(algo === 'percentile' ? { percentile } : {}), ...(smoothing !== undefined ? { smoothing } : {}) });
const evals = ocrBatches(m, EVAL_SEED, evalN, batch);
const ref = await referenceOutputs(m, evals);
const probe: HostTensor[] = ocrBatches(m, EVAL_SEED, probeN, batch), probeRef = ref.slice(0, probe.length);
log(`calibrated (${algo}${algo === 'percentile' ? ` ${percentile}` : ''}${smoothing !== undefined ? `, smoothing ${smoothing}` : ''}) on ${calN}, evaluating on ${evalN} (probe ${probeN})`);

const full = await twinferOutputs(m, evals, { precision: 'int8', table });
const fullScore = scoreOcr(m, evals, ref, full.outputs);
const layers = full.session.graph.nodes.filter((n) => n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType));
console.log(`${m}: ${METRIC_NAME[m]}, whole model int8 (${layers.length} INT8 layers): ${pct(fullScore.value)}${fullScore.spaceless !== undefined ? ` (spaces ignored ${pct(fullScore.spaceless)})` : ''}, SNR ${snr(ref, full.outputs).toFixed(1)} dB; bar ${pct(TARGET.int8[m])}`);

const alone: { name: string; op: string; group: number; value: number; snr: number }[] = [];
for (const n of layers) {
  const r = await twinferOutputs(m, probe, { precision: 'fp32', table, extra: { precisionConstraints: { [n.name]: 'int8' as Precision } } });
  alone.push({ name: n.name, op: n.opType, group: Number(n.attrs['group'] ?? 1), value: scoreOcr(m, probe, probeRef, r.outputs).value, snr: snr(probeRef, r.outputs) });
}
log('layers alone done');
alone.sort((a, b) => a.snr - b.snr);
console.log(`\nEach layer alone in int8 (the rest fp32), ${probeN} ${m === 'det' ? 'pages' : 'lines'}, most sensitive first:`);
console.log('| layer | op | groups | agreement | output SNR dB |\n| --- | --- | --- | --- | --- |');
for (const a of alone) console.log(`| ${a.name} | ${a.op} | ${a.group} | ${pct(a.value)} | ${a.snr.toFixed(1)} |`);

console.log(`\nWhole model int8 except the k most sensitive layers (kept fp32), ${evalN} ${m === 'det' ? 'pages' : 'lines'}:`);
console.log('| k kept fp32 | int8 layers | agreement | spaces ignored | output SNR dB |\n| --- | --- | --- | --- | --- |');
for (const k of steps.filter((s) => s <= alone.length)) {
  const constraints: Record<string, Precision> = {};
  for (const a of alone.slice(0, k)) constraints[a.name] = 'fp32';
  const r = await twinferOutputs(m, evals, { precision: 'int8', table, extra: { precisionConstraints: constraints } });
  const s = scoreOcr(m, evals, ref, r.outputs);
  console.log(`| ${k} | ${layers.length - k} | ${pct(s.value)} | ${s.spaceless !== undefined ? pct(s.spaceless) : '-'} | ${snr(ref, r.outputs).toFixed(1)} |`);
}
log('done');
