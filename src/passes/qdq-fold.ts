/**
 * QDQ fold: explicitly quantized models (QuantizeLinear / DequantizeLinear pairs, as onnxruntime's
 * quantize_static in QDQ format, NVIDIA's pytorch-quantization or PaddleSlim write them) run their
 * Conv / Gemm / MatMul as the INT8 ops twinfer.QConv / QGemm / QMatMul (src/ir/ops/qfused.ts) with
 * the model's own scales and zero points:
 *
 *   op(DQ(xq, s, zp), DQ(Wq, ws, 0) [, DQ(Bq, xs*ws, 0) | B])  ->  Q op(DQ(xq), Wq, ws, B; x_scale=s, x_zero_point=zp)
 *        xq int8/uint8 per tensor; Wq a constant int8 (or Q(W float constant), evaluated) with zero
 *        zero points, per tensor or per output channel (Conv axis 0, MatMul B [K,N] axis 1, Gemm B
 *        axis 0 with transB else 1); Gemm's alpha folds into W_scale, beta into B.
 *   Q op(DQ(Q(x, s, zp), s, zp); x_scale=s, x_zero_point=zp)  ->  Q op(x)
 *        the Q op quantizes x itself, exactly as the pair did; the Q output keeps its other readers.
 *   QLinearConv / QLinearMatMul(x, xs, xzp, W, ws, 0, ys, yzp [, B])  ->  QuantizeLinear(Q op(DQ(x)), ys, yzp)
 *   ConvInteger / MatMulInteger(x, W, xzp, 0)  ->  Cast<int32>(Q op(DQ(x, 1, xzp); x_scale = 1))
 *        when every accumulator is below 2^24 (so exact in the op's float32 epilogue).
 *
 * Why the re-quantization inside the Q op is exact: DQ gives f = f32((q - zp) * s); with |q - zp| <= 255
 * f / s is within 255 * 2^-24 of the integer q - zp, so rne(f / s) + zp = q.
 * Left as float ops (correct, slower; explainQdqFold says why): uint8 weights, weights with non-zero
 * zero points, per-axis weights on another axis, non-constant weights or scales, blocked quantization,
 * 16-bit / 4-bit / float8 types, ConvTranspose (no INT8 op), X not dequantized (weight-only).
 * Runs before constant folding (which would turn DQ(constant weight) into float weights).
 */
import type { Graph, Node, ValueType } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import type { Evaluate } from '../ir/infer.js';
import { Q_BASE, Q_OF } from '../ir/ops/qfused.js';
import { NameGen, type Rewrite, type Rule } from './rules.js';
import { GraphView } from './view.js';
import { copyNode } from './util.js';
import {
  actOfQNode, actQuant, constantOf, dequantizesToFloat32, plainFloat32Quantize, producerOf, qParams, sameAct, type ActQuant,
} from './qdq-match.js';

export interface QdqContext { evaluate: Evaluate; names: NameGen }

/** A match: the rewrite, a reason the node stays float (a candidate declined), or undefined (no candidate). */
type Outcome = Rewrite | string | undefined;

const FLOAT_BASE: Record<string, 'Conv' | 'Gemm' | 'MatMul'> = { Conv: 'Conv', Gemm: 'Gemm', MatMul: 'MatMul' };
const FUSED_BASE: Record<string, 'Conv' | 'Gemm' | 'MatMul'> = { FusedConv: 'Conv', FusedGemm: 'Gemm', FusedMatMul: 'MatMul' };

function baseOf(n: Node): 'Conv' | 'Gemm' | 'MatMul' | undefined {
  if (n.domain === '') return FLOAT_BASE[n.opType];
  return n.domain === 'twinfer' ? FUSED_BASE[n.opType] : undefined;
}

/** True when every reader of `n`'s outputs is among `readers` and none is a graph output. */
function onlyReadBy(view: GraphView, n: Node, readers: Node[]): boolean {
  return n.outputs.every((o) => !o || (!view.isGraphOutput(o) && view.consumers(o).every((c) => readers.includes(c))));
}

function rankOfValue(view: GraphView, v: string): number | undefined {
  return view.type(v)?.shape?.length;
}

