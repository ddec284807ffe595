/**
 * LSTM and GRU CPU kernels (ONNX opset 22 semantics, checked against onnxruntime's conventions).
 *
 * Per direction, the input projection X·W^T + biases of every time step is one product up front;
 * each step then adds H_{t-1}·R^T for the whole batch and runs the gate math in place on
 * preallocated float64 buffers. `sequence_lens` shortens a batch entry: its steps past the
 * length leave Y at zero, Y_h/Y_c keep the state of its last valid step, and the reverse
 * direction starts from its own last valid step.
 */
import { attrFloats, attrInt, type Node } from '../../src/ir/graph.js';
import type { NumericArray } from '../../src/ir/dtype.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { rnnActivations, rnnDirections } from '../../src/ir/ops/sequence.js';
import { input, outDims, type KernelContext } from './kernel.js';
import { activate, clipRange, gemmNTAcc, resolveActs, type Act } from './sequence-math.js';
import { sgemm } from './gemm.js';

/** Sizes, layout and indexing shared by LSTM and GRU. */
class RnnGeom {
  readonly seq: number;
  readonly batch: number;
  readonly inSize: number;
  readonly numDir: number;
  readonly layout: number;
  readonly lens: Int32Array;

  constructor(ctx: KernelContext, readonly H: number) {
    const x = input(ctx, 0);
    this.layout = attrInt(ctx.node, 'layout', 0);
    this.numDir = rnnDirections(ctx.node);
    [this.seq, this.batch] = this.layout === 0 ? [x.dims[0]!, x.dims[1]!] : [x.dims[1]!, x.dims[0]!];
    this.inSize = x.dims[2]!;
    this.lens = new Int32Array(this.batch).fill(this.seq);
    const sl = ctx.inputs[4];
    if (sl) {
      if (sl.size !== this.batch) throw new Error(`sequence_lens has ${sl.size} entries, batch is ${this.batch}`);
      for (let b = 0; b < this.batch; b++) {
        const l = sl.num(b);
        if (l < 0 || l > this.seq) throw new Error(`sequence_lens[${b}]=${l} outside [0, ${this.seq}]`);
        this.lens[b] = l;
      }
    }
  }

  /** Row of X (in units of inSize) holding time t of batch entry b. */
  xRow(t: number, b: number): number { return this.layout === 0 ? t * this.batch + b : b * this.seq + t; }
  /** Offset of Y[t, d, b, :] (layout 0) / Y[b, t, d, :] (layout 1). */
  yOff(t: number, d: number, b: number): number {
    return (this.layout === 0 ? (t * this.numDir + d) * this.batch + b : (b * this.seq + t) * this.numDir + d) * this.H;
  }
  /** Offset of state [d, b, :] (layout 0) / [b, d, :] (layout 1): initial_h/c and Y_h/Y_c. */
  hOff(d: number, b: number): number {
    return (this.layout === 0 ? d * this.batch + b : b * this.numDir + d) * this.H;
  }

  /** Copies direction d of an optional initial state into a [batch, H] buffer (zeros if absent). */
  initState(t: HostTensor | undefined, d: number): Float64Array {
    const s = new Float64Array(this.batch * this.H);
    if (!t) return s;
    const v = t.numbers;
    for (let b = 0; b < this.batch; b++) {
      const o = this.hOff(d, b);
      for (let j = 0; j < this.H; j++) s[b * this.H + j] = v[o + j]!;
    }
    return s;
  }

  /**
   * proj[row(t,b), :] = X[t,b,:]·W_d^T + bias for every step at once: the bulk of an RNN's work,
   * so float32 models go through the blocked SIMD GEMM (W read in place as a transposed operand).
   */
  project(x: NumericArray, W: HostTensor, d: number, bias: Float64Array): NumericArray {
    const rows = this.seq * this.batch;
    const gh = bias.length;
    const I = this.inSize;
    const w = W.numbers;
    if (x instanceof Float32Array && w instanceof Float32Array) {
      const proj = new Float32Array(rows * gh);
      sgemm(rows, gh, I, x, 0, I, 1, w, d * gh * I, 1, I, proj, 0, gh, { c: { data: bias, off: 0, rs: 0, cs: 1, beta: 1 } });
      return proj;
    }
    const proj = new Float64Array(rows * gh);
    for (let r = 0; r < rows; r++) proj.set(bias, r * gh);
    gemmNTAcc(rows, gh, I, x, 0, I, slice64(W, d * gh * I, gh * I), 0, proj, 0, gh);
    return proj;
  }

