/**
 * Test helper: a JavaScript stand-in for the native addon that implements the same launch ABI as
 * native/src/*.cu (parameter lists, bindings, function codes) with plain loops. It lets the CUDA
 * backend's TypeScript side (support, lowering, executor, crossings) run end to end on a machine
 * without a GPU; the CUDA kernels themselves are compared on the GPU machine by kernels.test.ts.
 *
 * The function and binary-op tables are read from native/src/functions.h, so the codes cannot drift
 * from the C++ (and addon.test.ts checks the built addon against the same header).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { NativeAddon, NativeContext, NativeProbe } from '../../backends/native/addon.js';
import { TYPED_KERNEL_NAMES, typedLaunchers, type Ptr } from './emulator-typed.js';
import { Q_KERNEL_NAMES, Q_LAUNCHERS } from './emulator-q.js';
import { NHWC_KERNEL_NAMES, NHWC_LAUNCHERS } from './emulator-nhwc.js';
import { roundToDtype } from '../../src/ir/lowp.js';

const header = fs.readFileSync(path.resolve('native/src/functions.h'), 'utf8');

function xlist(macro: string): string[] {
  const start = header.indexOf(`#define ${macro}(X)`);
  if (start < 0) throw new Error(`${macro} not found in functions.h`);
  const body = header.slice(start).split('\n').slice(1);
  const names: string[] = [];
  for (const line of body) {
    const m = /^\s*X\((\w+)\)/.exec(line);
    if (!m) break;
    names.push(m[1]!);
  }
  return names;
}

export const FUNCTION_NAMES = xlist('TWINFER_FUNCTIONS');
export const BINARY_NAMES = xlist('TWINFER_BINARY');
export const TYPED_BINARY_NAMES = xlist('TWINFER_TYPED_BINARY');

function erf(x: number): number {
  // Abramowitz-Stegun 7.1.26 refined by one Newton step is plenty for f32 comparisons.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}
const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));
const rint = (x: number) => { const r = Math.round(x); return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; };

const FNS: Record<string, (x: number, a: number, b: number) => number> = {
  Identity: (x) => x, Relu: (x) => (x > 0 ? x : x !== x ? x : 0), Sigmoid: (x) => 1 / (1 + Math.exp(-x)), Tanh: Math.tanh,
  HardSwish: (x) => x * Math.min(Math.max(x / 6 + 0.5, 0), 1), Silu: (x) => x / (1 + Math.exp(-x)),
  LeakyRelu: (x, a) => (x < 0 ? a * x : x), Elu: (x, a) => (x >= 0 ? x : a * Math.expm1(x)),
  Gelu: (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2)),
  GeluTanh: (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))),
  Clip: (x, a, b) => (x !== x ? x : Math.min(Math.max(x, a), b)), HardSigmoid: (x, a, b) => Math.min(Math.max(a * x + b, 0), 1),
  Affine: (x, a, b) => a * x + b, Abs: Math.abs, Neg: (x) => -x, Exp: Math.exp, Log: Math.log, Sqrt: Math.sqrt,
  Reciprocal: (x) => 1 / x, Floor: Math.floor, Ceil: Math.ceil, Round: rint, Sign: (x) => (x > 0 ? 1 : x < 0 ? -1 : x),
  Sin: Math.sin, Cos: Math.cos, Tan: Math.tan, Asin: Math.asin, Acos: Math.acos, Atan: Math.atan, Sinh: Math.sinh, Cosh: Math.cosh,
  Asinh: Math.asinh, Acosh: Math.acosh, Atanh: Math.atanh, Erf: erf, Softplus: softplus, Softsign: (x) => x / (1 + Math.abs(x)),
  Mish: (x) => x * Math.tanh(softplus(x)), Selu: (x, a, g) => (x > 0 ? g * x : g * a * Math.expm1(x)),
  Celu: (x, a) => (x > 0 ? x : a * Math.expm1(x / a)), ThresholdedRelu: (x, a) => (x > a ? x : 0),
  Not: (x) => (x === 0 ? 1 : 0), IsNaN: (x) => (x !== x ? 1 : 0),
  IsInf: (x, a, b) => ((a !== 0 && x === Infinity) || (b !== 0 && x === -Infinity) ? 1 : 0),
};

const BIN: Record<string, (x: number, y: number) => number> = {
  Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => x / y, Pow: Math.pow,
  Max: (x, y) => (x >= y || x !== x ? x : y), Min: (x, y) => (x <= y || x !== x ? x : y), PRelu: (x, y) => (x < 0 ? x * y : x),
};

function need(kernel: string, ints: Float64Array, floats: Float32Array, ptrs: unknown[], ni: number, nf: number, np: number): void {
  if (ints.length !== ni || floats.length !== nf || ptrs.length !== np) {
    throw new Error(`${kernel}: expected ${ni} ints, ${nf} floats, ${np} bindings; got ${ints.length}, ${floats.length}, ${ptrs.length}`);
  }
}

type F32 = Float32Array | undefined;

function fn(code: number): (x: number, a: number, b: number) => number {
  const name = FUNCTION_NAMES[code];
  if (name === undefined) throw new Error(`unknown function code ${code}`);
  return FNS[name]!;
}

const launchers: Record<string, (code: number, i: Float64Array, f: Float32Array, p: F32[]) => void> = {
  unary(code, i, f, p) {
    need('unary', i, f, p, 1, 2, 2);
    const g = fn(code), x = p[0]!, y = p[1]!;
    for (let k = 0; k < i[0]!; k++) y[k] = g(x[k]!, f[0]!, f[1]!);
  },
  binary(code, i, f, p) {
    const rank = i[1]!;
    need('binary', i, f, p, 2 + 3 * rank, 0, 3);
    const op = BIN[BINARY_NAMES[code]!]!, a = p[0]!, b = p[1]!, y = p[2]!;
    const dims = i.subarray(2, 2 + rank), as = i.subarray(2 + rank, 2 + 2 * rank), bs = i.subarray(2 + 2 * rank, 2 + 3 * rank);
    for (let k = 0; k < i[0]!; k++) {
      let rem = k, ia = 0, ib = 0;
      for (let d = rank - 1; d >= 0; d--) { const c = rem % dims[d]!; rem = Math.floor(rem / dims[d]!); ia += c * as[d]!; ib += c * bs[d]!; }
      y[k] = op(a[ia]!, b[ib]!);
    }
  },
  gemm(_code, i, f, p) {
    need('gemm', i, f, p, 24, 6, 5);
    const f16 = f16Output('gemm', i[23]!);
    const [M, N, K, tA, tB, lda, ldb] = [i[0]!, i[1]!, i[2]!, i[3]!, i[4]!, i[5]!, i[6]!];
    const bd = i.subarray(7, 11), as = i.subarray(11, 15), bs = i.subarray(15, 19);
    const [bsM, bsN, act, post] = [i[19]!, i[20]!, i[21]!, i[22]!];
    const [alpha, beta, a0, a1, p0, p1] = f;
    const A = p[0]!, B = p[1]!, C = p[2], Z = p[3], Y = p[4]!;
    const fa = fn(act), fp = fn(post);
    const batches = bd.reduce((x, y) => x * y, 1);
    for (let z = 0; z < batches; z++) {
      let rem = z, ao = 0, bo = 0;
      for (let d = 3; d >= 0; d--) { const c = rem % bd[d]!; rem = Math.floor(rem / bd[d]!); ao += c * as[d]!; bo += c * bs[d]!; }
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) acc += A[ao + (tA ? k * lda + m : m * lda + k)]! * B[bo + (tB ? n * ldb + k : k * ldb + n)]!;
          let v = alpha! * acc;
          if (C) v += beta! * C[m * bsM + n * bsN]!;
          const yi = z * M * N + m * N + n;
          v = fa(v, a0!, a1!);
          if (Z) v += Z[yi]!;
          Y[yi] = f16 ? roundToDtype('float16', fp(v, p0!, p1!)) : fp(v, p0!, p1!);
        }
      }
    }
  },
  conv2d(_code, i, f, p) {
    need('conv2d', i, f, p, 19, 4, 5);
    const [N, C, H, W, K, P, Q, R, S, sh, sw, ph, pw, dh, dw, G, act, post, flags] = Array.from(i);
    const f16 = f16Output('conv2d', flags!);
    const X = p[0]!, Wt = p[1]!, B = p[2], Z = p[3], Y = p[4]!;
    const fa = fn(act!), fp = fn(post!);
    const Cg = C! / G!, Mg = K! / G!;
    for (let b = 0; b < N!; b++) for (let k = 0; k < K!; k++) {
      const g = Math.floor(k / Mg);
      for (let y = 0; y < P!; y++) for (let x = 0; x < Q!; x++) {
        let acc = 0;
        for (let c = 0; c < Cg; c++) for (let r = 0; r < R!; r++) for (let s = 0; s < S!; s++) {
          const h = y * sh! - ph! + r * dh!, w = x * sw! - pw! + s * dw!;
          if (h < 0 || h >= H! || w < 0 || w >= W!) continue;
          acc += X[((b * C! + g * Cg + c) * H! + h) * W! + w]! * Wt[((k * Cg + c) * R! + r) * S! + s]!;
        }
        const yi = ((b * K! + k) * P! + y) * Q! + x;
        let v = B ? acc + B[k]! : acc;
        v = fa(v, f[0]!, f[1]!);
        if (Z) v += Z[yi]!;
        Y[yi] = f16 ? roundToDtype('float16', fp(v, f[2]!, f[3]!)) : fp(v, f[2]!, f[3]!);
      }
    }
  },
};

/** conv2d's and gemm's flags (native/src/common.h lowpFlags): checked; whether the output rounds to float16. */
function f16Output(kernel: string, flags: number): boolean {
  if (!(flags >= 0 && flags <= 3)) throw new Error(`${kernel}: flags must be a combination of 1 (TF32 allowed) and 2 (float16 output)`);
  return (flags & 2) !== 0;
}

