/**
 * twinfer's WebGPU backend against onnxruntime-node's bundled WebGPU execution provider, same
 * adapter, same inputs, side by side in one run: ResNet-50 v1.5 and MobileNetV2 (built by
 * bench/models with seeded weights) at batch 1 and 32, and PP-OCRv4 det at 640x640. Both sides
 * upload inputs and read outputs back every run. Prints median latency, throughput, the ratio
 * twinfer / ORT (target <= 0.7) and how closely outputs agree.
 *   node dist/bench/webgpu-vs-ort.js [--iterations 20] [--warmup 3] [--quick]
 */
import { forceTile } from '../backends/webgpu/ops/convgemm-tile.js';
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { acquireGpu } from '../backends/webgpu/device.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';
import { buildMobileNetV2, buildResNet50 } from './models/index.js';
import { medianMs } from './median.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const quick = process.argv.includes('--quick');
const noOrt = process.argv.includes('--no-ort');
// --tile WXxWYxTK[rRMxRN] forces one GEMM tile config everywhere (sweeping the policy on a new GPU).
const tileArg = process.argv.indexOf('--tile');
if (tileArg > 0) {
  const m = /^(\d+)x(\d+)x(\d+)(?:r([48])x([48]))?$/.exec(process.argv[tileArg + 1] ?? '');
  if (!m) { console.error('--tile wants WXxWYxTK or WXxWYxTKrRMxRN, e.g. 16x8x8r8x4'); process.exit(2); }
  forceTile({ wx: +m[1]!, wy: +m[2]!, tk: +m[3]!, rm: (m[4] ? +m[4] : 4) as 4 | 8, rn: (m[5] ? +m[5] : 4) as 4 | 8 });
  console.log(`tile forced: ${process.argv[tileArg + 1]}`);
}
const iterations = arg('iterations', quick ? 2 : 20), warmup = arg('warmup', quick ? 1 : 3);

const median = (fn: () => Promise<unknown>) => medianMs(fn, iterations, warmup);

/**
 * Medians of two contenders timed alternately (A, B, A, B...), so clock changes of the GPU (it
 * ramps up under load and drops when idle) hit both alike.
 */
async function interleaved(a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number, number]> {
  for (let i = 0; i < warmup; i++) { await a(); await b(); }
  const ta: number[] = [], tb: number[] = [];
  for (let i = 0; i < iterations; i++) {
    let t0 = performance.now(); await a(); ta.push(performance.now() - t0);
    t0 = performance.now(); await b(); tb.push(performance.now() - t0);
  }
  const med = (t: number[]) => t.sort((x, y) => x - y)[Math.floor(t.length / 2)]!;
  return [med(ta), med(tb)];
}

/** Keeps the GPU busy for `ms` so the first timings do not run at idle clocks. */
async function warmGpu(fn: () => Promise<unknown>, ms = 2000): Promise<void> {
  const t0 = performance.now();
  while (performance.now() - t0 < ms) await fn();
}

interface Case { name: string; model: Uint8Array; input: string; dims: number[] }
const cases: Case[] = [];
const resnet = buildResNet50(), mobilenet = buildMobileNetV2();
for (const batch of quick ? [1] : [1, 32]) {
  cases.push({ name: `resnet50 b${batch}`, model: resnet, input: 'input', dims: [batch, 3, 224, 224] });
  cases.push({ name: `mobilenetv2 b${batch}`, model: mobilenet, input: 'input', dims: [batch, 3, 224, 224] });
}
const det = ppocrModels(quick ? 320 : 640)[2]!;
cases.push({ name: `ppocr-det ${det.dims[2]}`, model: new Uint8Array(fs.readFileSync(det.file)), input: 'x', dims: det.dims });

const gpu = await acquireGpu();
console.log(`twinfer webgpu vs onnxruntime-node ${ort.env.versions.common} webgpu on ${gpu.caps.adapter}; median of ${iterations} interleaved runs each after ${warmup} warmup (GPU warmed 2 s first)`);
console.log('model            twinfer ms  ort ms   ratio  twinfer img/s  ort img/s  max|diff|  webgpu nodes');
for (const c of cases) {
  const x = ppocrInput(c.dims, 11);
  const mine = await InferenceSession.create(c.model, { backends: ['webgpu', 'cpu'] });
  const feeds = { [c.input]: fromHostTensor(x) };
  if (noOrt) {
    // --no-ort: twinfer alone (tile sweeps), after the same warm-up.
    if (c === cases[0]) await warmGpu(() => mine.run(feeds));
    const tw = await median(() => mine.run(feeds));
    console.log(`${c.name.padEnd(16)} ${tw.toFixed(2).padStart(10)}`);
    continue;
  }
  const ref = await ort.InferenceSession.create(c.model, { executionProviders: ['webgpu'] });
    const ortFeeds = { [c.input]: new ort.Tensor('float32', x.data as Float32Array, c.dims) };
  const a = await mine.run(feeds), b = await ref.run(ortFeeds);
  const name = mine.outputNames[0]!;
  const diff = compareTensors(toHostTensor(a[name]!), toHostTensor(b[name] as unknown as Tensor), 1e-3, 1e-4).maxAbsErr;
  if (c === cases[0]) await warmGpu(() => mine.run(feeds));
  const [tw, to] = await interleaved(() => mine.run(feeds), () => ref.run(ortFeeds));
  const onGpu = [...mine.plan.partition.assignment.values()].filter((v) => v === 'webgpu').length;
  const n = c.dims[0]!;
  console.log(`${c.name.padEnd(16)} ${tw.toFixed(2).padStart(10)} ${to.toFixed(2).padStart(7)} ${(tw / to).toFixed(2).padStart(6)}x ${(1000 * n / tw).toFixed(1).padStart(13)} ${(1000 * n / to).toFixed(1).padStart(10)}  ${diff.toExponential(1).padStart(8)}  ${onGpu}/${mine.graph.nodes.length}`);
  await ref.release();
}
process.exit(0);
