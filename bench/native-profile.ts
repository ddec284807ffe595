/**
 * Where one CUDA run's time goes (issue 6): the whole session.run, the feed handling on the host,
 * the upload, the CUDA graph, the download, and each recorded launch timed alone (synchronized
 * before and after, so each includes one launch's overhead; the sum is an upper bound of the
 * graph). ResNet-50 or MobileNetV2 (bench/models, seeded weights), static program replay.
 *   node dist/bench/native-profile.js [--model resnet50|mobilenetv2] [--batch 256] [--precision fp16]
 * TWINFER_CONV_VERBOSE=1 also prints every conv shape's tactic timing (native/src/conv.cu).
 */
import '../src/node.js';
import { InferenceSession } from '../src/api/session.js';
import { fromHostTensor } from '../src/api/tensor.js';
import { HostTensor } from '../src/ir/tensor.js';
import type { NativeExecutor } from '../backends/native/executor.js';
import type { GraphContext, Program } from '../backends/native/program.js';
import type { Precision } from '../src/quant/precision.js';
import { buildMobileNetV2, buildResNet50 } from './models/index.js';
import { medianMs } from './median.js';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1]! : d; };
const batch = Number(arg('batch', '256'));
const precision = arg('precision', 'fp16') as Precision;
const name = arg('model', 'resnet50');
const model = name === 'mobilenetv2' ? buildMobileNetV2() : buildResNet50();
if (precision === 'int8') throw new Error('--precision fp32 or fp16 (int8 needs a table: bench/native-int8.ts)');

const s = await InferenceSession.create(model, { backends: ['cuda', 'cpu'], precision });
const x = new HostTensor('float32', [batch, 3, 224, 224], Float32Array.from({ length: batch * 3 * 224 * 224 }, (_, i) => Math.sin(i)));
const feeds = { input: fromHostTensor(x) };
for (let i = 0; i < 4; i++) await s.run(feeds);
const ex = s.plan.executor as NativeExecutor;
const native = s.plan.cuda!.native as Required<GraphContext>;
// The recorded program of the first execution context (private fields: this is a profiler).
const ctx0 = (ex as unknown as { contexts: { programs: Map<string, Program | string> }[] }).contexts[0]!;
const p = [...ctx0.programs.values()].find((v): v is Program => typeof v !== 'string');
if (!p || p.graph === undefined) throw new Error(`no CUDA graph was recorded (mode ${ex.lastMode})`);

const median = (f: () => unknown) => medianMs(f, 7);
const f = p.feeds[0]!, out = p.outputs.find((o) => o.kind === 'device');
const data = x.data as Float32Array;
console.log(`${name} ${precision} batch ${batch}: ${p.launches.length} launches, mode ${ex.lastMode}`);
console.log(`session.run        ${(await median(() => s.run(feeds))).toFixed(2)} ms`);
console.log(`upload + sync      ${(await median(() => { native.upload(f.slot.buffer, f.slot.byteOffset, data); native.synchronize(); })).toFixed(2)} ms`);
console.log(`CUDA graph + sync  ${(await median(() => { native.graphLaunch(p.graph!); native.synchronize(); })).toFixed(2)} ms`);
if (out?.kind === 'device') console.log(`download           ${(await median(() => native.download(out.slot.buffer, out.slot.byteOffset, out.slot.bytes))).toFixed(2)} ms`);

const per = new Map<string, { n: number; ms: number }>();
const reps = 3;
for (let r = 0; r < reps; r++) {
  for (const l of p.launches) {
    native.synchronize();
    const t0 = performance.now();
    native.launch(l.kernel, l.ints, l.floats, l.bindings);
    native.synchronize();
    const key = l.kernel === 'conv2d' ? `conv2d [${Array.from(l.ints.slice(0, 16)).join(',')}] flags ${l.ints[18]}` : l.kernel;
    const a = per.get(key) ?? { n: 0, ms: 0 };
    a.n++; a.ms += (performance.now() - t0) / reps;
    per.set(key, a);
  }
}
const byKernel = new Map<string, number>();
let total = 0;
for (const [k, v] of per) { total += v.ms; const kk = k.split(' ')[0]!; byKernel.set(kk, (byKernel.get(kk) ?? 0) + v.ms); }
console.log(`launches one by one (synchronized each) ${total.toFixed(2)} ms: ${[...byKernel].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`);
for (const [k, v] of [...per].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) console.log(`  ${(v.ms / (v.n / reps)).toFixed(3)} ms x${v.n / reps}  ${k}`);
