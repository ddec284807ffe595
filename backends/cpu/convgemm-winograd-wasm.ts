/**
 * WebAssembly SIMD transforms of Winograd F(4x4, 3x3) convolution (Lavin & Gray), used by
 * convgemm-winograd.ts: the input transform V = B^T d B of 6x6 input tiles and the output
 * transform Y = A^T M A of 6x6 products (+ bias, clip). Four horizontally adjacent tiles are
 * processed together, one per SIMD lane, so the transformed values of a tile group are one
 * vector: the layout the GEMMs between the transforms want (tiles contiguous).
 *
 *   B^T = [4  0 -5  0 1 0]     A^T = [1 1  1 1  1 0]
 *         [0 -4 -4  1 1 0]           [0 1 -1 2 -2 0]
 *         [0  4 -4 -1 1 0]           [0 1  1 4  4 0]
 *         [0 -2 -1  2 1 0]           [0 1 -1 8 -8 1]
 *         [0  2 -1 -2 1 0]
 *         [0  4  0 -5 0 1]
 */
import { F32, I32, V128, WasmFn } from './convgemm-wasm-asm.js';
import { WasmAct } from './convgemm-act.js';

/** Byte lanes of an i8x16.shuffle picking float lanes (0-3: first operand, 4-7: second). */
const lanes = (...fl: number[]): number[] => fl.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
const LO = lanes(0, 4, 1, 5);    // interleave low halves
const HI = lanes(2, 6, 3, 7);    // interleave high halves
const LO64 = lanes(0, 1, 4, 5);  // low 64 bits of each
const HI64 = lanes(2, 3, 6, 7);  // high 64 bits of each

class Emit {
  private readonly consts = new Map<number, number>();
  constructor(readonly f: WasmFn) {}

  /** A local holding splat(c), created once at function start via init(). */
  k(c: number): number {
    let l = this.consts.get(c);
    if (l === undefined) { l = this.f.local(V128); this.consts.set(c, l); }
    return l;
  }

  init(): void {
    for (const [c, l] of this.consts) {
      // f32.const c; f32x4.splat
      const b = new Uint8Array(new Float32Array([c]).buffer);
      this.f.op(0x43, ...b).fsplat().set(l);
    }
  }
}

/**
 * out[0..5] = B^T in[0..5] (locals of v128).
 *   V0 = 4d0 - 5d2 + d4          V3 = (d4 - d2) + 2(d3 - d1)
 *   V1 = (d3 + d4) - 4(d1 + d2)  V4 = (d4 - d2) - 2(d3 - d1)
 *   V2 = (d4 - d3) + 4(d1 - d2)  V5 = 4d1 - 5d3 + d5
 */
function inputTransform(e: Emit, d: number[], out: number[], t: number[]): void {
  const f = e.f;
  const [four, five, two] = [e.k(4), e.k(5), e.k(2)];
  f.get(d[0]!).get(four).fmul().get(d[2]!).get(five).fmul().fsub().get(d[4]!).fadd().set(out[0]!);
  f.get(d[3]!).get(d[4]!).fadd().get(d[1]!).get(d[2]!).fadd().get(four).fmul().fsub().set(out[1]!);
  f.get(d[4]!).get(d[3]!).fsub().get(d[1]!).get(d[2]!).fsub().get(four).fmul().fadd().set(out[2]!);
  f.get(d[4]!).get(d[2]!).fsub().set(t[0]!);
  f.get(d[3]!).get(d[1]!).fsub().get(two).fmul().set(t[1]!);
  f.get(t[0]!).get(t[1]!).fadd().set(out[3]!);
  f.get(t[0]!).get(t[1]!).fsub().set(out[4]!);
  f.get(d[1]!).get(four).fmul().get(d[3]!).get(five).fmul().fsub().get(d[5]!).fadd().set(out[5]!);
}

/**
 * out[0..3] = A^T m[0..5].
 *   Y0 = m0 + (m1 + m2) + (m3 + m4)     Y2 = (m1 + m2) + 4(m3 + m4)
 *   Y1 = (m1 - m2) + 2(m3 - m4)         Y3 = (m1 - m2) + 8(m3 - m4) + m5
 */
function outputTransform(e: Emit, m: number[], out: number[], t: number[]): void {
  const f = e.f;
  const [two, four, eight] = [e.k(2), e.k(4), e.k(8)];
  f.get(m[1]!).get(m[2]!).fadd().set(t[0]!);
  f.get(m[1]!).get(m[2]!).fsub().set(t[1]!);
  f.get(m[3]!).get(m[4]!).fadd().set(t[2]!);
  f.get(m[3]!).get(m[4]!).fsub().set(t[3]!);
  f.get(m[0]!).get(t[0]!).fadd().get(t[2]!).fadd().set(out[0]!);
  f.get(t[1]!).get(t[3]!).get(two).fmul().fadd().set(out[1]!);
  f.get(t[0]!).get(t[2]!).get(four).fmul().fadd().set(out[2]!);
  f.get(t[1]!).get(t[3]!).get(eight).fmul().fadd().get(m[5]!).fadd().set(out[3]!);
}

