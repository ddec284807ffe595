/**
 * Activation smoothing before INT8 (SmoothQuant, Xiao et al. 2023, applied to convolutions too):
 * per-tensor INT8 activations lose the channels whose range is far below the tensor's largest, and
 * depthwise-separable networks (PP-OCR's PPLCNet, MobileNet) have input channels whose ranges
 * differ by 100x. For a layer y = sum_c W[., c] x[c], dividing input channel c by s_c and
 * multiplying the weights of that channel by s_c changes nothing in exact arithmetic, but moves
 * range from the activation (quantized per tensor) to the weights (quantized per output channel):
 *
 *   s_c = amax(x_c)^alpha / amax(W[., c])^(1 - alpha)
 *
 * A depthwise convolution reads input channel c for output channel c alone, so there the per-output
 * weight scales absorb any s_c and alpha is 1: exactly per-channel activation scales.
 *
 * The division runs as a Mul by 1/s (a float element-wise op before the INT8 layer); the factors
 * come from per-channel ranges seen in calibration (calibrate({ smoothing })) and travel in the
 * calibration table (JSON only), so every backend applies the same transform before quantizing.
 */
import type { Graph, Node } from '../ir/graph.js';
import { HostTensor } from '../ir/tensor.js';
import { TwinferError } from '../errors.js';
import { freshName, int8Candidate } from './int8-pass.js';

/** Where a layer's input channels are: axis 1 of a convolution's X, the last axis of a GEMM's. */
interface SmoothSite { conv: boolean; channels: number; group: number }

/**
 * Whether `n` can be smoothed, and its channel layout: an INT8 candidate with a constant float32
 * weight whose input-channel axis is known (no transA). Undefined: not smoothable.
 */
export function smoothSite(g: Graph, n: Node): SmoothSite | undefined {
  if (!int8Candidate(n)) return undefined;
  const w = g.initializers.get(n.inputs[1] ?? '');
  if (!w || w.dtype !== 'float32' || w.rank < 2) return undefined;
  if (n.attrs['transA'] === 1) return undefined;
  const conv = /Conv$/.test(n.opType);
  if (!conv && w.rank !== 2) return undefined;
  const group = conv ? Number(n.attrs['group'] ?? 1) : 1;
  const channels = conv ? w.dims[1]! * group : n.attrs['transB'] === 1 ? w.dims[1]! : w.dims[0]!;
  return { conv, channels, group };
}

/** The largest |W| of each input channel of the layer's weight. */
function weightChannelAmax(g: Graph, n: Node, site: SmoothSite): Float64Array {
  const w = g.initializers.get(n.inputs[1]!)!;
  const d = w.numbers, out = new Float64Array(site.channels);
  forEachWeight(w, n, site, (i, c) => { const a = Math.abs(d[i]!); if (a > out[c]!) out[c] = a; });
  return out;
}

/** Calls f(index into W, input channel) for every weight element. */
function forEachWeight(w: HostTensor, n: Node, site: SmoothSite, f: (i: number, c: number) => void): void {
  if (site.conv) {
    const M = w.dims[0]!, Cg = w.dims[1]!, taps = w.size / (M * Cg), Mg = M / site.group;
    for (let m = 0; m < M; m++) {
      const c0 = Math.floor(m / Mg) * Cg;
      for (let ci = 0; ci < Cg; ci++) for (let t = 0, i = (m * Cg + ci) * taps; t < taps; t++, i++) f(i, c0 + ci);
    }
  } else if (n.attrs['transB'] === 1) {
    const [N, K] = w.dims as [number, number];
    for (let j = 0; j < N; j++) for (let c = 0; c < K; c++) f(j * K + c, c);
  } else {
    const [K, N] = w.dims as [number, number];
    for (let c = 0; c < K; c++) for (let j = 0; j < N; j++) f(c * N + j, c);
  }
}

/** Depthwise: each output channel reads one input channel of its own. */
function depthwise(site: SmoothSite): boolean {
  return site.conv && site.group > 1 && site.group === site.channels;
}

/**
 * Smoothing factors of one layer from its input's per-channel ranges (`xAmax`, from calibration).
 * A channel that was zero throughout, or whose weights are all zero, keeps factor 1.
 */
export function smoothingFactors(g: Graph, n: Node, xAmax: ArrayLike<number>, alpha: number): Float32Array {
  const site = smoothSite(g, n);
  if (!site) throw new TwinferError('INVALID_ARGUMENT', `node '${n.name}' (${n.opType}) cannot be smoothed`);
  if (xAmax.length !== site.channels) throw new TwinferError('INVALID_ARGUMENT', `node '${n.name}': ${xAmax.length} channel ranges for ${site.channels} input channels`);
  const a = depthwise(site) ? 1 : alpha;
  const wAmax = weightChannelAmax(g, n, site);
  const s = new Float32Array(site.channels);
  for (let c = 0; c < s.length; c++) {
    const x = xAmax[c]!, w = wAmax[c]!;
    const v = x > 0 && w > 0 ? Math.pow(x, a) / Math.pow(w, 1 - a) : 1;
    s[c] = Number.isFinite(v) && v > 0 ? v : 1;
  }
  return s;
}