const typed = { ...typedLaunchers(FUNCTION_NAMES), ...Q_LAUNCHERS, ...NHWC_LAUNCHERS };

export const EMULATED_KERNELS = [...FUNCTION_NAMES.map((n) => `unary/${n}`), ...BINARY_NAMES.map((n) => `binary/${n}`), 'gemm', 'conv2d', ...TYPED_KERNEL_NAMES, ...Q_KERNEL_NAMES, ...NHWC_KERNEL_NAMES];

type Launch = [kernel: string, ints: Float64Array, floats: Float32Array, bindings: Float64Array];

/**
 * CUDA graphs as CUDA does them: while capturing, launches are recorded and do not run; calls that
 * synchronize or allocate (alloc, free, upload from pageable memory, download, synchronize) fail the
 * way cudaStreamBeginCapture's thread-local mode makes them fail, and invalidate the capture.
 * Execution contexts as the addon does them: fork() shares the buffers (one id space, freed with
 * the last context), and downloadAsync reads the bytes only on a later turn of the event loop (as
 * the addon's worker copies after the call returns), so anything queued on the same stream before
 * it settles is an error here, as it would be a race there.
 */
interface EmulatedMemory { buffers: Map<number, ArrayBuffer>; next: number; refs: number }

class EmulatedContext implements NativeContext {
  private readonly mem: EmulatedMemory;
  private get buffers(): Map<number, ArrayBuffer> { return this.mem.buffers; }
  private disposed = false;
  /** downloadAsync calls not settled yet. */
  private pendingDownloads = 0;
  /** Whether this context is a fork (made by fork()). */
  readonly forked: boolean;
  constructor(arg?: number | EmulatedMemory) {
    this.forked = typeof arg === 'object';
    this.mem = typeof arg === 'object' ? arg : { buffers: new Map(), next: 0, refs: 0 };
    this.mem.refs++;
  }
  private streamFree(what: string): void {
    if (this.disposed) throw new Error('CUDA context was disposed');
    if (this.pendingDownloads > 0) throw new Error(`${what} queued while a downloadAsync of this stream is pending`);
  }
  private captured: Launch[] | undefined;
  private invalidated: string | undefined;
  private readonly graphs = new Map<number, Launch[]>();
  private nextGraph = 1;
  launches: string[] = [];
  /** cudaGraphLaunch calls so far. */
  graphLaunches = 0;
  /** Set by a test: the next launch while capturing fails, as a launcher making a forbidden call would. */
  failNextCapturedLaunch = false;
  private noCapture(what: string): void {
    if (!this.captured) return;
    this.invalidated ??= `${what} while capturing`;
    throw new Error(`${what}: cudaErrorStreamCaptureUnsupported (900): operation not permitted when stream is capturing`);
  }
  captureBegin(): void { if (this.captured) throw new Error('captureBegin: the stream is already capturing'); this.captured = []; this.invalidated = undefined; }
  captureEnd(): number {
    const c = this.captured, bad = this.invalidated;
    this.captured = undefined;
    this.invalidated = undefined;
    if (!c || bad) throw new Error(`cudaStreamEndCapture: cudaErrorStreamCaptureInvalidated (901): ${bad ?? 'not capturing'}`);
    this.graphs.set(this.nextGraph, c);
    return this.nextGraph++;
  }
  captureAbort(): void { this.captured = undefined; this.invalidated = undefined; }
  graphLaunch(id: number): void {
    const g = this.graphs.get(id);
    if (!g) throw new Error(`unknown CUDA graph ${id}`);
    this.noCapture('cudaGraphLaunch');
    this.streamFree('cudaGraphLaunch');
    for (const l of g) this.launch(...l);
    this.graphLaunches++;
  }
  graphDestroy(id: number): void { if (!this.graphs.delete(id)) throw new Error(`unknown CUDA graph ${id}`); }
  get liveGraphs(): number { return this.graphs.size; }
  alloc(bytes: number): number { this.noCapture('cudaMalloc'); this.buffers.set(this.mem.next, new ArrayBuffer(Math.max(4, bytes))); return this.mem.next++; }
  free(id: number): void { this.noCapture('cudaFree'); if (!this.buffers.delete(id)) throw new Error(`unknown device buffer ${id}`); }
  bytes(id: number): number { return this.buf(id).byteLength; }
  private buf(id: number): ArrayBuffer { const b = this.buffers.get(id); if (!b) throw new Error(`unknown device buffer ${id}`); return b; }
  upload(id: number, off: number, data: ArrayBufferView | ArrayBuffer): void {
    this.noCapture('upload');
    this.streamFree('upload');
    const src = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const dst = this.buf(id);
    if (off + src.length > dst.byteLength) throw new Error('upload out of the buffer\'s bounds');
    new Uint8Array(dst, off).set(src);
  }
  download(id: number, off: number, bytes: number): ArrayBuffer {
    this.noCapture('download');
    const b = this.buf(id);
    if (off + bytes > b.byteLength) throw new Error('download out of the buffer\'s bounds');
    return b.slice(off, off + bytes);
  }
  /** `f` on a later turn of the event loop, this stream counted busy until then (the addon's worker). */
  private later<T>(f: () => T): Promise<T> {
    this.pendingDownloads++;
    return new Promise((resolve, reject) => setTimeout(() => {
      this.pendingDownloads--;
      try { resolve(f()); } catch (e) { reject(e); }
    }, 1));
  }
  downloadAsync(id: number, off: number, bytes: number): Promise<ArrayBuffer> {
    this.noCapture('downloadAsync');
    this.buf(id);
    return this.later(() => this.download(id, off, bytes));
  }
  synchronizeAsync(): Promise<void> {
    this.noCapture('synchronizeAsync');
    if (this.disposed) throw new Error('CUDA context was disposed');
    return this.later(() => undefined);
  }
  copy(dst: number, dstOff: number, src: number, srcOff: number, bytes: number): void {
    this.noCapture('copy');
    this.streamFree('copy');
    const d = this.buf(dst), s = this.buf(src);
    if (dstOff + bytes > d.byteLength) throw new Error('copy destination out of the buffer\'s bounds');
    if (srcOff + bytes > s.byteLength) throw new Error('copy source out of the buffer\'s bounds');
    new Uint8Array(d, dstOff, bytes).set(new Uint8Array(s, srcOff, bytes));
  }
  fork(): NativeContext {
    if (this.disposed) throw new Error('CUDA context was disposed');
    return new (this.constructor as new (m: EmulatedMemory) => EmulatedContext)(this.mem);
  }
  launch(kernel: string, ints: Float64Array, floats: Float32Array, bindings: Float64Array): void {
    this.streamFree(kernel);
    if (!(ints instanceof Float64Array) || !(floats instanceof Float32Array) || !(bindings instanceof Float64Array)) throw new Error('launch: typed arrays expected');
    if (this.captured) {
      if (this.failNextCapturedLaunch) { this.failNextCapturedLaunch = false; this.noCapture(`${kernel} (a synchronizing call in its launcher)`); }
      this.captured.push([kernel, ints.slice(), floats.slice(), bindings.slice()]);
      return;
    }
    if (Object.prototype.hasOwnProperty.call(typed, kernel)) {
      const ptrs: (Ptr | undefined)[] = [];
      for (let k = 0; k < bindings.length; k += 2) {
        const id = bindings[k]!;
        ptrs.push(id < 0 ? undefined : { buf: this.buf(id), off: bindings[k + 1]! });
      }
      for (const v of ints) if (!Number.isInteger(v)) throw new Error(`${kernel}: ints must be integers`);
      typed[kernel]!(Array.from(ints), floats, ptrs, fn);
      this.launches.push(kernel);
      return;
    }
    const [family, name] = kernel.includes('/') ? kernel.split('/') as [string, string] : [kernel, ''];
    const code = family === 'unary' ? FUNCTION_NAMES.indexOf(name) : family === 'binary' ? BINARY_NAMES.indexOf(name) : 0;
    const run = launchers[family];
    if (!run || code < 0) throw new Error(`unknown CUDA kernel '${kernel}'`);
    const ptrs: F32[] = [];
    for (let k = 0; k < bindings.length; k += 2) {
      const id = bindings[k]!;
      ptrs.push(id < 0 ? undefined : new Float32Array(this.buf(id), bindings[k + 1]!));
    }
    run(code, ints, floats, ptrs);
    this.launches.push(kernel);
  }
  synchronize(): void {
    if (this.disposed) throw new Error('CUDA context was disposed');
    this.noCapture('cudaStreamSynchronize');
  }
  memInfo(): { free: number; total: number } { return { free: 1 << 30, total: 1 << 30 }; }
  allocatedBytes(): number { let n = 0; for (const b of this.buffers.values()) n += b.byteLength; return n; }
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.graphs.clear();
    this.captured = undefined;
    if (--this.mem.refs === 0) this.buffers.clear();
  }
  get liveBuffers(): number { return this.buffers.size; }
}

/** The emulated addon; `contexts` collects every context it opened (to inspect launches). */
export function emulatedAddon(): NativeAddon & { contexts: EmulatedContext[] } {
  const contexts: EmulatedContext[] = [];
  const probe: NativeProbe = {
    available: true, errorCode: 0, runtimeVersion: 13000, driverVersion: 13000, archs: 'emulated',
    devices: [{ index: 0, name: 'twinfer test emulator', major: 0, minor: 0, totalMemory: 1 << 30, multiprocessors: 1, kernelImage: true }],
    libraries: [],
  };
  return {
    contexts,
    probe: () => probe,
    functions: () => FUNCTION_NAMES.slice(),
    kernels: () => EMULATED_KERNELS.slice(),
    Context: class extends EmulatedContext { constructor(arg?: number | EmulatedMemory) { super(arg); contexts.push(this); } },
  };
}