function qAttrs(a: ActQuant): Record<string, number> {
  return { x_scale: a.scale, x_zero_point: a.zeroPoint, x_signed: a.signed };
}

const Q_ATTR_TYPES = { x_scale: 'float', x_zero_point: 'int', x_signed: 'int' } as const;

function f32(values: ArrayLike<number>): HostTensor {
  return new HostTensor('float32', [values.length], Float32Array.from(values));
}

/** Runs one node of constant inputs (DQ of a bias, Q of a float weight) through the evaluator. */
function evalConst(view: GraphView, evaluate: Evaluate, n: Node): HostTensor | undefined {
  const inputs = n.inputs.map((i) => (i ? constantOf(view, i) : undefined));
  if (n.inputs.some((i, k) => i && !inputs[k])) return undefined;
  const types = n.outputs.map((o) => view.type(o));
  if (types.some((t) => !t)) return undefined;
  try { return evaluate(n, inputs, types as ValueType[])[0]; } catch { return undefined; }
}

interface Int8Weight {
  w: HostTensor;
  /** The initializer holding w, when it can be read in place. */
  name?: string;
  /** One scale (per tensor) or one per output channel. */
  scale: Float32Array;
  /** Nodes that only produced this weight. */
  dead: Node[];
}

/** The int8 weight behind DQ node `dq` quantized along `axis` (the output channels), or why not. */
function int8Weight(view: GraphView, evaluate: Evaluate, dq: Node, axis: number, reader: Node): Int8Weight | string {
  const wq = dq.inputs[0] ?? '';
  const rank = rankOfValue(view, wq);
  const p = qParams(view, dq, rank);
  if (typeof p === 'string') return p;
  if (p.qtype !== 'int8') return `the weight is ${p.qtype} (int8 with zero point 0 needed)`;
  if (p.zeroPoint.some((z) => z !== 0)) return 'the weight has a non-zero zero point';
  if (p.axis !== -1 && p.axis !== axis) return `the weight is quantized per axis ${p.axis}, not along its output channels (axis ${axis})`;
  if (!dequantizesToFloat32(view, dq)) return 'the weight dequantizes to another type than float32';
  const dead: Node[] = [];
  if (onlyReadBy(view, dq, [reader])) dead.push(dq);
  let w = constantOf(view, wq);
  let name: string | undefined = view.constant(wq) ? wq : undefined;
  if (!w) {
    // Fake-quantized weights (pytorch-quantization): Q(float constant) evaluated once, as ONNX defines it.
    const q = producerOf(view, wq, 'QuantizeLinear');
    w = q && evalConst(view, evaluate, q);
    if (!w) return 'the weight is not a constant';
    name = undefined;
    if (onlyReadBy(view, q!, [dq])) dead.push(q!);
  }
  if (w.dtype !== 'int8') return `the weight is ${w.dtype}`;
  const int8: Int8Weight = { w, scale: p.scale, dead };
  if (name) int8.name = name;
  return int8;
}

/** A float32 constant (an initializer, a Constant, or DQ of constants evaluated), or why not. */
function floatConst(view: GraphView, evaluate: Evaluate, value: string, reader: Node, dead: Node[]): HostTensor | string {
  const c = constantOf(view, value);
  if (c) return c.dtype === 'float32' ? c : `the bias is ${c.dtype}`;
  const dq = producerOf(view, value, 'DequantizeLinear');
  const v = dq && evalConst(view, evaluate, dq);
  if (!v || v.dtype !== 'float32') return 'the bias is not a constant';
  if (onlyReadBy(view, dq!, [reader])) dead.push(dq!);
  return v;
}