export function checkAlpha(alpha: unknown): number {
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha <= 1)) throw new TwinferError('INVALID_ARGUMENT', `smoothing alpha must be a number in [0, 1], got ${String(alpha)}`);
  return alpha;
}

/**
 * Applies the factors in place: for each named node, X becomes Mul(X, 1/s) (a new value) and the
 * weight a new constant with input channel c multiplied by s_c. `only`, when given, limits the
 * transform to those nodes. Returns the number of nodes smoothed. Throws when a factor list does not
 * fit its node (another model's table).
 */
export function applySmoothing(g: Graph, factors: ReadonlyMap<string, Float32Array>, only?: (n: Node) => boolean): number {
  let count = 0;
  const nodes = g.nodes.slice();
  for (const n of nodes) {
    const s = factors.get(n.name);
    if (!s || (only && !only(n))) continue;
    const site = smoothSite(g, n);
    if (!site) throw new TwinferError('INVALID_ARGUMENT', `calibration table: smoothing factors for '${n.name}', which is not a smoothable layer here (${n.opType}): the table was made for another model or optimization level`);
    if (s.length !== site.channels) throw new TwinferError('INVALID_ARGUMENT', `calibration table: ${s.length} smoothing factors for '${n.name}', which has ${site.channels} input channels`);
    const x = n.inputs[0]!, wName = n.inputs[1]!;
    const w = g.initializers.get(wName)!;
    const src = w.numbers, dst = new Float32Array(w.size);
    forEachWeight(w, n, site, (i, c) => { dst[i] = src[i]! * s[c]!; });
    const xType = g.types.get(x);
    const rank = xType?.shape?.length ?? (site.conv ? 4 : 2);
    const invDims = site.conv ? [1, site.channels, ...new Array<number>(Math.max(0, rank - 2)).fill(1)] : [site.channels];
    const inv = new Float32Array(site.channels);
    for (let c = 0; c < inv.length; c++) inv[c] = 1 / s[c]!;
    const wNew = freshName(g, `${wName}/smooth/${n.name}`), invName = freshName(g, `${n.name}/smooth_inv`), xNew = freshName(g, `${n.name}/smooth_x`);
    g.initializers.set(wNew, new HostTensor('float32', w.dims, dst));
    g.types.set(wNew, { dtype: 'float32', shape: w.dims.slice() });
    g.initializers.set(invName, new HostTensor('float32', invDims, inv));
    g.types.set(invName, { dtype: 'float32', shape: invDims });
    if (xType) g.types.set(xNew, { ...xType, ...(xType.shape ? { shape: xType.shape.slice() } : {}) });
    g.nodes.splice(g.nodes.indexOf(n), 0, { name: freshName(g, `${n.name}/smooth`), opType: 'Mul', domain: '', inputs: [x, invName], outputs: [xNew], attrs: {} });
    n.inputs[0] = xNew;
    n.inputs[1] = wNew;
    count++;
  }
  return count;
}

/** The input of every smoothable layer of `g`, with the layers reading it (one tensor may feed several). */
export function smoothInputs(g: Graph): Map<string, { node: Node; site: SmoothSite }[]> {
  const out = new Map<string, { node: Node; site: SmoothSite }[]>();
  for (const n of g.nodes) {
    const site = smoothSite(g, n);
    if (!site) continue;
    const x = n.inputs[0]!;
    if (g.initializers.has(x)) continue;
    const list = out.get(x) ?? [];
    list.push({ node: n, site });
    out.set(x, list);
  }
  return out;
}

/** Per-channel |x| maxima of the tensors feeding smoothable layers, widened batch by batch. */
export class ChannelRanges {
  readonly amax = new Map<string, Float64Array>();
  constructor(private readonly inputs: ReadonlyMap<string, { node: Node; site: SmoothSite }[]>) {}

  observe(name: string, t: HostTensor): void {
    const readers = this.inputs.get(name);
    if (!readers) return;
    const { conv, channels } = readers[0]!.site;
    const d = t.data as ArrayLike<number>;
    const inner = conv ? t.dims.slice(2).reduce((a, b) => a * b, 1) : 1;
    if ((conv ? t.dims[1] : t.dims[t.dims.length - 1]) !== channels) return; // another layout than the weight says: not smoothed
    let a = this.amax.get(name);
    if (!a) this.amax.set(name, (a = new Float64Array(channels)));
    for (let i = 0; i < d.length; i++) {
      const c = conv ? Math.floor(i / inner) % channels : i % channels;
      const v = Math.abs(d[i]!);
      if (v > a[c]!) a[c] = v; // NaN never compares greater
    }
  }
}
