/**
 * GEMM microbenchmark on WebGPU: twinfer's MatMul kernel at M=N=K (default 4096), fp32, timed on
 * the GPU side (R dispatches recorded into one submission, after warm-up), in TFLOP/s. The peer in
 * the same run is a textbook shared-memory tiled WGSL matmul (16x16 tiles, one output per thread),
 * the baseline any tuned kernel has to beat; the ratio is twinfer / peer throughput.
 *   node dist/bench/webgpu-gemm.js [--size 4096] [--reps 10] [--sweep]
 * --sweep also times every tile config of the sweep list (threads, K block, register block per
 * thread), forced with forceTile, to choose the policy's configs on a new GPU.
 */
import '../src/node.js';
import { acquireGpu } from '../backends/webgpu/device.js';
import { BufferPool, GpuRunner, PipelineCache } from '../backends/webgpu/runner.js';
import { findGpuKernel } from '../backends/webgpu/ops/index.js';
import { cfgKey, forceTile, type TileCfg } from '../backends/webgpu/ops/convgemm-tile.js';
import { HostTensor } from '../src/ir/tensor.js';
import type { Node } from '../src/ir/graph.js';
import { seededRandom } from '../src/cli/run.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const size = arg('size', 4096), reps = arg('reps', 30);

const ctx = await acquireGpu();
const runner = new GpuRunner(ctx, new BufferPool(ctx.device), new PipelineCache(ctx.device));
const rand = seededRandom(1);
const mk = () => HostTensor.fromNumbers('float32', [size, size], Float32Array.from({ length: size * size }, () => rand() - 0.5));
const a = runner.upload(mk()), b = runner.upload(mk());
const kernel = findGpuKernel('MatMul');
if (!kernel) throw new Error('no WebGPU MatMul kernel');
const node: Node = { name: 'mm', opType: 'MatMul', domain: '', inputs: ['a', 'b'], outputs: ['y'], attrs: {} };
const once = async () => {
  const [y] = await kernel.run({ node, inputs: [a, b], host: () => undefined, dims: (i) => [a, b][i]?.dims, outputTypes: [{ dtype: 'float32', shape: [size, size] }], gpu: runner });
  runner.release(y!);
};
const PEER = `@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<f32>;
@group(0) @binding(2) var<storage, read_write> C: array<f32>;
@group(0) @binding(3) var<storage, read> params: array<u32>;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tb: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16) fn main(@builtin(global_invocation_id) g: vec3u, @builtin(local_invocation_id) l: vec3u) {
  let n = params[0];
  var acc = 0.0;
  for (var k0 = 0u; k0 < n; k0 += 16u) {
    ta[l.y][l.x] = A[g.y * n + k0 + l.x];
    tb[l.y][l.x] = B[(k0 + l.y) * n + g.x];
    workgroupBarrier();
    for (var k = 0u; k < 16u; k++) { acc += ta[l.y][k] * tb[k][l.x]; }
    workgroupBarrier();
  }
  C[g.y * n + g.x] = acc;
}`;
const peerOnce = async () => {
  const y = runner.alloc('float32', [size, size]);
  await runner.run({ name: 'peer', cacheKey: 'bench:naive-tiled-16', wgsl: () => PEER, inputs: [a, b], outputs: [y], params: [size], workgroups: [size / 16, size / 16, 1] });
  runner.release(y);
};

async function timeIt(fn: () => Promise<void>): Promise<number> {
  // Warm up for a second of GPU work first: an idle GPU runs at low clocks for the first runs.
  const w0 = performance.now();
  while (performance.now() - w0 < 1000) { for (let i = 0; i < 4; i++) await fn(); await runner.finish(); }
  const t0 = performance.now();
  for (let i = 0; i < reps; i++) await fn();
  await runner.finish();
  return (performance.now() - t0) / reps;
}
const tflops = (ms: number) => (2 * size ** 3) / (ms / 1000) / 1e12;
const mine = await timeIt(once);
const peer = size % 16 === 0 ? await timeIt(peerOnce) : NaN;
console.log(`webgpu MatMul ${size}x${size}x${size} fp32 on ${ctx.caps.adapter} (GPU-side, ${reps} reps per submission)`);
console.log(`  twinfer:            ${mine.toFixed(2)} ms  ${tflops(mine).toFixed(2)} TFLOP/s`);
console.log(`  peer (16x16 tiled): ${peer.toFixed(2)} ms  ${tflops(peer).toFixed(2)} TFLOP/s`);
console.log(`  ratio twinfer/peer throughput: ${(peer / mine).toFixed(2)}x`);
if (process.argv.includes('--sweep')) {
  const sweep: TileCfg[] = [];
  for (const [wx, wy] of [[16, 16], [16, 8], [8, 16], [8, 8]] as const) {
    for (const tk of [8, 16, 32]) for (const rm of [4, 8] as const) for (const rn of [4, 8] as const) sweep.push({ wx, wy, tk, rm, rn });
  }
  const rows: [string, number][] = [];
  for (const cfg of sweep) {
    forceTile(cfg);
    try { rows.push([cfgKey(cfg), await timeIt(once)]); } catch (e) { console.log(`  ${cfgKey(cfg)}: ${(e as Error).message.slice(0, 120)}`); }
  }
  forceTile(undefined);
  rows.sort((a, b) => a[1] - b[1]);
  console.log('  sweep (fastest first): config  ms  TFLOP/s  vs default');
  for (const [k, ms] of rows) console.log(`    ${k.padEnd(14)} ${ms.toFixed(2).padStart(7)} ${tflops(ms).toFixed(2).padStart(7)} ${(mine / ms).toFixed(2).padStart(6)}x`);
}
process.exit(0);
