/**
 * The CUDA INT8 kernels (native/src/qconv.cu through backends/native/ops-q.ts) on the GPU machine:
 *  1. every case of test/native/q-cases.ts on backends ['cuda'] alone against the CPU reference
 *     (what q-kernels-gpu.test.ts checks under vitest, which the GPU machine lacks);
 *  2. ResNet-50 (random weights, 224x224) at precision 'int8' with a minmax table: where its Q ops
 *     run, cuda int8 vs cpu int8 (max |diff|, cosine) and vs fp32 (cosine);
 *  3. latency on cuda, fp32 vs int8, median of --iterations runs (inputs uploaded, outputs downloaded).
 *   node dist/bench/native-int8.js [--iterations 20] [--batch 32]
 */
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { HostTensor } from '../src/ir/tensor.js';
import { calibrate } from '../src/quant/calibrate.js';
import { seededRandom } from '../src/cli/run.js';
import { Q_CASES, qLabel, qMismatch } from '../test/native/q-cases.js';
import { buildResNet50 } from './models/index.js';
import { medianMs } from './median.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const iterations = arg('iterations', 20), bigBatch = arg('batch', 32);

const median = (fn: () => Promise<unknown>) => medianMs(fn, iterations, 3);

let failed = 0;
console.log('== Q op cases: cuda vs cpu reference');
for (const [i, c] of Q_CASES.entries()) {
  let why: string | undefined;
  try { why = await qMismatch(c, 300 + i); } catch (e) { why = `threw ${(e as Error).message}`; }
  if (why) failed++;
  console.log(`${why ? 'FAIL' : 'ok  '} ${qLabel(c)}${why ? `: ${why}` : ''}`);
}
console.log(`${Q_CASES.length - failed} / ${Q_CASES.length} agree`);

const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return ab / Math.sqrt(aa * bb);
};

console.log('\n== ResNet-50 224x224, precision int8 (minmax table from 2 random batches)');
const model = buildResNet50();
const rand = seededRandom(5);
const image = (n: number) => ({ input: fromHostTensor(new HostTensor('float32', [n, 3, 224, 224], Float32Array.from({ length: n * 3 * 224 * 224 }, () => rand() * 2 - 1))) });
let t0 = performance.now();
const table = await calibrate(model, [image(1), image(1)], { algo: 'minmax' });
console.log(`calibration ${(performance.now() - t0).toFixed(0)} ms`);
const fp32 = await InferenceSession.create(model, { backends: ['cuda'] });
t0 = performance.now();
const int8 = await InferenceSession.create(model, { backends: ['cuda'], precision: 'int8', calibrationTable: table });
console.log(`int8 cuda session ${(performance.now() - t0).toFixed(0)} ms; ${int8.plan.summary}`);
const qNodes = int8.graph.nodes.filter((n) => n.domain === 'twinfer' && /^Q/.test(n.opType));
const onCuda = qNodes.filter((n) => int8.plan.partition.assignment.get(n) === 'cuda').length;
console.log(`Q nodes ${qNodes.length}, on cuda ${onCuda}; precision counts ${JSON.stringify(int8.precisionReport?.counts)}`);
const cpu8 = await InferenceSession.create(model, { backends: ['cpu'], precision: 'int8', calibrationTable: table });
const test = image(1);
const y8 = toHostTensor((await int8.run(test))['output']!).numbers;
const c8 = toHostTensor((await cpu8.run(test))['output']!).numbers;
const y32 = toHostTensor((await fp32.run(test))['output']!).numbers;
let maxd = 0, maxr = 0;
for (let i = 0; i < c8.length; i++) { maxd = Math.max(maxd, Math.abs(y8[i]! - c8[i]!)); maxr = Math.max(maxr, Math.abs(c8[i]!)); }
console.log(`cuda int8 vs cpu int8: max |diff| ${maxd.toExponential(2)} (max |y| ${maxr.toFixed(3)}), cosine ${cosine(y8, c8).toFixed(7)}`);
console.log(`cuda int8 vs cuda fp32: cosine ${cosine(y8, y32).toFixed(5)}`);

console.log(`\n== latency on cuda (median of ${iterations})`);
for (const n of [1, bigBatch]) {
  const feeds = image(n);
  const a = await median(() => fp32.run(feeds));
  const b = await median(() => int8.run(feeds));
  console.log(`ResNet-50 batch ${n}: fp32 ${a.toFixed(2)} ms, int8 ${b.toFixed(2)} ms (${(a / b).toFixed(2)}x)${n > 1 ? `; ${(n / a * 1000).toFixed(0)} vs ${(n / b * 1000).toFixed(0)} images/s` : ''}`);
}
process.exit(failed ? 1 : 0);
