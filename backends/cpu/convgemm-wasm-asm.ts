/**
 * A minimal WebAssembly assembler: just enough to emit the SIMD kernels of convgemm-wasm.ts as
 * bytes at load time (no toolchain, no binary blobs in the repo, readable kernel code). Functions
 * share one imported memory `env.mem`; every function is exported under its name.
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof V128;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0)) { out.push(b); return out; }
    out.push(b | 0x80);
  }
}

const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, bytes: number[]): number[] => [id, ...uleb(bytes.length), ...bytes];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** One function body under construction. Methods push instructions and return `this`. */
export class WasmFn {
  private readonly locals: ValType[] = [];
  private readonly code: number[] = [];

  constructor(readonly name: string, readonly params: ValType[], readonly results: ValType[] = []) {}

  /** Declares a local; returns its index. */
  local(t: ValType): number {
    this.locals.push(t);
    return this.params.length + this.locals.length - 1;
  }

  op(...bytes: number[]): this { this.code.push(...bytes); return this; }
  get(i: number): this { return this.op(0x20, ...uleb(i)); }
  set(i: number): this { return this.op(0x21, ...uleb(i)); }
  tee(i: number): this { return this.op(0x22, ...uleb(i)); }

  // i32
  i32(c: number): this { return this.op(0x41, ...sleb(c | 0)); }
  add(): this { return this.op(0x6a); }
  sub(): this { return this.op(0x6b); }
  mul(): this { return this.op(0x6c); }
  shl(): this { return this.op(0x74); }
  shr(): this { return this.op(0x75); }
  eqz(): this { return this.op(0x45); }
  eq(): this { return this.op(0x46); }
  ne(): this { return this.op(0x47); }
  ltS(): this { return this.op(0x48); }
  geS(): this { return this.op(0x4e); }
  i32load(off = 0): this { return this.op(0x28, 2, ...uleb(off)); }
  /** local += c */
  inc(i: number, c: number): this { return this.get(i).i32(c).add().set(i); }
  /** local += other local */
  incBy(i: number, j: number): this { return this.get(i).get(j).add().set(i); }

  // f32 scalar
  f32load(off = 0): this { return this.op(0x2a, 2, ...uleb(off)); }
  f32store(off = 0): this { return this.op(0x38, 2, ...uleb(off)); }

  // v128 / f32x4
  private simd(o: number): this { return this.op(0xfd, ...uleb(o)); }
  vload(off = 0): this { return this.simd(0x00).op(4, ...uleb(off)); }
  vstore(off = 0): this { return this.simd(0x0b).op(4, ...uleb(off)); }
  vloadSplat(off = 0): this { return this.simd(0x09).op(2, ...uleb(off)); }
  vzero(): this { return this.simd(0x0c).op(...new Array<number>(16).fill(0)); }
  fsplat(): this { return this.simd(0x13); }
  isplat(): this { return this.simd(0x11); }
  vand(): this { return this.simd(0x4e); }
  vor(): this { return this.simd(0x50); }
  /** i32x4.gt_s */
  igtS(): this { return this.simd(0x3b); }
  /** i32x4.eq */
  ieq(): this { return this.simd(0x37); }
  fadd(): this { return this.simd(0xe4); }
  fsub(): this { return this.simd(0xe5); }
  fmul(): this { return this.simd(0xe6); }
  fmin(): this { return this.simd(0xe8); }
  fmax(): this { return this.simd(0xe9); }
  /** f32x4.relaxed_madd(a, b, c) = a*b + c, fused where the CPU can (relaxed SIMD). */
  fmadd(): this { return this.simd(0x105); }
  /** i8x16.shuffle with 16 lane indices (0-15 first operand, 16-31 second). */
  shuffle(lanes: number[]): this { return this.simd(0x0d).op(...lanes); }

  /** memory.copy(dst, src, n) (bulk memory). */
  memcopy(): this { return this.op(0xfc, 10, 0, 0); }
  /** memory.fill(dst, byte, n) (bulk memory). */
  memfill(): this { return this.op(0xfc, 11, 0); }

  // control
  block(): this { return this.op(0x02, 0x40); }
  loop(): this { return this.op(0x03, 0x40); }
  if(): this { return this.op(0x04, 0x40); }
  else(): this { return this.op(0x05); }
  end(): this { return this.op(0x0b); }
  br(depth: number): this { return this.op(0x0c, ...uleb(depth)); }
  brIf(depth: number): this { return this.op(0x0d, ...uleb(depth)); }

  /**
   * `for (; i < limit; i += step) body()` as block/loop; `limit` is a local. The body runs at
   * loop depth: br(0) continues, br(1) breaks.
   */
  forLt(i: number, limit: number, step: number | { local: number }, body: () => void): this {
    this.block().loop();
    this.get(i).get(limit).geS().brIf(1);
    body();
    if (typeof step === 'number') this.inc(i, step); else this.incBy(i, step.local);
    return this.br(0).end().end();
  }

  /** Removes and returns the instructions emitted so far (to prepend others, e.g. constants). */
  takeCode(): number[] {
    return this.code.splice(0, this.code.length);
  }

  encode(): number[] {
    const groups = this.locals.map((t) => [1, t]);
    const body = [...vec(groups), ...this.code, 0x0b];
    return [...uleb(body.length), ...body];
  }
}

/**
 * Assembles functions into a module importing `env.mem` (a memory of at least 1 page); with
 * `sharedMax` (pages), a shared memory of at most that size (for worker threads, see
 * convgemm-threads.ts).
 */
export function assemble(fns: WasmFn[], sharedMax?: number): Uint8Array<ArrayBuffer> {
  const limits = sharedMax === undefined ? [0x00, ...uleb(1)] : [0x03, ...uleb(1), ...uleb(sharedMax)];
  const types = fns.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, vec(types)),
    ...section(2, vec([[...name('env'), ...name('mem'), 0x02, ...limits]])),
    ...section(3, vec(fns.map((_, i) => uleb(i)))),
    ...section(7, vec(fns.map((f, i) => [...name(f.name), 0x00, ...uleb(i)]))),
    ...section(10, vec(fns.map((f) => f.encode()))),
  ]);
}
