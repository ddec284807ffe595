/**
 * The native CUDA backend against PyTorch on the same GPU and the same weights (issue 6). First run
 * bench/torch-baseline.py (it exports the torchvision models to ONNX with seeded weights, saves a
 * seeded input with torch's output, and times eager and torch.compile), then:
 *   node dist/bench/native-vs-torch.js --dir DIR [--batch 256] [--iterations 20] [--precisions fp32]
 * Prints, per model and precision: session build time, the first batch-1 and batch-N runs (where
 * each new convolution shape's tactics are timed, or taken from the timing cache:
 * TWINFER_CUDA_TIMING_CACHE; run twice to see a cold and a warm cache), batch-1 latency and large-batch throughput
 * (inputs uploaded and outputs read back every run, as onnxruntime's figures do), nodes that ran on
 * cuda, agreement with torch's fp32 output, and the ratios to PyTorch eager and torch.compile. A
 * second line measures as PyTorch does, inputs and outputs staying on the GPU: the input put there
 * once (cudaTensor), outputs left in CUDA memory (preferredOutputLocation 'cuda') and disposed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import '../src/node.js';
import { InferenceSession, type SessionOptions } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { cudaTensor } from '../src/api/cuda-tensor.js';
import { HostTensor } from '../src/ir/tensor.js';
import { parseNpy } from '../src/onnx/npy.js';
import { calibrate } from '../src/quant/calibrate.js';
import { cudaTimingStats } from '../backends/native/timing-cache.js';
import { medianMs } from './median.js';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1]! : d; };
const dir = arg('dir', '');
if (!dir) { console.error('usage: native-vs-torch --dir DIR (made by bench/torch-baseline.py)'); process.exit(2); }
const batch = Number(arg('batch', '256'));
const iterations = Number(arg('iterations', '20'));
const precisions = arg('precisions', 'fp32').split(',');
const torch = JSON.parse(fs.readFileSync(path.join(dir, 'torch.json'), 'utf8')) as { gpu: string; torch: string; models: Record<string, Record<string, number>> };

const median = (fn: () => Promise<unknown>, n: number) => medianMs(fn, n, 3);

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i]! * b[i]!; aa += a[i]! * a[i]!; bb += b[i]! * b[i]!; }
  return ab / Math.sqrt(aa * bb);
}

function randomInput(n: number): HostTensor {
  const d = new Float32Array(n * 3 * 224 * 224);
  let s = 12345;
  for (let i = 0; i < d.length; i++) { s = (s * 1103515245 + 12345) >>> 0; d[i] = (s / 2 ** 32) * 2 - 1; }
  return new HostTensor('float32', [n, 3, 224, 224], d);
}

console.log(`GPU ${torch.gpu}, torch ${torch.torch}; median of ${iterations} (batch ${batch}: ${Math.max(5, iterations >> 2)})`);
console.log('model         prec  build s  first runs s  shapes timed/cached  cuda nodes  cos(torch)  b1 ms  torch b1  compile b1  b' + batch + ' img/s  torch  compile  ratio-vs-compile');
for (const [name, t] of Object.entries(torch.models)) {
  const model = new Uint8Array(fs.readFileSync(path.join(dir, `${name}.onnx`)));
  const x1 = parseNpy(new Uint8Array(fs.readFileSync(path.join(dir, `${name}.input.npy`))));
  const ref = parseNpy(new Uint8Array(fs.readFileSync(path.join(dir, `${name}.output.npy`))));
  const xb = randomInput(batch);
  // int8: a minmax table from the CPU backend over the torch input and a random image (randomInput
  // is seeded, so a second one would be the same image).
  const table = precisions.includes('int8')
    ? await calibrate(await InferenceSession.create(model, { backends: ['cpu'] }), [x1, randomInput(1)].map((t) => ({ input: fromHostTensor(t) })), { algo: 'minmax' })
    : undefined;
  for (const precision of precisions) {
    const logs: string[] = [];
    const opts = { backends: ['cuda', 'cpu'], log: (l: string) => logs.push(l), precision, ...(precision === 'int8' ? { calibrationTable: table } : {}) } as SessionOptions;
    const t0 = performance.now();
    let s: InferenceSession;
    try { s = await InferenceSession.create(model, opts); } catch (e) { console.log(`${name} ${precision}: ${(e as Error).message}`); continue; }
    const build = (performance.now() - t0) / 1e3;
    const onCuda = [...s.plan.partition.assignment.values()].filter((b) => b === 'cuda').length;
    const f1 = { input: fromHostTensor(x1) };
    const fb = { input: fromHostTensor(xb) };
    const st0 = s.plan.cuda ? cudaTimingStats(s.plan.cuda) : undefined;
    const t1 = performance.now();
    const y = toHostTensor((await s.run(f1))[s.outputNames[0]!]!);
    await s.run(fb);
    const first = (performance.now() - t1) / 1e3;
    const st1 = s.plan.cuda ? cudaTimingStats(s.plan.cuda) : undefined;
    const tactics = st0 && st1 ? `${st1.timed - st0.timed}/${st1.reused - st0.reused}` : '-';
    const cos = cosine(y.data as Float32Array, ref.data as Float32Array);
    const b1 = await median(() => s.run(f1), iterations);
    const bb = await median(() => s.run(fb), Math.max(5, iterations >> 2));
    const ips = batch / bb * 1e3;
    const tp = precision === 'fp32' ? 'fp32' : 'fp16';
    const eagerIps = t[`eager_${tp}_b${batch}_ips`], compIps = t[`compile_fp16_b${batch}_ips`];
    const f = (v: number | undefined, d = 2) => (v === undefined ? '-' : v.toFixed(d));
    console.log(`${name.padEnd(13)} ${precision.padEnd(5)} ${build.toFixed(2).padStart(7)} ${first.toFixed(2).padStart(12)} ${tactics.padStart(18)} ${`${onCuda}/${s.graph.nodes.length}`.padStart(11)} ${cos.toFixed(6).padStart(11)} ${b1.toFixed(2).padStart(6)} ${f(t[`eager_${tp}_b1_ms`]).padStart(9)} ${f(t['compile_fp16_b1_ms']).padStart(11)} ${ips.toFixed(0).padStart(11)} ${f(eagerIps, 0).padStart(6)} ${f(compIps, 0).padStart(8)} ${compIps ? (ips / compIps).toFixed(3).padStart(17) : '-'}`);
    if (onCuda < s.graph.nodes.length) console.log(`  fallback: ${logs.filter((l) => /fall|cpu/i.test(l)).join(' | ').slice(0, 300)}`);
    // As PyTorch measures: the input already on the GPU, the output left there.
    const sd = await InferenceSession.create(model, { ...opts, preferredOutputLocation: 'cuda' });
    const [d1, db] = [await cudaTensor(f1.input), await cudaTensor(fb.input)];
    const runDev = async (x: typeof d1) => { const o = (await sd.run({ input: x }))[sd.outputNames[0]!]!; o.dispose(); };
    const yd = (await sd.run({ input: d1 }))[sd.outputNames[0]!]!;
    const same = cosine(new Float32Array(await yd.getData(true) as Float32Array), y.data as Float32Array);
    await runDev(db);
    const db1 = await median(() => runDev(d1), iterations);
    const dbb = await median(() => runDev(db), Math.max(5, iterations >> 2));
    const dips = batch / dbb * 1e3;
    console.log(`  inputs and outputs on the GPU: b1 ${db1.toFixed(2)} ms (torch ${f(t[`eager_${tp}_b1_ms`])}, compile ${f(t['compile_fp16_b1_ms'])}), b${batch} ${dips.toFixed(0)} img/s (${(bb / dbb).toFixed(2)}x the host-I/O figure; vs torch eager ${eagerIps ? (dips / eagerIps).toFixed(3) : '-'}, vs compile ${compIps ? (dips / compIps).toFixed(3) : '-'}); cos(host-I/O output) ${same.toFixed(6)}`);
    d1.dispose(); db.dispose();
  }
}