/** In place: rows (a, b, c, d) of a 4x4 block become its columns. */
function transpose4(f: WasmFn, v: number[], t: number[]): void {
  f.get(v[0]!).get(v[1]!).shuffle(LO).set(t[0]!);
  f.get(v[0]!).get(v[1]!).shuffle(HI).set(t[1]!);
  f.get(v[2]!).get(v[3]!).shuffle(LO).set(t[2]!);
  f.get(v[2]!).get(v[3]!).shuffle(HI).set(t[3]!);
  f.get(t[0]!).get(t[2]!).shuffle(LO64).set(v[0]!);
  f.get(t[0]!).get(t[2]!).shuffle(HI64).set(v[1]!);
  f.get(t[1]!).get(t[3]!).shuffle(LO64).set(v[2]!);
  f.get(t[1]!).get(t[3]!).shuffle(HI64).set(v[3]!);
}

/**
 * wino_in(src, srcRow, C, srcPlane, nty, tw4, t1, dst, dstXi, dstC): for channels c < C and tile
 * rows ty < nty of one chunk, tile groups g < tw4/4: V[xi][c][ty*tw4 + 4g + lane] for the 36 xi.
 * src: padded input of channel 0 (rows srcRow bytes apart, channels srcPlane); tile (ty, tx)
 * reads rows 4ty..4ty+5, columns 4tx..4tx+5. t1: scratch of 6 rows of 4*tw4 + 8 floats.
 * Output at dst + xi*dstXi + c*dstC + (ty*tw4 + tile)*4 (bytes).
 */
