/**
 * Concurrent runs on the native CUDA backend (issue 6, execution contexts sharing weights): the
 * same session answering `inflight` run() calls at once, against the peer of one execution context
 * (cudaContexts 1: runs one after another on one stream, as before contexts existed), in one
 * process on one GPU. Every run uploads its input and downloads its output. Throughput = images per
 * second over `--runs` runs; each row's ratio is against the one-context row of its model, batch
 * and precision. Before timing, each session's outputs for distinct inputs run concurrently are
 * checked against the same inputs run alone, and run alone twice (max |diff| of each printed: the
 * same kernels run, so both are 0 unless a tactic is nondeterministic, and then of the same size).
 *   node dist/bench/native-concurrency.js [--runs 400] [--batches 1,8] [--precisions fp16,fp32] [--contexts 2,4]
 */
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput } from '../src/testing/ppocr.js';
import type { NativeExecutor } from '../backends/native/executor.js';
import type { Precision } from '../src/quant/precision.js';
import { buildMobileNetV2, buildResNet50 } from './models/index.js';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1]! : d; };
const runs = Number(arg('runs', '400'));
const batches = arg('batches', '1,8').split(',').map(Number);
const precisions = arg('precisions', 'fp16,fp32').split(',') as Precision[];
const contextCounts = arg('contexts', '2,4').split(',').map(Number);
const models = [
  { name: 'resnet50', model: buildResNet50() },
  { name: 'mobilenetv2', model: buildMobileNetV2() },
];

/** Runs `total` run() calls with `inflight` in flight at any time; returns the wall time in ms. */
async function drive(s: InferenceSession, feeds: Parameters<InferenceSession['run']>[0][], total: number, inflight: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const worker = async () => { while (next < total) { const i = next++; await s.run(feeds[i % feeds.length]!); } };
  await Promise.all(Array.from({ length: inflight }, worker));
  return performance.now() - t0;
}

console.log(`${runs} runs each; ratio = images/s against one execution context (runs one at a time) of the same model, batch and precision`);
console.log('model        prec  batch  contexts in-flight      img/s   ratio   ms/run  max|diff| concurrent-vs-alone, alone-vs-alone');
for (const m of models) {
  for (const precision of precisions) {
    // Random-init MobileNetV2 overflows float16 without a calibration table (docs/benchmarks.md).
    if (m.name === 'mobilenetv2' && precision === 'fp16') continue;
    for (const batch of batches) {
      const feeds = [0, 1, 2, 3].map((k) => ({ input: fromHostTensor(ppocrInput([batch, 3, 224, 224], 31 + k)) }));
      let base = 0;
      for (const contexts of [1, ...contextCounts]) {
        const s = await InferenceSession.create(m.model, { backends: ['cuda', 'cpu'], precision, cudaContexts: contexts });
        const ex = s.plan.executor as NativeExecutor;
        // Warm every context (record, capture) with concurrent runs, then check them.
        for (let r = 0; r < 3; r++) await Promise.all(feeds.map((f) => s.run(f)));
        const together = await Promise.all(feeds.map((f) => s.run(f)));
        let diff = 0, again = 0;
        for (let k = 0; k < feeds.length; k++) {
          const alone = toHostTensor((await s.run(feeds[k]!))['output']!);
          diff = Math.max(diff, compareTensors(toHostTensor(together[k]!['output']!), alone, 0, 0).maxAbsErr);
          again = Math.max(again, compareTensors(toHostTensor((await s.run(feeds[k]!))['output']!), alone, 0, 0).maxAbsErr);
        }
        const inflight = contexts === 1 ? 1 : contexts;
        const ms = await drive(s, feeds, runs, inflight);
        const ips = (runs * batch) / (ms / 1000);
        if (contexts === 1) base = ips;
        console.log(`${m.name.padEnd(12)} ${precision.padEnd(5)} ${String(batch).padStart(5)} ${String(ex.executionContexts).padStart(9)} ${String(inflight).padStart(9)} ${ips.toFixed(0).padStart(10)} ${(ips / base).toFixed(2).padStart(7)} ${(ms / runs).toFixed(3).padStart(8)}  ${diff.toExponential(1)}, ${again.toExponential(1)}`);
        ex.dispose();
      }
    }
  }
}
process.exit(0);
