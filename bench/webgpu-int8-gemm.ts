/**
 * INT8 GEMM microbenchmark on WebGPU: twinfer.QMatMul (dot4I8Packed, int32 accumulation; the time
 * includes quantizing and packing the f32 activation, as in a model) at M=N=K (default 4096), in
 * TOPS, next to the fp32 MatMul kernel of the same backend in TFLOP/s, and their ratio. Timed as
 * bench/webgpu-gemm.ts does: R dispatches recorded into one submission after a second of warm-up.
 *   node dist/bench/webgpu-int8-gemm.js [--size 4096] [--reps 30] [--sweep]
 * On lavapipe use a small size (--size 512 --reps 3). --sweep times int8 tile configs (forceQTile).
 */
import '../src/node.js';
import { acquireGpu } from '../backends/webgpu/device.js';
import { BufferPool, GpuRunner, PipelineCache } from '../backends/webgpu/runner.js';
import { findGpuKernel } from '../backends/webgpu/ops/index.js';
import { forceQTile, qCfgKey, type QTileCfg } from '../backends/webgpu/ops/qfused-gemm.js';
import { HostTensor } from '../src/ir/tensor.js';
import type { Node } from '../src/ir/graph.js';
import { seededRandom } from '../src/cli/run.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const size = arg('size', 4096), reps = arg('reps', 30);

const ctx = await acquireGpu();
if (!ctx.caps.dot4I8Packed) throw new Error(`${ctx.caps.adapter}: no WGSL dot4I8Packed`);
const runner = new GpuRunner(ctx, new BufferPool(ctx.device), new PipelineCache(ctx.device));
const rand = seededRandom(1);
const n2 = size * size;
const a = runner.upload(HostTensor.fromNumbers('float32', [size, size], Float32Array.from({ length: n2 }, () => rand() - 0.5)));
const bf = runner.upload(HostTensor.fromNumbers('float32', [size, size], Float32Array.from({ length: n2 }, () => rand() - 0.5)));
const wq = new HostTensor('int8', [size, size], Int8Array.from({ length: n2 }, () => Math.floor(rand() * 255) - 127));
const ws = new HostTensor('float32', [size], Float32Array.from({ length: size }, () => 0.01));

const mm = findGpuKernel('MatMul')!, qmm = findGpuKernel('twinfer.QMatMul')!;
const mmNode: Node = { name: 'mm', opType: 'MatMul', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: {} };
const qNode: Node = { name: 'qmm', opType: 'QMatMul', domain: 'twinfer', inputs: ['a', 'w', 'ws'], outputs: ['y'], attrs: { x_scale: Math.fround(0.5 / 127) } };
const outputTypes = [{ dtype: 'float32' as const, shape: [size, size] }];
const fp32Once = async () => {
  const [y] = await mm.run({ node: mmNode, inputs: [a, bf], host: () => undefined, dims: (i) => [a, bf][i]?.dims, outputTypes, gpu: runner });
  runner.release(y!);
};
const int8Once = async () => {
  const hosts = [undefined, wq, ws];
  const [y] = await qmm.run({ node: qNode, inputs: [a, undefined, undefined], host: (i) => hosts[i], dims: (i) => [a.dims, wq.dims, ws.dims][i], outputTypes, gpu: runner });
  runner.release(y!);
};

async function timeIt(fn: () => Promise<void>): Promise<number> {
  // Warm up for a second of GPU work first: an idle GPU runs at low clocks for the first runs.
  const w0 = performance.now();
  while (performance.now() - w0 < 1000) { for (let i = 0; i < 2; i++) await fn(); await runner.finish(); }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  await runner.finish();
  return (performance.now() - t0) / reps;
}
const rate = (ms: number) => (2 * size ** 3) / (ms / 1000) / 1e12;
const f = await timeIt(fp32Once);
const q = await timeIt(int8Once);
console.log(`webgpu GEMM ${size}x${size}x${size} on ${ctx.caps.adapter} (GPU-side, ${reps} reps per submission)`);
console.log(`  fp32 MatMul:                  ${f.toFixed(2).padStart(8)} ms  ${rate(f).toFixed(2)} TFLOP/s`);
console.log(`  int8 QMatMul (dot4I8Packed):  ${q.toFixed(2).padStart(8)} ms  ${rate(q).toFixed(2)} TOPS  (incl. quantize-pack of A)`);
console.log(`  ratio int8/fp32 throughput: ${(f / q).toFixed(2)}x`);
if (process.argv.includes('--sweep')) {
  const sweep: QTileCfg[] = [];
  for (const [wx, wy] of [[16, 16], [16, 8], [8, 16], [8, 8]] as const) {
    for (const tkw of [4, 8]) for (const rm of [4, 8] as const) for (const rn of [4, 8] as const) sweep.push({ wx, wy, tkw, rm, rn });
  }
  const rows: [string, number][] = [];
  for (const cfg of sweep) {
    // The weights are packed to a multiple of 8 words, so tkw 4 and 8 both divide them.
    forceQTile(cfg);
    try { rows.push([qCfgKey(cfg), await timeIt(int8Once)]); } catch (e) { console.log(`  ${qCfgKey(cfg)}: ${(e as Error).message.slice(0, 120)}`); }
  }
  forceQTile(undefined);
  rows.sort((x, y) => x[1] - y[1]);
  console.log('  int8 sweep (fastest first): config  ms  TOPS  vs default');
  for (const [k, ms] of rows) console.log(`    ${k.padEnd(14)} ${ms.toFixed(2).padStart(7)} ${rate(ms).toFixed(2).padStart(7)} ${(q / ms).toFixed(2).padStart(6)}x`);
}
process.exit(0);