/** Float Conv / Gemm / MatMul (or Fused form) with a dequantized input and weight -> Q op. */
function foldFloatOp(op: Node, view: GraphView, ctx: QdqContext): Outcome {
  const base = baseOf(op);
  if (!base) return undefined;
  const wdq = producerOf(view, op.inputs[1] ?? '', 'DequantizeLinear');
  if (!wdq) return undefined;
  const x = op.inputs[0] ?? '';
  const xdq = producerOf(view, x, 'DequantizeLinear');
  if (!xdq) return 'X is not dequantized (weight-only quantization stays float)';
  const xp = qParams(view, xdq, rankOfValue(view, x));
  if (typeof xp === 'string') return xp;
  const act = actQuant(xp);
  if (typeof act === 'string') return act;
  if (!dequantizesToFloat32(view, xdq)) return 'X dequantizes to another type than float32';

  const attrs: Node['attrs'] = { ...op.attrs };
  let axis: number, alpha = 1, beta = 1;
  let biasName = op.inputs[2] ?? '';
  if (base === 'Conv') {
    axis = 0;
  } else if (base === 'Gemm') {
    if ((op.attrs['transA'] ?? 0) !== 0) return 'Gemm with transA (X transposed)';
    axis = op.attrs['transB'] === 1 ? 0 : 1;
    alpha = typeof op.attrs['alpha'] === 'number' ? op.attrs['alpha'] : 1;
    beta = typeof op.attrs['beta'] === 'number' ? op.attrs['beta'] : 1;
    delete attrs['alpha']; delete attrs['beta']; delete attrs['transA'];
  } else {
    if (rankOfValue(view, op.inputs[1]!) !== 2) return 'the MatMul weight is not 2-D';
    if (op.attrs['transA'] === 1 || op.attrs['transB'] === 1) return 'FusedMatMul with a transposed operand';
    delete attrs['transA']; delete attrs['transB'];
    axis = 1;
  }
  const wt = int8Weight(view, ctx.evaluate, wdq, axis, op);
  if (typeof wt === 'string') return wt;
  const channels = wt.w.dims[axis]!;
  const dead = wt.dead.slice();

  let bias: HostTensor | undefined;
  if (biasName) {
    const b = floatConst(view, ctx.evaluate, biasName, op, dead);
    if (typeof b === 'string') return b;
    const perColumn = b.size === channels && b.dims.slice(0, -1).every((d) => d === 1) && (b.rank > 0);
    if (base === 'Gemm') {
      if (b.size !== 1 && !perColumn) return `Gemm C [${b.dims.join(',')}] is not a per-column bias`;
      const d = b.numbers;
      if (beta !== 1 || b.size === 1 || b.rank !== 1) bias = f32(Array.from({ length: channels }, (_, j) => beta * d[b.size === 1 ? 0 : j]!));
      else { bias = b; if (!view.constant(biasName)) biasName = ''; }
    } else {
      if (b.rank !== 1 || b.size !== channels) return `the bias [${b.dims.join(',')}] is not [${channels}]`;
      bias = b;
      if (!view.constant(biasName)) biasName = '';
    }
  }

  const inits = new Map<string, HostTensor>();
  let wName = wt.name;
  if (!wName) { wName = ctx.names.make(`${op.inputs[1]}_int8`); inits.set(wName, wt.w); }
  const wsName = ctx.names.make(`${wName}_scale`);
  inits.set(wsName, f32(alpha === 1 ? wt.scale : Array.from(wt.scale, (s) => Math.fround(s * alpha))));
  if (bias && !(biasName && view.constant(biasName) === bias)) {
    biasName = ctx.names.make(`${op.name || wName}_bias`);
    inits.set(biasName, bias);
  }
  if (!bias) biasName = '';
  const z = op.domain === 'twinfer' ? op.inputs[3] ?? '' : '';
  const inputs = [x, wName, wsName, biasName, ...(z ? [z] : [])];
  while (inputs.length > 3 && inputs[inputs.length - 1] === '') inputs.pop();
  const q = copyNode(op, {
    opType: Q_OF[op.opType]!, domain: 'twinfer', inputs,
    attrs: { ...attrs, ...qAttrs(act) },
    attrTypes: { ...(op.attrTypes ?? {}), ...Q_ATTR_TYPES }, // x_scale 1.0 must not be written as an int
  });
  return { remove: [op, ...dead], add: [q], initializers: inits };
}

