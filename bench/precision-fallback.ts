/**
 * Precision on every available backend: ResNet-50 (built in code, seeded weights) calibrated with
 * minmax on 2 random batches, then int8 and fp16 sessions on [webgpu, cpu] and [cuda, cpu]: what the
 * planner lowered (the int8 -> fp16 -> fp32 chain, src/quant/fallback.ts), where nodes run, the
 * cosine similarity of the output to the CPU fp32 run, and the median latency.
 *   node dist/bench/precision-fallback.js [--size 224] [--iterations 5]
 */
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { Tensor } from '../src/api/tensor.js';
import type { BackendName } from '../src/engine/plan.js';
import { calibrate } from '../src/quant/calibrate.js';
import { importModel } from '../src/onnx/import.js';
import { exportModel } from '../src/onnx/export.js';
import { seededRandom } from '../src/cli/run.js';
import { buildResNet50 } from './models/index.js';

function arg(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

const size = arg('size', 224), iterations = arg('iterations', 5);
const g = importModel(buildResNet50());
g.inputs[0]!.shape = [1, 3, size, size];
for (const o of g.outputs) o.shape = undefined;
g.types.clear();
const bytes = exportModel(g);
const rand = seededRandom(3);
const batch = () => ({ input: new Tensor('float32', Float32Array.from({ length: 3 * size * size }, () => rand() * 2 - 1), [1, 3, size, size]) });
const cosine = (a: Float32Array, b: Float32Array) => {
  let d = 0, x = 0, y = 0;
  for (let i = 0; i < a.length; i++) { d += a[i]! * b[i]!; x += a[i]! ** 2; y += b[i]! ** 2; }
  return d / Math.sqrt(x * y);
};

const ref = await InferenceSession.create(bytes);
const table = await calibrate(ref, [batch(), batch()], { algo: 'minmax' });
const feeds = batch();
const expected = (await ref.run(feeds))['output']!.data as Float32Array;
for (const backends of [['webgpu', 'cpu'], ['cuda', 'cpu']] as BackendName[][]) {
  for (const precision of ['fp32', 'int8', 'fp16'] as const) {
    const logs: string[] = [];
    try {
      const s = await InferenceSession.create(bytes, { backends, precision, calibrationTable: table, log: (m) => logs.push(m) });
      const got = (await s.run(feeds))['output']!.data as Float32Array;
      const times: number[] = [];
      for (let i = 0; i < iterations; i++) { const t0 = performance.now(); await s.run(feeds); times.push(performance.now() - t0); }
      times.sort((a, b) => a - b);
      const c = s.precisionReport?.counts;
      console.log(`${backends.join(',')} ${precision}: cosine ${cosine(expected, got).toFixed(6)}, median ${times[times.length >> 1]!.toFixed(2)} ms${c ? ` (int8 ${c.int8}, fp16 ${c.fp16}, fp32 ${c.fp32})` : ''}`);
    } catch (e) {
      console.log(`${backends.join(',')} ${precision}: ${(e as Error).message}`);
    }
    for (const l of logs) console.log(`    ${l}`);
  }
}
process.exit(0);
