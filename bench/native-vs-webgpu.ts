/**
 * The native CUDA backend (with CPU fallback for the ops it lacks) on the GPU machine, side by side
 * in one run with twinfer's WebGPU backend and onnxruntime-node's WebGPU provider on the same GPU:
 * median latency, how many nodes ran on cuda, and agreement with twinfer's CPU backend.
 *   node dist/bench/native-vs-webgpu.js [--iterations 20]
 */
import * as fs from 'node:fs';
import * as ort from 'onnxruntime-node';
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { compareTensors } from '../src/testing/compare.js';
import { ppocrInput, ppocrModels } from '../src/testing/ppocr.js';
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
console.log(`median of ${iterations}; agreement = max |diff| against twinfer cpu`);
console.log('model            cuda ms  cuda nodes  cuda diff   webgpu ms  webgpu diff   ort-webgpu ms');
for (const c of cases) {
  const x = ppocrInput(c.dims, 11);
  const feeds = { [c.input]: fromHostTensor(x) };
  const cpu = await InferenceSession.create(c.model, { backends: ['cpu'] });
  const ref = toHostTensor((await cpu.run(feeds))[cpu.outputNames[0]!]!);
  const logs: string[] = [];
  const cuda = await InferenceSession.create(c.model, { backends: ['cuda', 'cpu'], log: (l) => logs.push(l) });
  const gpu = await InferenceSession.create(c.model, { backends: ['webgpu', 'cpu'] });
  const o = await ort.InferenceSession.create(c.model, { executionProviders: ['webgpu'] });
  const ortFeeds = { [c.input]: new ort.Tensor('float32', x.data as Float32Array, c.dims) };
  const diff = async (s: InferenceSession) => compareTensors(toHostTensor((await s.run(feeds))[s.outputNames[0]!]!), ref, 1e-3, 1e-4).maxAbsErr;
  const onCuda = [...cuda.plan.partition.assignment.values()].filter((b) => b === 'cuda').length;
  const [dc, dg] = [await diff(cuda), await diff(gpu)];
  const [tc, tg, to] = [await median(() => cuda.run(feeds)), await median(() => gpu.run(feeds)), await median(() => o.run(ortFeeds))];
  console.log(`${c.name.padEnd(16)} ${tc.toFixed(2).padStart(7)} ${`${onCuda}/${cuda.graph.nodes.length}`.padStart(11)} ${dc.toExponential(1).padStart(10)} ${tg.toFixed(2).padStart(11)} ${dg.toExponential(1).padStart(12)} ${to.toFixed(2).padStart(15)}`);
  if (onCuda === 0) console.log(`  (cuda ran nothing: ${logs.join(' | ')})`);
  await o.release();
}
process.exit(0);