/** Q op reading DQ(Q(x, s, zp), s, zp) with its own (s, zp) -> the Q op reads x. */
function bypassPair(op: Node, view: GraphView): Outcome {
  if (op.domain !== 'twinfer' || !(op.opType in Q_BASE)) return undefined;
  const dq = producerOf(view, op.inputs[0] ?? '', 'DequantizeLinear');
  const q = dq && producerOf(view, dq.inputs[0] ?? '', 'QuantizeLinear');
  if (!dq || !q) return undefined;
  const rank = rankOfValue(view, op.inputs[0]!);
  const dp = qParams(view, dq, rank), qp = qParams(view, q, rank);
  if (typeof dp === 'string') return dp;
  if (typeof qp === 'string') return qp;
  const da = actQuant(dp), qa = actQuant(qp);
  if (typeof da === 'string') return da;
  if (typeof qa === 'string') return qa;
  if (!sameAct(da, qa)) return `QuantizeLinear '${q.name}' and DequantizeLinear '${dq.name}' have different scales or zero points`;
  if (!sameAct(da, actOfQNode(op)) || !plainFloat32Quantize(view, q) || !dequantizesToFloat32(view, dq)) return undefined;
  const n = copyNode(op, {});
  n.inputs[0] = q.inputs[0]!;
  const dead = onlyReadBy(view, dq, [op]) ? [dq, ...(onlyReadBy(view, q, [dq]) ? [q] : [])] : [];
  return { remove: [op, ...dead], add: [n] };
}

/** An integer activation's per-tensor parameters from constant scale / zero-point inputs. */
function constAct(view: GraphView, x: string, s: string, z: string): ActQuant | string {
  const xt = view.type(x)?.dtype;
  if (xt !== 'int8' && xt !== 'uint8') return `the input is ${xt ?? 'of unknown type'}`;
  const st = s ? constantOf(view, s) : HostTensor.scalar('float32', 1);
  const zt = z ? constantOf(view, z) : undefined;
  if (!st || (z && !zt)) return 'the input scale or zero point is not a constant';
  if (st.size !== 1 || (zt && zt.size !== 1)) return 'the input scale or zero point is not per tensor';
  if (st.dtype !== 'float32') return `the input scale is ${st.dtype}`;
  const scale = st.num(0);
  if (!(scale >= 2 ** -118) || !Number.isFinite(scale)) return `the input scale ${scale} is not a normal value > 0`;
  return { scale, zeroPoint: zt ? zt.num(0) : 0, signed: xt === 'int8' ? 1 : 0 };
}

/** A constant int8 weight with zero zero points (the integer ops' W), or why not. */
function constWeight(view: GraphView, w: string, wz: string): HostTensor | string {
  const wt = constantOf(view, w);
  if (!wt) return 'the weight is not a constant';
  if (wt.dtype !== 'int8') return `the weight is ${wt.dtype} (int8 needed)`;
  if (wz) {
    const z = constantOf(view, wz);
    if (!z) return 'the weight zero point is not a constant';
    if (z.numbers.some((v) => v !== 0)) return 'the weight has a non-zero zero point';
  }
  return wt;
}

/**
 * Types of the float32 values a rewrite creates, each shaped like an existing value: later rules of
 * the same pass match on them before the optimizer re-runs inference after the pass.
 */
function typeNewValues(view: GraphView, ...pairs: [string, string][]): void {
  for (const [fresh, like] of pairs) view.graph.types.set(fresh, { dtype: 'float32', shape: view.type(like)?.shape?.slice() });
}

const CONV_ATTRS = ['auto_pad', 'dilations', 'group', 'kernel_shape', 'pads', 'strides'];
function convAttrs(n: Node): Node['attrs'] {
  return Object.fromEntries(Object.entries(n.attrs).filter(([k]) => CONV_ATTRS.includes(k)));
}

/**
 * QLinearConv / QLinearMatMul -> DQ(x) -> Q op -> QuantizeLinear(y_scale, y_zero_point).
 * The integer accumulation is the same; the requantization becomes Q(f32(acc * xs*ws) + B) instead of
 * rne((acc + Bq) * (xs*ws / ys)) + yzp, which can differ by one step where the real value is within a
 * few float32 ulps of a rounding boundary.
 */
