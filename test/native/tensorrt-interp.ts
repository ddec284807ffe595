/**
 * A reference interpreter of the TensorRT network description (backends/tensorrt/network.ts), for
 * tests on machines without TensorRT: each layer runs with TensorRT's documented semantics, built
 * from the CPU backend's ONNX kernels (a layer is re-expressed as the ONNX op TensorRT's layer
 * equals). It also enforces TensorRT's structural rules that the serializer must meet: element-wise
 * operands of equal rank, tensors defined once, weights matching their buffers, strongly typed
 * operands (a float layer's inputs share one float type).
 *
 * Agreement of this interpreter with the CPU backend on a model says the *description* is right;
 * it says nothing about the C++ translation into INetworkDefinition, which is untested here.
 */
import type { Node } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import { f16BitsToF32, bf16BitsToF32 } from '../../src/ir/lowp.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { runCpuNode } from '../../backends/cpu/executor.js';
import type { TrtDType, TrtLayer, TrtNetwork } from '../../backends/tensorrt/network.js';
import { TRT_DTYPE_BYTES } from '../../backends/tensorrt/network.js';

const OPSET = 21;
const DT: Record<TrtDType, DType> = { float: 'float32', half: 'float16', bf16: 'bfloat16', int8: 'int8', uint8: 'uint8', int32: 'int32', int64: 'int64', bool: 'bool' };

function decode(dtype: TrtDType, dims: number[], buf: ArrayBufferView): HostTensor {
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== n * TRT_DTYPE_BYTES[dtype]) throw new Error(`weight buffer of ${buf.byteLength} bytes for ${n} ${dtype}`);
  const bytes = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (dtype) {
    case 'float': return new HostTensor('float32', dims, new Float32Array(bytes));
    case 'half': return new HostTensor('float16', dims, Float32Array.from(new Uint16Array(bytes), f16BitsToF32));
    case 'bf16': return new HostTensor('bfloat16', dims, Float32Array.from(new Uint16Array(bytes), bf16BitsToF32));
    case 'int8': return new HostTensor('int8', dims, new Int8Array(bytes));
    case 'uint8': return new HostTensor('uint8', dims, new Uint8Array(bytes));
    case 'bool': return new HostTensor('bool', dims, new Uint8Array(bytes));
    case 'int32': return new HostTensor('int32', dims, new Int32Array(bytes));
    case 'int64': return new HostTensor('int64', dims, Float64Array.from(new BigInt64Array(bytes), Number));
  }
}

const bits = (mask: number, rank: number) => [...Array(rank).keys()].filter((a) => (mask >> a) & 1);
const i64 = (v: number[]) => HostTensor.fromNumbers('int64', [v.length], v);

function op(opType: string, inputs: (HostTensor | undefined)[], attrs: Node['attrs'] = {}, nOut = 1): HostTensor {
  const node: Node = { name: opType, opType, domain: '', inputs: inputs.map((t, i) => (t ? `i${i}` : '')), outputs: [...Array(nOut).keys()].map((k) => `o${k}`), attrs };
  return runCpuNode(node, OPSET, inputs)[0]!;
}

function transposeLast(t: HostTensor): HostTensor {
  const r = t.rank;
  const perm = [...Array(r).keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1]!, perm[r - 2]!];
  return op('Transpose', [t], { perm });
}

const FLOATS = new Set<DType>(['float32', 'float16', 'bfloat16']);