function buildInput(): WasmFn {
  const f = new WasmFn('wino_in', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [src, srcRow, C, srcPlane, nty, tw4, t1, dst, dstXi, dstC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const e = new Emit(f);
  const c = f.local(I32), ty = f.local(I32), x = f.local(I32), g = f.local(I32);
  const ps = f.local(I32), pt = f.local(I32), pd = f.local(I32), nx = f.local(I32), t1Row = f.local(I32), ng = f.local(I32);
  const srcC = f.local(I32), dstCT = f.local(I32);
  const d: number[] = [], o: number[] = [], tmp: number[] = [];
  for (let i = 0; i < 6; i++) { d.push(f.local(V128)); o.push(f.local(V128)); }
  for (let i = 0; i < 4; i++) tmp.push(f.local(V128));
  const v: number[] = [];
  for (let i = 0; i < 5; i++) v.push(f.local(V128));
  const body = (): void => {
    // t1 row stride: 4*tw4 + 8 floats; the rows pass covers x < 4*tw4 + 4 (tw4 groups + 2 columns).
    f.get(tw4).i32(16).mul().i32(32).add().set(t1Row);
    f.get(tw4).i32(1).add().set(nx); // vectors per row pass
    f.get(tw4).i32(2).shr().set(ng);
    f.i32(0).set(c).get(src).set(srcC).get(dst).set(dstCT);
    f.forLt(c, C, 1, () => {
      f.i32(0).set(ty);
      f.forLt(ty, nty, 1, () => {
        // rows pass: t1[i][x] = sum_r B^T[i][r] * in[4ty + r][x]
        f.get(srcC).get(ty).get(srcRow).mul().i32(2).shl().add().set(ps);
        f.get(t1).set(pt).i32(0).set(x);
        f.forLt(x, nx, 1, () => {
          for (let r = 0; r < 6; r++) f.get(ps).get(srcRow).i32(r).mul().add().vload(0).set(d[r]!);
          inputTransform(e, d, o, tmp);
          for (let i = 0; i < 6; i++) f.get(pt).get(t1Row).i32(i).mul().add().get(o[i]!).vstore(0);
          f.inc(ps, 16).inc(pt, 16);
        });
        // columns pass, 4 tiles (lanes) per group: tile j of group g reads t1 columns 16g + 4j + (0..5)
        f.get(t1).set(pt).get(dstCT).get(ty).get(tw4).mul().i32(2).shl().add().set(pd).i32(0).set(g);
        f.forLt(g, ng, 1, () => {
          for (let i = 0; i < 6; i++) {
            for (let q = 0; q < 5; q++) f.get(pt).get(t1Row).i32(i).mul().add().vload(16 * q).set(v[q]!);
            // d[cc] lane j = t1[i][16g + 4j + cc]: transpose (v0..v3) for cc < 4, (v1..v4) lanes 0/1 for cc = 4, 5
            f.get(v[1]!).get(v[2]!).shuffle(LO).set(tmp[0]!);
            f.get(v[3]!).get(v[4]!).shuffle(LO).set(tmp[1]!);
            f.get(tmp[0]!).get(tmp[1]!).shuffle(LO64).set(d[4]!);
            f.get(tmp[0]!).get(tmp[1]!).shuffle(HI64).set(d[5]!);
            transpose4(f, v, tmp);
            for (let q = 0; q < 4; q++) f.get(v[q]!).set(d[q]!);
            inputTransform(e, d, o, tmp);
            for (let k = 0; k < 6; k++) f.get(pd).get(dstXi).i32(i * 6 + k).mul().add().get(o[k]!).vstore(0);
          }
          f.inc(pt, 64).inc(pd, 16);
        });
      });
      f.incBy(srcC, srcPlane).incBy(dstCT, dstC);
    });
  };
  body();
  return finish(f, e);
}

/**
 * wino_out(mbuf, mXi, mRow, M, nty, tw4, out, outRow, outPlane, bias, flags, p0, p1, s, t): for output
 * channels m < M, tile rows ty < nty, tile groups: Y = act(A^T M A + bias[m] if flags & 2) with the
 * activation of the ACT_* bits of flags, 4x4 pixels per tile written at out + m*outPlane + (4ty + r)*outRow +
 * (4*tile + c)*4. M[xi] of channel m, tile t at mbuf + xi*mXi + m*mRow + t*4 (t = ty*tw4 + tx).
 */
function buildOutput(): WasmFn {
  const f = new WasmFn('wino_out', [I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, F32, F32, F32, F32]);
  const [mbuf, mXi, mRow, M, nty, tw4, out, outRow, outPlane, bias, flags, p0, p1, ps, pt] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const e = new Emit(f);
  const m = f.local(I32), ty = f.local(I32), g = f.local(I32), ng = f.local(I32), pm = f.local(I32), po = f.local(I32);
  const mBase = f.local(I32), oBase = f.local(I32);
  const vb = f.local(V128);
  const mv: number[] = [], r4: number[][] = [], y: number[] = [], tmp: number[] = [];
  for (let i = 0; i < 6; i++) mv.push(f.local(V128));
  for (let r = 0; r < 4; r++) { r4.push([]); for (let k = 0; k < 6; k++) r4[r]!.push(f.local(V128)); }
  for (let i = 0; i < 4; i++) { y.push(f.local(V128)); tmp.push(f.local(V128)); }
  const o4 = [f.local(V128), f.local(V128), f.local(V128), f.local(V128)];
  const act = new WasmAct(f, flags, p0, p1, ps, pt);
  f.get(tw4).i32(2).shr().set(ng);
  f.i32(0).set(m).get(mbuf).set(mBase).get(out).set(oBase);
  f.forLt(m, M, 1, () => {
    f.vzero().set(vb);
    f.get(flags).i32(2).op(0x71).if().get(bias).get(m).i32(2).shl().add().vloadSplat(0).set(vb).end();
    f.i32(0).set(ty);
    f.forLt(ty, nty, 1, () => {
      f.get(mBase).get(ty).get(tw4).mul().i32(2).shl().add().set(pm);
      f.get(oBase).get(ty).get(outRow).mul().i32(2).shl().add().set(po);
      f.i32(0).set(g);
      f.forLt(g, ng, 1, () => {
        // columns k: R[r][k] = sum_i A^T[r][i] M[i][k]
        for (let k = 0; k < 6; k++) {
          for (let i = 0; i < 6; i++) f.get(pm).get(mXi).i32(i * 6 + k).mul().add().vload(0).set(mv[i]!);
          outputTransform(e, mv, [r4[0]![k]!, r4[1]![k]!, r4[2]![k]!, r4[3]![k]!], tmp);
        }
        for (let r = 0; r < 4; r++) {
          outputTransform(e, r4[r]!, y, tmp);
          // y[c] lane j = pixel (r, c) of tile j: transpose into 4 contiguous pixels per tile
          transpose4(f, y, tmp);
          for (let j = 0; j < 4; j++) f.get(y[j]!).get(vb).fadd().set(o4[j]!);
          act.emit(o4);
          for (let j = 0; j < 4; j++) f.get(po).get(outRow).i32(r).mul().add().get(o4[j]!).vstore(16 * j);
        }
        f.inc(pm, 16).inc(po, 64);
      });
    });
    f.incBy(mBase, mRow).incBy(oBase, outPlane);
  });
  return finish(f, e);
}

/** Prepends the constant splats (locals are only known once the body is emitted). */
function finish(f: WasmFn, e: Emit): WasmFn {
  const body = f.takeCode();
  e.init();
  f.op(...body);
  return f;
}

export function buildWinogradFns(): WasmFn[] {
  return [buildInput(), buildOutput()];
}
