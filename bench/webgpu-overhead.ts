/**
 * Host overhead of a WebGPU run, per run and per dispatch: the per-node path (every run walks the
 * graph, infers shapes, records programs, builds bind groups, writes parameters) against the
 * recorded program's replay (inputs written, dispatches replayed, outputs read back). Host time is
 * measured from the call to the last submit; wall time to the outputs on the host. On lavapipe use
 * the tiny models (GPU time negligible); on a real GPU add --standard (ResNet-50 / MobileNetV2 b1,
 * PP-OCRv4 det 640).
 *   node dist/bench/webgpu-overhead.js [--runs 50] [--standard] [--models chain,cnn,cls]
 */
import * as fs from 'node:fs';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { Tensor, fromHostTensor } from '../src/api/tensor.js';
import type { HybridExecutor } from '../src/engine/hybrid-executor.js';
import { acquireGpu } from '../backends/webgpu/device.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';
import { ModelBuilder, buildMobileNetV2, buildResNet50 } from './models/index.js';

const argv = process.argv;
const arg = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i > 0 ? argv[i + 1]! : d; };
const runs = Number(arg('runs', '50'));
const standard = argv.includes('--standard');
const wanted = arg('models', standard ? 'chain,cnn,cls,resnet50,mobilenetv2,det' : 'chain,cnn,cls').split(',');

/** 100 x (Add, Relu) on 256 floats: 200 one-workgroup dispatches, nothing to compute. */
function chain(): Uint8Array {
  const b = new ModelBuilder('chain', 1);
  let x = b.input('x', 'float32', [1, 256]);
  for (let i = 0; i < 100; i++) x = b.op('Relu', [b.op('Add', [x, b.uniform(`c${i}`, [256], -0.1, 0.1)])]);
  b.output(x, 'y', 'float32', [1, 256]);
  return b.bytes();
}

/** Three 3x3 convs with residuals, a flatten and a classifier at 16x16: small kernels, real graph shape. */
function cnn(): Uint8Array {
  const b = new ModelBuilder('cnn', 2);
  let x = b.input('x', 'float32', [1, 8, 16, 16]);
  for (let i = 0; i < 3; i++) {
    const w = b.heWeight(`w${i}`, [8, 8, 3, 3], 72);
    x = b.op('Add', [b.op('Relu', [b.op('Conv', [x, w, b.uniform(`b${i}`, [8], -0.1, 0.1)], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] })]), x]);
  }
  const f = b.op('Flatten', [x]);
  b.output(b.op('Softmax', [b.op('Gemm', [f, b.heWeight('fc', [10, 2048], 2048, 1)], { transB: 1 })]), 'y', 'float32', [1, 10]);
  return b.bytes();
}

interface Entry { name: string; model: () => Uint8Array | string; feeds: () => Record<string, Tensor> }
const rand = (dims: number[]) => new Tensor('float32', Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37)), dims);
const pp = Object.fromEntries(ppocrModels(640).map((m) => [m.name, m]));
const entries: Entry[] = [
  { name: 'chain', model: chain, feeds: () => ({ x: rand([1, 256]) }) },
  { name: 'cnn', model: cnn, feeds: () => ({ x: rand([1, 8, 16, 16]) }) },
  { name: 'cls', model: () => pp.cls!.file, feeds: () => ({ x: fromHostTensor(ppocrInput(pp.cls!.dims, 3)) }) },
  { name: 'resnet50', model: () => buildResNet50(), feeds: () => ({ input: fromHostTensor(ppocrInput([1, 3, 224, 224], 4)) }) },
  { name: 'mobilenetv2', model: () => buildMobileNetV2(), feeds: () => ({ input: fromHostTensor(ppocrInput([1, 3, 224, 224], 5)) }) },
  { name: 'det', model: () => pp.det!.file, feeds: () => ({ x: fromHostTensor(ppocrInput(pp.det!.dims, 6)) }) },
];

const med = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(s: InferenceSession, feeds: Record<string, Tensor>, replay: boolean) {
  const ex = s.plan.executor as HybridExecutor;
  ex.replay = replay;
  for (let i = 0; i < 3; i++) await s.run(feeds);
  const wall: number[] = [], host: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await s.run(feeds);
    wall.push(performance.now() - t0);
    host.push(ex.lastHostMs);
  }
  return { wall: med(wall), host: med(host), dispatches: ex.lastDispatches, path: ex.lastPath };
}

const ctx = await acquireGpu();
console.log(`adapter: ${ctx.caps.adapter}; ${runs} runs per figure (medians)`);
console.log('| model | dispatches | per-node ms/run | host ms | host us/dispatch | replay ms/run | host ms | host us/dispatch | run speed-up | host cut |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const e of entries.filter((x) => wanted.includes(x.name))) {
  const m = e.model();
  if (typeof m === 'string' && !fs.existsSync(m)) { console.log(`| ${e.name} | (model file missing: ${m}) |`); continue; }
  const t0 = performance.now();
  const s = await InferenceSession.create(m, { backends: ['webgpu'] });
  const build = performance.now() - t0;
  const feeds = e.feeds();
  const a = await measure(s, feeds, false);
  const b = await measure(s, feeds, true);
  const us = (ms: number, n: number) => ((ms * 1000) / Math.max(1, n)).toFixed(1);
  console.log(`| ${e.name} | ${a.dispatches} / ${b.dispatches} | ${a.wall.toFixed(3)} | ${a.host.toFixed(3)} | ${us(a.host, a.dispatches)} | ${b.wall.toFixed(3)} | ${b.host.toFixed(3)} | ${us(b.host, b.dispatches)} | ${(a.wall / b.wall).toFixed(2)}x | ${(a.host / b.host).toFixed(1)}x |`);
  if (b.path !== 'replay') console.log(`  (${e.name}: not replayed: ${(s.plan.executor as HybridExecutor).unreplayable.join('; ')})`);
  console.log(`  (${e.name}: session build ${build.toFixed(0)} ms)`);
}
process.exit(0);