function layer(L: TrtLayer, x: HostTensor[]): HostTensor {
  const a = L.attrs;
  const num = (k: string, d: number) => (typeof a[k] === 'number' ? (a[k] as number) : d);
  const ints = (k: string) => a[k] as number[];
  // Strong typing: the float inputs of a float layer share one type (a Cast layer must say otherwise).
  if (!['cast', 'quantize', 'dequantize', 'gather', 'select', 'shape', 'slice'].includes(L.kind)) {
    const fl = new Set(x.filter((t) => FLOATS.has(t.dtype)).map((t) => t.dtype));
    if (fl.size > 1) throw new Error(`${L.name}: mixed float inputs ${[...fl].join(', ')} (strongly typed networks need a cast)`);
  }
  switch (L.kind) {
    case 'convolution': case 'deconvolution': {
      const attrs: Node['attrs'] = { kernel_shape: ints('kernel'), strides: ints('stride'), dilations: ints('dilation'), group: num('groups', 1) };
      if (a['padMode']) attrs['auto_pad'] = a['padMode'] === 'same_upper' ? 'SAME_UPPER' : 'SAME_LOWER';
      else attrs['pads'] = [...ints('prePad'), ...ints('postPad')];
      const w = x[1]!;
      const want = L.kind === 'convolution' ? w.dims[0] : w.dims[1]! * num('groups', 1);
      if (want !== num('outMaps', -1)) throw new Error(`${L.name}: outMaps ${num('outMaps', -1)}, kernel says ${want}`);
      return op(L.kind === 'convolution' ? 'Conv' : 'ConvTranspose', [x[0], w, x[2]], attrs);
    }
    case 'activation': {
      const t = a['type'] as string, al = a['alpha'], be = a['beta'];
      const f = (o: string, at: Node['attrs'] = {}) => op(o, [x[0]], at);
      switch (t) {
        case 'relu': return f('Relu');
        case 'sigmoid': return f('Sigmoid');
        case 'tanh': return f('Tanh');
        case 'leaky_relu': return f('LeakyRelu', { alpha: num('alpha', 0.01) });
        case 'elu': return f('Elu', { alpha: num('alpha', 1) });
        case 'selu': return f('Selu', { alpha: num('alpha', 1), gamma: num('beta', 1) });
        case 'softsign': return f('Softsign');
        case 'softplus': return f('Softplus');
        case 'hard_sigmoid': return f('HardSigmoid', { alpha: num('alpha', 0.2), beta: num('beta', 0.5) });
        case 'thresholded_relu': return f('ThresholdedRelu', { alpha: num('alpha', 1) });
        case 'gelu_erf': return f('Gelu');
        case 'gelu_tanh': return f('Gelu', { approximate: 'tanh' });
        case 'clip': {
          const s = (v: unknown, d: number) => HostTensor.scalar(x[0]!.dtype, typeof v === 'number' ? v : d);
          return op('Clip', [x[0], s(al, -3.4e38), s(be, 3.4e38)]);
        }
        default: throw new Error(`activation ${t}`);
      }
    }
    case 'elementwise': {
      if (x[0]!.rank !== x[1]!.rank) throw new Error(`${L.name}: element-wise operands of ranks ${x[0]!.rank} and ${x[1]!.rank} (TensorRT needs equal ranks)`);
      const m: Record<string, string> = { sum: 'Add', prod: 'Mul', sub: 'Sub', div: 'Div', pow: 'Pow', max: 'Max', min: 'Min', and: 'And', or: 'Or', xor: 'Xor', equal: 'Equal', greater: 'Greater', less: 'Less' };
      return op(m[a['op'] as string]!, [x[0], x[1]]);
    }
    case 'unary': {
      const m: Record<string, string> = { exp: 'Exp', log: 'Log', sqrt: 'Sqrt', recip: 'Reciprocal', abs: 'Abs', neg: 'Neg', sin: 'Sin', cos: 'Cos', erf: 'Erf', not: 'Not', floor: 'Floor', ceil: 'Ceil', sign: 'Sign', round: 'Round', tanh: 'Tanh' };
      return op(m[a['op'] as string]!, [x[0]]);
    }
    case 'matmul': {
      let [p, q] = [x[0]!, x[1]!];
      if (a['opA'] === 'transpose') p = transposeLast(p);
      if (a['opB'] === 'transpose') q = transposeLast(q);
      if (a['opA'] !== 'vector' && a['opB'] !== 'vector' && p.rank !== q.rank) throw new Error(`${L.name}: matrix operands of ranks ${p.rank} and ${q.rank}`);
      return op('MatMul', [p, q]);
    }
    case 'pooling': {
      const attrs: Node['attrs'] = { kernel_shape: ints('window'), strides: ints('stride'), ceil_mode: num('roundUp', 0) };
      if (a['padMode']) attrs['auto_pad'] = a['padMode'] === 'same_upper' ? 'SAME_UPPER' : 'SAME_LOWER';
      else attrs['pads'] = [...ints('prePad'), ...ints('postPad')];
      if (a['type'] === 'average') attrs['count_include_pad'] = num('excludePadding', 1) ? 0 : 1;
      return op(a['type'] === 'max' ? 'MaxPool' : 'AveragePool', [x[0]], attrs);
    }
    case 'reduce': {
      const m: Record<string, string> = { sum: 'ReduceSum', prod: 'ReduceProd', max: 'ReduceMax', min: 'ReduceMin', avg: 'ReduceMean' };
      return op(m[a['op'] as string]!, [x[0], i64(bits(num('axes', 0), x[0]!.rank))], { keepdims: num('keepDims', 1) });
    }
    case 'softmax': {
      const ax = bits(num('axes', 2), x[0]!.rank);
      if (ax.length !== 1) throw new Error(`${L.name}: softmax over ${ax.length} axes`);
      return op('Softmax', [x[0]], { axis: ax[0]! });
    }
    case 'concatenation': return op('Concat', x, { axis: num('axis', 0) });
    case 'shuffle': {
      let t = x[0]!;
      if (a['first']) t = op('Transpose', [t], { perm: ints('first') });
      if (a['reshape']) t = op('Reshape', [t, i64(ints('reshape'))]);
      if (a['second']) t = op('Transpose', [t], { perm: ints('second') });
      return t;
    }
    case 'slice': {
      const t = x[0]!;
      const start = ints('start'), size = ints('size'), stride = ints('stride');
      const sz = size.map((s, i) => (s < 0 ? t.dims[i]! : s));
      if (a['mode'] === 'strict') {
        const ends = start.map((s, i) => s + (sz[i]! - 1) * stride[i]! + (stride[i]! > 0 ? 1 : -1));
        return op('Slice', [t, i64(start), i64(ends.map((e) => (e < 0 ? -Number.MAX_SAFE_INTEGER : e))), i64([...start.keys()]), i64(stride)]);
      }
      if (a['mode'] === 'fill' && stride.every((s) => s === 1)) {
        const pads = [...start.map((s) => -s), ...start.map((s, i) => s + sz[i]! - t.dims[i]!)];
        return op('Pad', [t, i64(pads), x[1] ?? HostTensor.scalar(t.dtype, 0)], { mode: 'constant' });
      }
      throw new Error(`${L.name}: slice mode ${String(a['mode'])} not interpreted`);
    }
    case 'resize': {
      const attrs: Node['attrs'] = { mode: a['mode'] as string, coordinate_transformation_mode: a['coordinate'] as string };
      if (a['nearestRounding']) attrs['nearest_mode'] = ({ half_down: 'round_prefer_floor', half_up: 'round_prefer_ceil', floor: 'floor', ceil: 'ceil' } as Record<string, string>)[a['nearestRounding'] as string]!;
      if (a['cubicCoeff'] !== undefined) attrs['cubic_coeff_a'] = num('cubicCoeff', -0.75);
      if (a['excludeOutside'] !== undefined) attrs['exclude_outside'] = num('excludeOutside', 0);
      const scales = a['scales'] ? HostTensor.fromNumbers('float32', [ints('scales').length], ints('scales')) : undefined;
      return op('Resize', [x[0], undefined, scales, scales ? undefined : i64(ints('outDims'))], attrs);
    }
    case 'normalization': {
      // TensorRT's definition: normalize over `axes` (with groups: over each group of channels too),
      // then scale * y + bias, the scale and bias broadcast (same rank as x).
      const t = x[0]!, g = num('groups', 1), eps = num('epsilon', 1e-5);
      let ax = bits(num('axes', 0), t.rank);
      let v = t;
      if (g > 1) {
        v = op('Reshape', [t, i64([t.dims[0]!, g, t.dims[1]! / g, ...t.dims.slice(2)])]);
        ax = [2, ...ax.map((q) => q + 1)];
      }
      const mean = op('ReduceMean', [v, i64(ax)], { keepdims: 1 });
      const d = op('Sub', [v, mean]);
      const variance = op('ReduceMean', [op('Mul', [d, d]), i64(ax)], { keepdims: 1 });
      let y = op('Div', [d, op('Sqrt', [op('Add', [variance, HostTensor.scalar(t.dtype, eps)])])]);
      if (g > 1) y = op('Reshape', [y, i64(t.dims.slice())]);
      if (x[1]!.rank !== t.rank || x[2]!.rank !== t.rank) throw new Error(`${L.name}: scale / bias must have the input's rank`);
      return op('Add', [op('Mul', [y, x[1]]), x[2]]);
    }
    case 'scale': {
      const t = x[0]!, ch = num('channelAxis', 1);
      const dims = t.dims.map((d, i) => (i === ch ? d : 1));
      let y = x[2] ? op('Mul', [t, x[2].reshape(dims)]) : t;
      if (x[1]) y = op('Add', [y, x[1].reshape(dims)]);
      return y;
    }
    case 'cast': return op('Cast', [x[0]], { to: ({ float: 1, half: 10, int8: 3, int32: 6, int64: 7, bool: 9, uint8: 2, bf16: 16 } as Record<string, number>)[a['to'] as string]! });
    case 'quantize': {
      if (x[1]!.dtype !== x[0]!.dtype) throw new Error(`${L.name}: quantize scale ${x[1]!.dtype} for input ${x[0]!.dtype}`);
      return op('QuantizeLinear', [x[0], x[1]!.dtype === 'float16' ? op('Cast', [x[1]], { to: 1 }) : x[1], HostTensor.fromNumbers('int8', x[1]!.dims, new Array<number>(x[1]!.size).fill(0))], num('axis', -1) >= 0 ? { axis: num('axis', -1) } : {});
    }
    case 'dequantize': {
      const y = op('DequantizeLinear', [x[0], x[1]!.dtype === 'float16' ? op('Cast', [x[1]], { to: 1 }) : x[1]], num('axis', -1) >= 0 ? { axis: num('axis', -1) } : {});
      return a['to'] === 'half' ? op('Cast', [y], { to: 10 }) : y;
    }
    case 'gather': return op('Gather', [x[0], x[1]], { axis: num('axis', 0) });
    case 'select': return op('Where', x);
    case 'prelu': return op('PRelu', x);
    case 'identity': return x[0]!;
    case 'shape': return op('Shape', [x[0]]);
    default: throw new Error(`layer kind ${L.kind as string} not interpreted`);
  }
}