  storeState(dst: NumericArray | undefined, src: Float64Array, d: number): void {
    if (!dst) return;
    for (let b = 0; b < this.batch; b++) {
      const o = this.hOff(d, b);
      for (let j = 0; j < this.H; j++) dst[o + j] = src[b * this.H + j]!;
    }
  }
}

/** A slice of a weight tensor: float32 stays float32 (half the memory traffic per step). */
function weightSlice(t: HostTensor, off: number, n: number): Float32Array | Float64Array {
  const v = t.numbers;
  return v instanceof Float32Array ? v.slice(off, off + n) : slice64(t, off, n);
}

function slice64(t: HostTensor | undefined, off: number, n: number): Float64Array {
  const out = new Float64Array(n);
  if (!t) return out;
  const v = t.numbers;
  for (let i = 0; i < n; i++) out[i] = v[off + i]!;
  return out;
}

function hiddenSize(ctx: KernelContext): number {
  return attrInt(ctx.node, 'hidden_size') ?? input(ctx, 2).dims[2]!;
}

function acts(node: Node, perDir: number, defaults: string[], numDir: number): Act[] {
  return resolveActs(
    rnnActivations(node, perDir, defaults, numDir),
    attrFloats(node, 'activation_alpha', []),
    attrFloats(node, 'activation_beta', []),
  );
}

/** Allocates output i when the node asks for it. */
function maybeOut(ctx: KernelContext, i: number): HostTensor | undefined {
  const name = ctx.node.outputs[i];
  if (name === undefined || name === '') return undefined;
  return new HostTensor(ctx.outputTypes[i]!.dtype, outDims(ctx, i));
}

export function lstmKernel(ctx: KernelContext): (HostTensor | undefined)[] {
  const node = ctx.node;
  const H = hiddenSize(ctx);
  const g = new RnnGeom(ctx, H);
  const { batch, seq, numDir } = g;
  const x = input(ctx, 0).numbers;
  const W = input(ctx, 1);
  const R = input(ctx, 2);
  const B = ctx.inputs[3];
  const P = ctx.inputs[7];
  const clip = (node.attrs.clip as number | undefined) ?? Infinity;
  const inputForget = attrInt(node, 'input_forget', 0) === 1;
  const af = acts(node, 3, ['sigmoid', 'tanh', 'tanh'], numDir);
  const forward = node.attrs.direction !== 'reverse';
  const Y = maybeOut(ctx, 0);
  const Yh = maybeOut(ctx, 1);
  const Yc = maybeOut(ctx, 2);
  const y = Y?.numbers;
  const G = 4 * H;
  const gates = new Float64Array(batch * G);
  const tmp = new Float64Array(H);

  for (let d = 0; d < numDir; d++) {
    const reverse = numDir === 2 ? d === 1 : !forward;
    const [f, gAct, h] = [af[d * 3]!, af[d * 3 + 1]!, af[d * 3 + 2]!];
    const r = weightSlice(R, d * G * H, G * H);
    const bias = new Float64Array(G);
    if (B) for (let j = 0; j < G; j++) bias[j] = B.num(d * 2 * G + j) + B.num(d * 2 * G + G + j);
    const peep = P ? slice64(P, d * 3 * H, 3 * H) : undefined; // order i, o, f
    const proj = g.project(x, W, d, bias);
    const hs = g.initState(ctx.inputs[5], d);
    const cs = g.initState(ctx.inputs[6], d);

    for (let s = 0; s < seq; s++) {
      gates.fill(0);
      gemmNTAcc(batch, G, H, hs, 0, H, r, 0, gates, 0, G);
      for (let b = 0; b < batch; b++) {
        const L = g.lens[b]!;
        if (s >= L) continue;
        const t = reverse ? L - 1 - s : s;
        const gi = b * G; const go = gi + H; const gf = gi + 2 * H; const gc = gi + 3 * H;
        const p = g.xRow(t, b) * G;
        for (let j = 0; j < G; j++) gates[gi + j] += proj[p + j]!;
        const c0 = b * H;
        if (peep) {
          for (let j = 0; j < H; j++) {
            gates[gi + j] += peep[j]! * cs[c0 + j]!;
            gates[gf + j] += peep[2 * H + j]! * cs[c0 + j]!;
          }
        }
        clipRange(gates, gi, H, clip); activate(f, gates, gi, H);
        if (inputForget) for (let j = 0; j < H; j++) gates[gf + j] = 1 - gates[gi + j]!;
        else { clipRange(gates, gf, H, clip); activate(f, gates, gf, H); }
        clipRange(gates, gc, H, clip); activate(gAct, gates, gc, H);
        for (let j = 0; j < H; j++) cs[c0 + j] = gates[gf + j]! * cs[c0 + j]! + gates[gi + j]! * gates[gc + j]!;
        if (peep) for (let j = 0; j < H; j++) gates[go + j] += peep[H + j]! * cs[c0 + j]!;
        clipRange(gates, go, H, clip); activate(f, gates, go, H);
        for (let j = 0; j < H; j++) tmp[j] = cs[c0 + j]!;
        activate(h, tmp, 0, H);
        for (let j = 0; j < H; j++) hs[c0 + j] = gates[go + j]! * tmp[j]!;
        if (y) { const yo = g.yOff(t, d, b); for (let j = 0; j < H; j++) y[yo + j] = hs[c0 + j]!; }
      }
    }
    g.storeState(Yh?.numbers, hs, d);
    g.storeState(Yc?.numbers, cs, d);
  }
  return [Y, Yh, Yc];
}

