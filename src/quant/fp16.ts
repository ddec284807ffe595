/**
 * FP16 conversion of a set of nodes: every float32 value such a node produces becomes float16, the
 * float32 constants only fp16 nodes read are rounded to float16, and Cast nodes are inserted where
 * an fp16 node reads a float32 value (a graph input or an fp32 node's output) or an fp32 node (or a
 * graph output) reads a float16 one. Graph inputs and outputs keep the model's dtypes.
 *
 * A backend then runs float16 storage with float32 arithmetic (the CPU reference rounds every
 * output to float16; WebGPU on adapters without shader-f16 does the same), which is what
 * TensorRT's FP16 mode means for accumulation-sensitive layers too.
 *
 * Nodes that stay fp32 whatever is asked (`fp16Eligible`): ops whose float32 output type comes
 * from an attribute (Constant, ConstantOfShape, EyeLike, Random*), quantization ops (their float
 * side is a scale), ops with subgraphs, and inputs ONNX types as float32 regardless of the data
 * (Resize's roi and scales, the Q ops' W_scale and B) are never converted.
 */
import type { Graph, Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { roundArrayToDtype } from '../ir/lowp.js';

const NEVER_FP16 = new Set([
  'Constant', 'ConstantOfShape', 'EyeLike', 'RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial',
  'QuantizeLinear', 'DequantizeLinear', 'DynamicQuantizeLinear', 'QLinearConv', 'QLinearMatMul', 'ConvInteger', 'MatMulInteger',
  'If', 'Loop', 'Scan', 'SequenceMap', 'Bernoulli',
  // Float ranges are positions or counters: float16 holds integers exactly only up to 2048.
  'Range',
]);

/** (op type, input index) pairs ONNX types as float32 whatever the data type. */
function keepsFloat32Input(n: Node, i: number): boolean {
  if (n.opType === 'Resize' && (i === 1 || i === 2)) return true;
  if (n.domain === 'twinfer' && /^Q(Conv|Gemm|MatMul)$/.test(n.opType) && (i === 2 || i === 3)) return true;
  return false;
}

/** Whether a node may run at fp16 at all (it also needs a float32 value to convert). */
export function fp16Eligible(g: Graph, n: Node): boolean {
  if (NEVER_FP16.has(n.opType)) return false;
  if (Object.values(n.attrs).some((a) => typeof a === 'object' && a !== null && 'nodes' in a)) return false;
  return n.outputs.some((o) => o && g.types.get(o)?.dtype === 'float32');
}

const FLOAT = 1, FLOAT16 = 10;

/**
 * Converts `nodes` (all eligible) to fp16 in place. `g.types` must be current; the caller re-infers
 * afterwards. Returns the number of Cast nodes inserted.
 */
export function convertToFp16(g: Graph, nodes: ReadonlySet<Node>): number {
  if (nodes.size === 0) return 0;
  const producer = new Map<string, Node>();
  for (const n of g.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const consumers = new Map<string, { node: Node; index: number }[]>();
  for (const n of g.nodes) n.inputs.forEach((v, index) => { if (v) (consumers.get(v) ?? consumers.set(v, []).get(v)!).push({ node: n, index }); });
  const isF32 = (v: string) => g.types.get(v)?.dtype === 'float32';
  const used = new Set([...g.nodes.flatMap((n) => n.inputs), ...g.outputs.map((o) => o.name)]);
  const fresh = (base: string) => { let s = base, i = 1; while (used.has(s) || g.types.has(s) || g.initializers.has(s)) s = `${base}_${i++}`; used.add(s); return s; };

  // Values that become float16: the float32 outputs of fp16 nodes.
  const half = new Set<string>();
  for (const n of nodes) for (const o of n.outputs) if (o && isF32(o)) half.add(o);

  // Float32 constants read by fp16 nodes only (at inputs that follow the data type) become float16.
  const halfConsts = new Map<string, string>();
  for (const [name, t] of g.initializers) {
    if (t.dtype !== 'float32') continue;
    const cs = consumers.get(name) ?? [];
    if (cs.length === 0 || g.outputs.some((o) => o.name === name)) continue;
    if (cs.every((c) => nodes.has(c.node) && !keepsFloat32Input(c.node, c.index))) {
      const data = Float32Array.from(t.numbers);
      roundArrayToDtype('float16', data);
      halfConsts.set(name, name);
      g.initializers.set(name, new HostTensor('float16', t.dims.slice(), data));
      g.types.set(name, { dtype: 'float16', shape: t.dims.slice() });
    }
  }

  const inserted: { before: Node; cast: Node }[] = [];
  const castCache = new Map<string, string>();
  const castOf = (v: string, to: number, before: Node): string => {
    const key = `${v}->${to}`;
    let out = castCache.get(key);
    if (!out) {
      out = fresh(`${v}_${to === FLOAT16 ? 'fp16' : 'fp32'}`);
      const cast: Node = { name: fresh(`cast_${out}`), opType: 'Cast', domain: '', inputs: [v], outputs: [out], attrs: { to } };
      inserted.push({ before, cast });
      castCache.set(key, out);
    }
    return out;
  };

  for (const n of g.nodes) {
    const fp16 = nodes.has(n);
    n.inputs.forEach((v, i) => {
      if (!v) return;
      if (fp16 && !keepsFloat32Input(n, i)) {
        if (isF32(v) && !half.has(v) && !halfConsts.has(v)) n.inputs[i] = castOf(v, FLOAT16, n);
      } else if (half.has(v)) {
        n.inputs[i] = castOf(v, FLOAT, n);
      }
    });
    if (fp16 && n.opType === 'Cast' && n.attrs['to'] === FLOAT) n.attrs = { ...n.attrs, to: FLOAT16 };
  }
  // Graph outputs keep their dtype: the producer writes a float16 twin, a Cast restores the name.
  const tail: Node[] = [];
  const renamed = new Map<string, string>();
  for (const o of g.outputs) {
    if (!half.has(o.name)) continue;
    const p = producer.get(o.name)!;
    const twin = fresh(`${o.name}_fp16`);
    p.outputs = p.outputs.map((x) => (x === o.name ? twin : x));
    renamed.set(o.name, twin);
    tail.push({ name: fresh(`cast_${o.name}`), opType: 'Cast', domain: '', inputs: [twin], outputs: [o.name], attrs: { to: FLOAT } });
  }
  // Insert each Cast right before its first consumer (keeps the order topological).
  const byNode = new Map<Node, Node[]>();
  for (const { before, cast } of inserted) (byNode.get(before) ?? byNode.set(before, []).get(before)!).push(cast);
  const order: Node[] = [];
  for (const n of g.nodes) { order.push(...(byNode.get(n) ?? [])); order.push(n); }
  // A Cast of a float16 output read by a later fp32 node sits after its producer already, since
  // its first consumer follows the producer.
  if (renamed.size) for (const n of order) n.inputs = n.inputs.map((v) => renamed.get(v) ?? v);
  g.nodes = [...order, ...tail];
  return inserted.length + tail.length;
}