/** Runs a network description on host tensors; returns the marked outputs. */
export function interpretNetwork(net: TrtNetwork, buffers: ArrayBufferView[], feeds: Map<string, HostTensor>): Map<string, HostTensor> {
  const env = new Map<string, HostTensor>();
  const weights = new Map(net.weights.map((w) => [w.name, w]));
  for (const i of net.inputs) {
    const t = feeds.get(i.name);
    if (!t) throw new Error(`no feed for ${i.name}`);
    if (t.dtype !== DT[i.dtype]) throw new Error(`feed ${i.name} is ${t.dtype}, the network declares ${i.dtype}`);
    if (t.rank !== i.dims.length || i.dims.some((d, k) => d !== -1 && d !== t.dims[k])) throw new Error(`feed ${i.name} [${t.dims}] does not fit [${i.dims}]`);
    env.set(i.name, t);
  }
  const get = (n: string): HostTensor => {
    const t = env.get(n);
    if (t) return t;
    const w = weights.get(n);
    if (!w) throw new Error(`tensor '${n}' used before it is defined`);
    const v = decode(w.dtype, w.dims, buffers[w.buffer]!);
    env.set(n, v);
    return v;
  };
  for (const L of net.layers) {
    const y = layer(L, L.inputs.map(get));
    if (env.has(L.outputs[0]!) || weights.has(L.outputs[0]!)) throw new Error(`${L.name}: tensor '${L.outputs[0]}' defined twice`);
    env.set(L.outputs[0]!, y);
  }
  return new Map(net.outputs.map((o) => [o, get(o)]));
}
