/**
 * Debug aid: every node of a precision-assigned model run alone on a backend and on the CPU, with
 * the same random inputs (image-like for the first), and the max abs difference per node, worst
 * first. Finds the layer where two backends part ways.
 *   node dist/bench/per-node-diff.js MODEL --backend cuda [--precision int8] [--dims 1,3,320,320] [--top 10]
 */
import * as fs from 'node:fs';
import '../src/node.js';
import { InferenceSession, buildGraph, optimizeGraph } from '../src/api/session.js';
import { Graph } from '../src/ir/graph.js';
import { HostTensor } from '../src/ir/tensor.js';
import { exportModel } from '../src/onnx/export.js';
import { fromHostTensor, toHostTensor } from '../src/api/tensor.js';
import { calibrate } from '../src/quant/calibrate.js';
import { assignPrecision, type Precision } from '../src/quant/precision.js';
import { ppocrInput } from '../src/testing/ppocr.js';
import type { BackendName } from '../src/engine/plan.js';

const argv = process.argv.slice(2);
const arg = (k: string, d: string) => { const i = argv.indexOf(`--${k}`); return i >= 0 ? argv[i + 1]! : d; };
const file = argv[0]!;
const backend = arg('backend', 'cuda') as BackendName;
const precision = arg('precision', 'int8') as Precision;
const dims = arg('dims', '1,3,320,320').split(',').map(Number);
const top = Number(arg('top', '10'));
const bytes = new Uint8Array(fs.readFileSync(file));
const cpu = await InferenceSession.create(bytes, { backends: ['cpu'] });
const x = ppocrInput(dims, 11);
const table = await calibrate(cpu, [1, 2, 3].map((s) => ({ [cpu.inputNames[0]!]: fromHostTensor(ppocrInput(dims, s)) })), { algo: 'minmax' });
const { graph } = optimizeGraph(buildGraph(bytes), 2);
assignPrecision(graph, { precision, table });
// Values of every tensor on the CPU, to feed each node alone.
const whole = graph.clone();
whole.outputs = [...new Set(graph.nodes.flatMap((n) => n.outputs).filter(Boolean))].map((name) => ({ name, ...graph.types.get(name)! }));
const all = await InferenceSession.create(exportModel(whole, { opset: 21 }), { backends: ['cpu'], optimizationLevel: 0 });
const values = await all.run({ [graph.inputs[0]!.name]: fromHostTensor(x) });
const rows: [number, string][] = [];
for (const n of graph.nodes) {
  const g = new Graph();
  g.opsets = { ...graph.opsets };
  const ins = n.inputs.filter((v) => v && !graph.initializers.has(v));
  g.inputs = [...new Set(ins)].map((name) => ({ name, ...graph.types.get(name)! }));
  for (const v of n.inputs) if (v && graph.initializers.has(v)) { g.initializers.set(v, graph.initializers.get(v)!); g.inputs.push({ name: v, ...graph.types.get(v)! }); }
  g.nodes = [{ ...n }];
  g.outputs = n.outputs.filter(Boolean).map((name) => ({ name, ...graph.types.get(name)! }));
  const m = exportModel(g, { opset: 21 });
  const feeds = Object.fromEntries([...new Set(ins)].map((v) => [v, values[v] ?? fromHostTensor(x)]));
  try {
    const a = await InferenceSession.create(m, { backends: [backend], optimizationLevel: 0 });
    const b = await InferenceSession.create(m, { backends: ['cpu'], optimizationLevel: 0 });
    const ya = toHostTensor((await a.run(feeds))[g.outputs[0]!.name]!), yb = toHostTensor((await b.run(feeds))[g.outputs[0]!.name]!);
    let d = 0; const pa = ya.data as Float32Array, pb = yb.data as Float32Array;
    for (let i = 0; i < pa.length; i++) d = Math.max(d, Math.abs(pa[i]! - pb[i]!));
    rows.push([d, `${n.opType} ${n.name} [${ya.dims}] attrs ${JSON.stringify(Object.fromEntries(Object.entries(n.attrs).filter(([k]) => !/activation|scale|zero/.test(k))))}`]);
  } catch (e) { rows.push([Infinity, `${n.opType} ${n.name}: ${(e as Error).message.slice(0, 100)}`]); }
}
rows.sort((p, q) => q[0] - p[0]);
for (const [d, s] of rows.slice(0, top)) console.log(d.toExponential(2), s);
process.exit(0);