function foldQLinear(op: Node, view: GraphView, ctx: QdqContext): Outcome {
  if (op.domain !== '' || (op.opType !== 'QLinearConv' && op.opType !== 'QLinearMatMul')) return undefined;
  const conv = op.opType === 'QLinearConv';
  const [x = '', xs = '', xz = '', w = '', ws = '', wz = '', ys = '', yz = '', b = ''] = op.inputs;
  const act = constAct(view, x, xs, xz);
  if (typeof act === 'string') return act;
  const wt = constWeight(view, w, wz);
  if (typeof wt === 'string') return wt;
  if (!conv && wt.rank !== 2) return 'the weight is not 2-D';
  const channels = wt.dims[conv ? 0 : 1]!;
  const wsT = constantOf(view, ws), ysT = constantOf(view, ys), yzT = yz ? constantOf(view, yz) : undefined;
  if (!wsT || wsT.dtype !== 'float32' || (wsT.size !== 1 && wsT.size !== channels)) return 'the weight scale is not a float32 constant per tensor or per output channel';
  if (!ysT || ysT.dtype !== 'float32' || ysT.size !== 1 || (yz && (!yzT || yzT.size !== 1))) return 'the output scale or zero point is not a per-tensor constant';
  const outType = view.type(op.outputs[0]!)?.dtype;
  if (outType !== 'int8' && outType !== 'uint8') return `the output is ${outType ?? 'of unknown type'}`;
  const inits = new Map<string, HostTensor>();
  const wsv = Float32Array.from(wsT.numbers);
  let bName = '';
  if (b) {
    const bT = constantOf(view, b);
    if (!bT || bT.dtype !== 'int32' || bT.size !== channels) return 'the bias is not a constant int32 per output channel';
    // As DQ(B, x_scale * w_scale) would dequantize it.
    const bias = Array.from({ length: channels }, (_, m) => Math.fround(bT.num(m) * Math.fround(act.scale * wsv[wsv.length === 1 ? 0 : m]!)));
    bName = ctx.names.make(`${op.name}_bias`);
    inits.set(bName, f32(bias));
  }
  let wName = w;
  if (!view.constant(w)) { wName = ctx.names.make(`${w}_int8`); inits.set(wName, wt); }
  const wsName = ctx.names.make(`${wName}_scale`);
  inits.set(wsName, f32(wsv));
  const xf = ctx.names.make(`${x}_dequantized`), yf = ctx.names.make(`${op.outputs[0]}_float`);
  const dq: Node = { name: ctx.names.make(`${op.name}_dq`), opType: 'DequantizeLinear', domain: '', inputs: xz ? [x, xs, xz] : [x, xs], outputs: [xf], attrs: {} };
  const inputs = [xf, wName, wsName, ...(bName ? [bName] : [])];
  const qop: Node = { name: op.name, opType: conv ? 'QConv' : 'QMatMul', domain: 'twinfer', inputs, outputs: [yf], attrs: { ...(conv ? convAttrs(op) : {}), ...qAttrs(act) }, attrTypes: { ...Q_ATTR_TYPES } };
  let yzName = yz;
  if (!yz) { yzName = ctx.names.make(`${op.name}_y_zero_point`); inits.set(yzName, new HostTensor(outType, [], outType === 'int8' ? new Int8Array(1) : new Uint8Array(1))); }
  const q: Node = { name: ctx.names.make(`${op.name}_q`), opType: 'QuantizeLinear', domain: '', inputs: [yf, ys, yzName], outputs: [op.outputs[0]!], attrs: {} };
  typeNewValues(view, [xf, x], [yf, op.outputs[0]!]);
  return { remove: [op], add: [dq, qop, q], initializers: inits };
}

const F32_EXACT = 2 ** 24;

/**
 * ConvInteger / MatMulInteger with constant x zero point -> Cast<int32>(Q op(DQ(x, 1, xzp))): the Q op
 * with x_scale 1 and W_scale 1 outputs the accumulator itself, exact while it stays below 2^24,
 * which is checked from the weights: max over channels of sum|W| * max|xq - xzp| < 2^24.
 */
