/**
 * The native CUDA backend's run-time overhead (issue 6): the same models run node by node
 * (TWINFER_CUDA_REPLAY=0: shape inference, pool allocation and one N-API call per launch every run),
 * replaying the static program launch by launch (TWINFER_CUDA_GRAPHS=0), and replaying it as one
 * CUDA graph (the default). One process, same GPU, median latency of inputs uploaded and outputs
 * downloaded every run; agreement = max |diff| against twinfer's CPU backend.
 *   node dist/bench/native-replay.js [--iterations 20]
 */
import * as fs from 'node:fs';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';
import type { NativeExecutor } from '../backends/native/executor.js';
import { buildMobileNetV2, buildResNet50 } from './models/index.js';
import { medianMs } from './median.js';

const arg = (k: string, d: number) => { const i = process.argv.indexOf(`--${k}`); return i > 0 ? Number(process.argv[i + 1]) : d; };
const iterations = arg('iterations', 20), warmup = 3;

const median = (fn: () => Promise<unknown>) => medianMs(fn, iterations, warmup);

const det = ppocrModels(640)[2]!;
const cases = [
  { name: 'resnet50 b1', model: buildResNet50(), input: 'input', dims: [1, 3, 224, 224] },
  { name: 'mobilenetv2 b1', model: buildMobileNetV2(), input: 'input', dims: [1, 3, 224, 224] },
  { name: 'ppocr-det 640', model: new Uint8Array(fs.readFileSync(det.file)), input: 'x', dims: det.dims },
];
const modes = [
  { name: 'node by node', env: { TWINFER_CUDA_REPLAY: '0', TWINFER_CUDA_GRAPHS: '1' } },
  { name: 'replay', env: { TWINFER_CUDA_REPLAY: '1', TWINFER_CUDA_GRAPHS: '0' } },
  { name: 'cuda graph', env: { TWINFER_CUDA_REPLAY: '1', TWINFER_CUDA_GRAPHS: '1' } },
];
console.log(`median of ${iterations} (after ${warmup} warm-up runs); diff = max |diff| against twinfer cpu`);
console.log('model            mode           ms       mode seen   launches   diff');
for (const c of cases) {
  const x = ppocrInput(c.dims, 11);
  const feeds = { [c.input]: fromHostTensor(x) };
  const cpu = await InferenceSession.create(c.model, { backends: ['cpu'] });
  const ref = toHostTensor((await cpu.run(feeds))[cpu.outputNames[0]!]!);
  for (const m of modes) {
    Object.assign(process.env, m.env);
    const logs: string[] = [];
    const s = await InferenceSession.create(c.model, { backends: ['cuda', 'cpu'], log: (l) => logs.push(l) });
    const ex = s.plan.executor as NativeExecutor;
    const diffs: number[] = [];
    // First runs: record, capture, then replay; each checked against the CPU.
    for (let i = 0; i < 3; i++) diffs.push(compareTensors(toHostTensor((await s.run(feeds))[s.outputNames[0]!]!), ref, 1e-3, 1e-4).maxAbsErr);
    const t = await median(() => s.run(feeds));
    diffs.push(compareTensors(toHostTensor((await s.run(feeds))[s.outputNames[0]!]!), ref, 1e-3, 1e-4).maxAbsErr);
    console.log(`${c.name.padEnd(16)} ${m.name.padEnd(12)} ${t.toFixed(3).padStart(8)} ${String(ex.lastMode).padStart(12)} ${String(ex.lastLaunches).padStart(10)} ${Math.max(...diffs).toExponential(1).padStart(8)}`);
    const st = ex.programStats;
    if (st.refused.length) console.log(`    not replayed: ${st.refused[0]}`);
    if (st.noGraph.length) console.log(`    no CUDA graph: ${st.noGraph[0]}`);
    for (const l of logs) if (/nodes:/.test(l) && m.name === 'cuda graph') console.log(`    ${l}`);
    ex.dispose?.();
  }
}
process.exit(0);
