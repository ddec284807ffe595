/**
 * Test helper: build a small ONNX model in code, run it on twinfer's CPU backend and on
 * onnxruntime-node (the independent reference), and compare.
 *
 * API:
 *   const r = await compareSingleOp({
 *     opType: 'Conv', attrs: { pads: [1,1,1,1] },          // attrs: numbers/arrays/strings/HostTensor
 *     attrTypes?: { alpha: 'float' },                       // only where the name-based guess is wrong
 *     inputs: [ x, w, undefined /* omitted optional *\/ ],  // HostTensor | undefined
 *     constInputs?: [1],                                    // indices fed as initializers instead of feeds
 *     outputs?: 1,                                          // number of outputs (default 1)
 *     opset?: 21, domain?: '',
 *   });
 *   r.twinfer / r.ort: HostTensor[]; assertClose(r, { rtol, atol }) throws with a clear message.
 *   randomTensor(dtype, dims, rand, lo?, hi?) and seededRandom(seed) make seeded data.
 */
import * as ort from 'onnxruntime-node';
import { Graph, type AttrType, type AttrValue } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import type { DType, NumericArray } from '../../src/ir/dtype.js';
import { allocStorage, isFloat } from '../../src/ir/dtype.js';
import { roundArrayToDtype } from '../../src/ir/lowp.js';
import { exportModel } from '../../src/onnx/export.js';
import { buildGraph } from '../../src/api/session.js';
import { CpuExecutor } from '../../backends/cpu/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { fromHostTensor, toHostTensor, type Tensor } from '../../src/api/tensor.js';
import { seededRandom } from '../../src/cli/run.js';

export { seededRandom };

export interface SingleOpSpec {
  opType: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
  attrTypes?: Record<string, AttrType>;
  inputs: (HostTensor | undefined)[];
  constInputs?: number[];
  outputs?: number;
  opset?: number;
}

export interface SingleOpResult { twinfer: HostTensor[]; ort: HostTensor[]; model: Uint8Array }

export function randomTensor(dtype: DType, dims: number[], rand: () => number, lo = -1, hi = 1): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = allocStorage(dtype, n) as NumericArray;
  for (let i = 0; i < n; i++) {
    const v = lo + (hi - lo) * rand();
    data[i] = isFloat(dtype) ? v : dtype === 'bool' ? (v > (lo + hi) / 2 ? 1 : 0) : Math.floor(v);
  }
  if (isFloat(dtype)) roundArrayToDtype(dtype, data as Float32Array);
  return new HostTensor(dtype, dims, data);
}

export function singleOpModel(spec: SingleOpSpec): Uint8Array {
  const g = new Graph();
  g.opsets = { '': spec.opset ?? 21 };
  if (spec.domain) g.opsets[spec.domain] = 1;
  // Trailing omitted inputs are dropped rather than written as '' (onnxruntime 1.30 crashes on some).
  let count = spec.inputs.length;
  while (count > 0 && !spec.inputs[count - 1]) count--;
  const names = spec.inputs.slice(0, count).map((t, i) => (t ? `in${i}` : ''));
  spec.inputs.forEach((t, i) => {
    if (!t) return;
    if (spec.constInputs?.includes(i)) g.initializers.set(names[i]!, t);
    else g.inputs.push({ name: names[i]!, dtype: t.dtype, shape: t.dims.slice() });
  });
  const outs = Array.from({ length: spec.outputs ?? 1 }, (_, k) => `out${k}`);
  g.nodes.push({
    name: `${spec.opType}_0`, opType: spec.opType, domain: spec.domain ?? '', inputs: names, outputs: outs,
    attrs: spec.attrs ?? {}, ...(spec.attrTypes ? { attrTypes: spec.attrTypes } : {}),
  });
  g.outputs = outs.map((name) => ({ name }));
  return exportModel(g);
}

export async function compareSingleOp(spec: SingleOpSpec): Promise<SingleOpResult> {
  const model = singleOpModel(spec);
  const feeds = new Map<string, HostTensor>();
  spec.inputs.forEach((t, i) => { if (t && !spec.constInputs?.includes(i)) feeds.set(`in${i}`, t); });
  const outNames = Array.from({ length: spec.outputs ?? 1 }, (_, k) => `out${k}`);

  const g = buildGraph(model);
  const mine = new CpuExecutor(g).run(feeds, outNames);

  const sess = await ort.InferenceSession.create(model);
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of feeds) {
    const t = fromHostTensor(v);
    ortFeeds[k] = new ort.Tensor(t.type as never, t.data as never, t.dims as number[]);
  }
  const theirs = await sess.run(ortFeeds);
  await sess.release();
  return {
    model,
    twinfer: outNames.map((n) => mine.get(n)!),
    ort: outNames.map((n) => toHostTensor(theirs[n] as unknown as Tensor)),
  };
}

/** Throws unless every output matches within |a-b| <= atol + rtol*|b| (dtype and dims exact). */
export function assertClose(r: SingleOpResult, tol: { rtol: number; atol: number }, label = ''): void {
  r.ort.forEach((expected, k) => {
    const c = compareTensors(r.twinfer[k]!, expected, tol.rtol, tol.atol);
    if (!c.ok) throw new Error(`${label} output ${k}: ${c.reason}`);
  });
}