function foldInteger(op: Node, view: GraphView, ctx: QdqContext): Outcome {
  if (op.domain !== '' || (op.opType !== 'ConvInteger' && op.opType !== 'MatMulInteger')) return undefined;
  const conv = op.opType === 'ConvInteger';
  const [x = '', w = '', xz = '', wz = ''] = op.inputs;
  const zt = xz ? constantOf(view, xz) : undefined;
  if (xz && !zt) return 'the input zero point is computed at run time (dynamic quantization)';
  const act = constAct(view, x, '', xz);
  if (typeof act === 'string') return act;
  const wt = constWeight(view, w, wz);
  if (typeof wt === 'string') return wt;
  if (!conv && wt.rank !== 2) return 'the weight is not 2-D';
  const axis = conv ? 0 : 1;
  const channels = wt.dims[axis]!;
  const [qmin, qmax] = act.signed ? [-128, 127] : [0, 255];
  const xmax = Math.max(act.zeroPoint - qmin, qmax - act.zeroPoint);
  const sums = new Float64Array(channels), wd = wt.numbers;
  const inner = wt.dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  for (let i = 0; i < wd.length; i++) sums[Math.floor(i / inner) % channels] += Math.abs(wd[i]!);
  if (sums.some((s) => s * xmax >= F32_EXACT)) return 'an accumulator could reach 2^24 (not exact in the INT8 ops\' float32 epilogue)';
  const inits = new Map<string, HostTensor>();
  const one = ctx.names.make(`${op.name}_one`);
  inits.set(one, HostTensor.scalar('float32', 1));
  let wName = w;
  if (!view.constant(w)) { wName = ctx.names.make(`${w}_int8`); inits.set(wName, wt); }
  const wsName = ctx.names.make(`${op.name}_w_scale`);
  inits.set(wsName, f32([1]));
  const xf = ctx.names.make(`${x}_centered`), yf = ctx.names.make(`${op.outputs[0]}_float`);
  const dq: Node = { name: ctx.names.make(`${op.name}_dq`), opType: 'DequantizeLinear', domain: '', inputs: xz ? [x, one, xz] : [x, one], outputs: [xf], attrs: {} };
  const qop: Node = { name: op.name, opType: conv ? 'QConv' : 'QMatMul', domain: 'twinfer', inputs: [xf, wName, wsName], outputs: [yf], attrs: { ...(conv ? convAttrs(op) : {}), ...qAttrs(act) }, attrTypes: { ...Q_ATTR_TYPES } };
  const cast: Node = { name: ctx.names.make(`${op.name}_cast`), opType: 'Cast', domain: '', inputs: [yf], outputs: [op.outputs[0]!], attrs: { to: 6 } };
  typeNewValues(view, [xf, x], [yf, op.outputs[0]!]);
  return { remove: [op], add: [dq, qop, cast], initializers: inits };
}

const MATCHERS = [foldQLinear, foldInteger, foldFloatOp] as const;

/** The rules of the pass: integer ops -> Q ops, QDQ float ops -> Q ops, then the Q/DQ pair bypass. */
export function qdqFoldRules(ctx: QdqContext): Rule[] {
  const asRule = (name: string, f: (op: Node, view: GraphView, ctx: QdqContext) => Outcome): Rule => ({
    name,
    match(op, view) { const r = f(op, view, ctx); return typeof r === 'object' ? r : undefined; },
  });
  return [
    asRule('qdq-qlinear', foldQLinear),
    asRule('qdq-integer', foldInteger),
    asRule('qdq-fold', foldFloatOp),
    asRule('qdq-input', (op, view) => bypassPair(op, view)),
  ];
}

export interface QdqSkip { node: string; opType: string; reason: string }

/**
 * The candidates of a graph that the fold leaves as float or integer reference ops, and why
 * (for reports and `inspect`): run it on the graph before optimization.
 */
export function explainQdqFold(g: Graph, evaluate: Evaluate): QdqSkip[] {
  const view = new GraphView(g), ctx: QdqContext = { evaluate, names: new NameGen(g) };
  const out: QdqSkip[] = [];
  for (const n of view.graph.nodes) {
    if (n.domain === '' && n.opType === 'ConvTranspose' && producerOf(view, n.inputs[1] ?? '', 'DequantizeLinear')) {
      out.push({ node: n.name, opType: n.opType, reason: 'ConvTranspose has no INT8 op' });
      continue;
    }
    for (const m of MATCHERS) {
      const r = m(n, view, ctx);
      if (typeof r === 'string') out.push({ node: n.name, opType: n.opType, reason: r });
      if (r !== undefined) break;
    }
  }
  return out;
}
