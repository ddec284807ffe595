/**
 * twinfer's CPU backend against onnxruntime-node's CPU execution provider on the three PP-OCR
 * models (det at 640x640), same inputs, side by side in one run. Prints median latencies and the
 * ratio twinfer / ORT (lower is better; the target is <= 3x). Each runs twice: with its
 * default threads (twinfer: TWINFER_CPU_THREADS, else the cores up to 8; ORT: its thread pool) and
 * with one thread (twinfer cpuThreads = 1, ORT intra_op_num_threads = 1).
 *   npm run bench:cpu [-- --iterations 10 --warmup 2 --det-size 640]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as ort from 'onnxruntime-node';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { cpuThreads } from '../backends/cpu/convgemm-threads.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const iterations = arg('iterations', 10), warmup = arg('warmup', 2), detSize = arg('det-size', 640);

async function time(fn: () => Promise<unknown>): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < iterations; i++) { const t0 = performance.now(); await fn(); ts.push(performance.now() - t0); }
  ts.sort((a, b) => a - b);
  return ts[Math.floor(ts.length / 2)]!;
}

console.log(`twinfer cpu (${cpuThreads()} threads) vs onnxruntime-node ${ort.env.versions.common} cpu; ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}); median of ${iterations} after ${warmup} warmup`);
console.log('model  input            twinfer ms  tw-1t ms   ort ms  ort-1t ms  ratio  ratio-1t  max|diff|');
for (const m of ppocrModels(detSize)) {
  const x = ppocrInput(m.dims);
  const mine = await InferenceSession.create(m.file);
  const mine1 = await InferenceSession.create(m.file, { cpuThreads: 1 });
  const feeds = { x: fromHostTensor(x) };
  const ortX = { x: new ort.Tensor('float32', x.data as Float32Array, m.dims) };
  const bytes = fs.readFileSync(m.file);
  const ref = await ort.InferenceSession.create(bytes);
  const ref1 = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const a = await mine.run(feeds), b = await ref.run(ortX);
  const name = mine.outputNames[0]!;
  const diff = compareTensors(toHostTensor(a[name]!), toHostTensor(b[name] as unknown as Tensor), 1e-3, 1e-4).maxAbsErr;
  const tw = await time(() => mine.run(feeds));
  const tw1 = await time(() => mine1.run(feeds));
  const to = await time(() => ref.run(ortX));
  const t1 = await time(() => ref1.run(ortX));
  console.log(`${m.name.padEnd(6)} ${m.dims.join('x').padEnd(16)} ${tw.toFixed(2).padStart(10)} ${tw1.toFixed(2).padStart(9)} ${to.toFixed(2).padStart(8)} ${t1.toFixed(2).padStart(10)} ${(tw / to).toFixed(2).padStart(6)}x ${(tw1 / t1).toFixed(2).padStart(8)}x  ${diff.toExponential(1)}`);
  await ref.release(); await ref1.release();
}