export function gruKernel(ctx: KernelContext): (HostTensor | undefined)[] {
  const node = ctx.node;
  const H = hiddenSize(ctx);
  const g = new RnnGeom(ctx, H);
  const { batch, seq, numDir } = g;
  const x = input(ctx, 0).numbers;
  const W = input(ctx, 1);
  const R = input(ctx, 2);
  const B = ctx.inputs[3];
  const clip = (node.attrs.clip as number | undefined) ?? Infinity;
  const lbr = attrInt(node, 'linear_before_reset', 0) !== 0;
  const af = acts(node, 2, ['sigmoid', 'tanh'], numDir);
  const forward = node.attrs.direction !== 'reverse';
  const Y = maybeOut(ctx, 0);
  const Yh = maybeOut(ctx, 1);
  const y = Y?.numbers;
  const G = 3 * H;
  const gates = new Float64Array(batch * G); // z | r | h per batch entry
  const hr = new Float64Array(batch * H);    // H_{t-1}·Rh^T + Rbh (linear_before_reset)
  const rh = new Float64Array(H);            // r ⊙ H_{t-1} (default form)
  const hrow = new Float64Array(H);

  for (let d = 0; d < numDir; d++) {
    const reverse = numDir === 2 ? d === 1 : !forward;
    const [f, gAct] = [af[d * 2]!, af[d * 2 + 1]!];
    const r = weightSlice(R, d * G * H, G * H);
    // z and r take both biases up front; the h gate's recurrent bias Rbh goes where the form says.
    const bias = new Float64Array(G);
    const rbh = new Float64Array(H);
    if (B) {
      for (let j = 0; j < G; j++) bias[j] = B.num(d * 2 * G + j) + (j < 2 * H ? B.num(d * 2 * G + G + j) : 0);
      for (let j = 0; j < H; j++) rbh[j] = B.num(d * 2 * G + G + 2 * H + j);
    }
    const proj = g.project(x, W, d, bias);
    const hs = g.initState(ctx.inputs[5], d);

    for (let s = 0; s < seq; s++) {
      gates.fill(0);
      gemmNTAcc(batch, 2 * H, H, hs, 0, H, r, 0, gates, 0, G);
      if (lbr) {
        for (let b = 0; b < batch; b++) hr.set(rbh, b * H);
        gemmNTAcc(batch, H, H, hs, 0, H, r, 2 * H * H, hr, 0, H);
      }
      for (let b = 0; b < batch; b++) {
        const L = g.lens[b]!;
        if (s >= L) continue;
        const t = reverse ? L - 1 - s : s;
        const gz = b * G; const gr = gz + H; const gh = gz + 2 * H;
        const p = g.xRow(t, b) * G;
        for (let j = 0; j < G; j++) gates[gz + j] += proj[p + j]!;
        clipRange(gates, gz, 2 * H, clip); activate(f, gates, gz, 2 * H);
        const h0 = b * H;
        if (lbr) {
          for (let j = 0; j < H; j++) gates[gh + j] += gates[gr + j]! * hr[h0 + j]!;
        } else {
          for (let j = 0; j < H; j++) rh[j] = gates[gr + j]! * hs[h0 + j]!;
          hrow.set(rbh);
          gemmNTAcc(1, H, H, rh, 0, H, r, 2 * H * H, hrow, 0, H);
          for (let j = 0; j < H; j++) gates[gh + j] += hrow[j]!;
        }
        clipRange(gates, gh, H, clip); activate(gAct, gates, gh, H);
        for (let j = 0; j < H; j++) {
          const z = gates[gz + j]!;
          hs[h0 + j] = (1 - z) * gates[gh + j]! + z * hs[h0 + j]!;
        }
        if (y) { const yo = g.yOff(t, d, b); for (let j = 0; j < H; j++) y[yo + j] = hs[h0 + j]!; }
      }
    }
    g.storeState(Yh?.numbers, hs, d);
  }
  return [Y, Yh];
}
