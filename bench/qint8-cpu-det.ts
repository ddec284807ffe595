/**
 * PP-OCRv4 det on the CPU backend in fp32, int8 (twinfer.QConv, minmax table from the input
 * itself) and fp16: best-of-N latency with the top ops of the profile, and how far the int8 / fp16
 * outputs are from fp32.
 *   npm run build && node dist/bench/qint8-cpu-det.js [size=640] [reps=3]
 */
import '../src/node.js'; // installs the worker-thread host, as sessions in Node have it
import * as fs from 'node:fs';
import { buildGraph, optimizeGraph } from '../src/api/session.js';
import { CpuExecutor } from '../backends/cpu/executor.js';
import { assignPrecision } from '../src/quant/precision.js';
import { calibrate } from '../src/quant/calibrate.js';
import { ppocrModels, ppocrInput } from '../src/testing/ppocr.js';
import { fromHostTensor } from '../src/api/tensor.js';
import type { HostTensor } from '../src/ir/tensor.js';

const size = Number(process.argv[2] ?? 640);
const reps = Number(process.argv[3] ?? 3);
const det = ppocrModels(size).find((m) => m.name === (process.env['MODEL'] ?? 'det'))!;
const x = ppocrInput(det.dims);
const bytes = new Uint8Array(fs.readFileSync(det.file));
const table = await calibrate(bytes, [{ x: fromHostTensor(x) }], { algo: 'minmax' });
const outs: Record<string, Float32Array> = {};
for (const p of ['fp32', 'int8', 'fp16'] as const) {
  const g = optimizeGraph(buildGraph(bytes), 2).graph;
  if (p !== 'fp32') assignPrecision(g, { precision: p, table });
  const ex = new CpuExecutor(g);
  const name = g.inputs[0]!.name, out = g.outputs[0]!.name;
  let best = Infinity, prof = new Map<string, number>();
  for (let r = 0; r < reps; r++) {
    const pr = new Map<string, number>();
    const t = performance.now();
    const y = ex.run(new Map([[name, x as HostTensor]]), [out], pr).get(out)!;
    const dt = performance.now() - t;
    if (dt < best) { best = dt; prof = pr; }
    outs[p] = y.data as Float32Array;
  }
  const top = [...prof].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ');
  console.log(`${p}: ${best.toFixed(0)} ms  [${top}]`);
}
for (const p of ['int8', 'fp16']) {
  const a = outs['fp32']!, b = outs[p]!;
  let m = 0, sum = 0, big = 0;
  for (let i = 0; i < a.length; i++) { const d = Math.abs(a[i]! - b[i]!); m = Math.max(m, d); sum += d; if (d > 0.1) big++; }
  console.log(`${p} vs fp32: max abs diff ${m.toFixed(4)}, mean ${(sum / a.length).toExponential(2)}, ${big} of ${a.length} > 0.1`);
}
