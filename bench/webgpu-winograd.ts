/**
 * Winograd F(4x4,3x3) and F(2x2,3x3) against the implicit-GEMM convolution on ResNet-50 v1.5's 3x3 stride-1 layers,
 * same WebGPU kernels entry point with the algorithm forced each way, timed on the GPU side (R
 * dispatches per submission after warm-up). Prints per-layer times, speed-ups and the total over the
 * network's 13 such layers (target: Winograd >= 1.8x faster).
 *   node dist/bench/webgpu-winograd.js [--batch 1] [--reps 20]
 */
import '../src/node.js';
import { acquireGpu } from '../backends/webgpu/device.js';
import { BufferPool, GpuRunner, PipelineCache } from '../backends/webgpu/runner.js';
import { findGpuKernel } from '../backends/webgpu/ops/index.js';
import { setWinogradPolicy, setWinogradTile } from '../backends/webgpu/ops/convgemm-winograd.js';
import { HostTensor } from '../src/ir/tensor.js';
import type { Node } from '../src/ir/graph.js';
import { seededRandom } from '../src/cli/run.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const batch = arg('batch', 1), reps = arg('reps', 20);
/** [channels, spatial, how many stride-1 3x3 layers of this shape ResNet-50 v1.5 has] */
const LAYERS: [number, number, number][] = [[64, 56, 3], [128, 28, 3], [256, 14, 5], [512, 7, 2]];

const ctx = await acquireGpu();
const runner = new GpuRunner(ctx, new BufferPool(ctx.device), new PipelineCache(ctx.device));
const rand = seededRandom(5);
const kernel = findGpuKernel('twinfer.FusedConv')!;
console.log(`Winograd vs implicit GEMM, ResNet-50 3x3 stride-1 layers, batch ${batch}, fp32, on ${ctx.caps.adapter}`);
console.log('layer              count  implicit-GEMM ms  F(2x2) ms  speed-up  F(4x4) ms  speed-up');
let totalG = 0, totalW = 0, totalW2 = 0;
for (const [c, hw, count] of LAYERS) {
  const xh = HostTensor.fromNumbers('float32', [batch, c, hw, hw], Float32Array.from({ length: batch * c * hw * hw }, () => rand() - 0.5));
  const wh = HostTensor.fromNumbers('float32', [c, c, 3, 3], Float32Array.from({ length: c * c * 9 }, () => (rand() - 0.5) * 0.1));
  const bh = HostTensor.fromNumbers('float32', [c], Float32Array.from({ length: c }, () => rand() - 0.5));
  const [x, w, b] = [runner.upload(xh), runner.upload(wh), runner.upload(bh)];
  const node: Node = { name: 'conv', opType: 'FusedConv', domain: 'twinfer', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], activation: 'Relu', activation_params: [] } };
  const hosts = [xh, wh, bh];
  const once = async () => {
    const [y] = await kernel.run({ node, inputs: [x, w, b], host: (i) => hosts[i], dims: (i) => hosts[i]?.dims, outputTypes: [{ dtype: 'float32', shape: [batch, c, hw, hw] }], gpu: runner });
    runner.release(y!);
  };
  const time = async (policy: 'off' | 'force', m: 2 | 4 = 4) => {
    setWinogradPolicy(policy);
    setWinogradTile(m);
    const w0 = performance.now(); // warm up (GPU clocks, pipelines, the Winograd weight cache)
    while (performance.now() - w0 < 500) { for (let i = 0; i < 4; i++) await once(); await runner.finish(); }
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) await once();
    await runner.finish();
    return (performance.now() - t0) / reps;
  };
  const g = await time('off'), w2 = await time('force', 2), wg = await time('force', 4);
  totalG += g * count; totalW += wg * count; totalW2 += w2 * count;
  console.log(`${`${c}ch ${hw}x${hw}`.padEnd(18)} ${String(count).padStart(5)} ${g.toFixed(3).padStart(17)} ${w2.toFixed(3).padStart(10)} ${(g / w2).toFixed(2).padStart(8)}x ${wg.toFixed(3).padStart(10)} ${(g / wg).toFixed(2).padStart(8)}x`);
}
setWinogradPolicy('auto');
setWinogradTile(2);
console.log(`total (13 layers)        ${totalG.toFixed(3).padStart(17)} ${totalW2.toFixed(3).padStart(10)} ${(totalG / totalW2).toFixed(2).padStart(8)}x ${totalW.toFixed(3).padStart(10)} ${(totalG / totalW).toFixed(2).padStart(8)}x`);
process.exit(0);
