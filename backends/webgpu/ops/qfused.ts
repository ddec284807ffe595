/**
 * twinfer.QConv / QGemm / QMatMul on WebGPU (semantics: src/ir/ops/qfused.ts; CPU reference:
 * backends/cpu/ops/qfused.ts), built on WGSL dot4I8Packed:
 *  1. weights packed 4 int8 per u32 once per session (qfused-weights.ts);
 *  2. the activation quantized and packed by a small kernel (qfused-quantize.ts);
 *  3. an int8 tiled GEMM (qfused-gemm.ts) with int32 accumulation: implicit GEMM over the
 *     channel-packed input for Conv (per group), plain rows for Gemm / MatMul;
 *  4. the epilogue in the store: y = f32(acc + (off - zp) * rowsum) * (x_scale * W_scale[c]) + B[c],
 *     then activation, residual, post-activation (convgemm-epilogue.ts), rounded to float16 when the
 *     output is float16.
 * Depthwise convolutions (one input channel per group) take a direct kernel that quantizes each
 * tap on the fly (a GEMM with M = 1 per group would idle almost every thread).
 * The integer part equals the CPU reference exactly; the float epilogue differs by rounding only
 * (the GPU may fuse the multiply-add; activations use the WGSL forms of convgemm-epilogue.ts).
 */
import type { GpuKernel, GpuKernelContext } from '../kernel.js';
import { outDims } from '../kernel.js';
import { FLAT_INDEX, grid, WG } from '../program.js';
import type { GpuTensor } from '../tensor.js';
import { attrInt } from '../../../src/ir/graph.js';
import { forwardGeom, groupAttr, readWindowAttrs } from '../../../src/ir/ops/convgemm-geom.js';
import { qBaseNode, qChannelAxis, quantParams as readQuant } from '../../../src/ir/ops/qfused.js';
import { Params, actSupported, epilogueApply, epilogueDecls, epilogueKey, epilogueParams, readEpilogue, type Epilogue } from './convgemm-epilogue.js';
import { geom3, type G3 } from './convgemm-conv.js';
import { tileChunks } from './convgemm-tile.js';
import { pickQTile, qCfgKey, qGemmShader, qTileM, qTileN, QTKW, rowsLoadQ, type QTileCfg } from './qfused-gemm.js';
import { QUANT_FN, packedWidth, padWord, qOff, recordQuantizePack, type QuantParams } from './qfused-quantize.js';
import { depthwiseWeights, packConvWeights, packGemmWeights, type PackedWeights } from './qfused-weights.js';

const prod = (a: readonly number[]) => a.reduce((p, x) => p * x, 1);

function quantOf(ctx: GpuKernelContext): QuantParams {
  const q = readQuant(ctx.node);
  return { scale: q.scale, zeroPoint: q.zeroPoint, signed: q.qmin < 0 };
}

interface Out { y: GpuTensor; bias: GpuTensor | undefined; z: GpuTensor | undefined; epi: Epilogue; f16: boolean }

/** Bindings after the GEMM operands: AUX, [BIAS], [Z], Y, params; and the epilogue's functions. */
function outDecls(o: Out, first: number): string {
  let i = first;
  const d = [`@group(0) @binding(${i++}) var<storage, read> AUX: array<u32>;`];
  if (o.bias) d.push(`@group(0) @binding(${i++}) var<storage, read> BIAS: array<f32>;`);
  if (o.z) d.push(`@group(0) @binding(${i++}) var<storage, read> Z: array<f32>;`);
  d.push(`@group(0) @binding(${i++}) var<storage, read_write> Y: array<f32>;`);
  d.push(`@group(0) @binding(${i}) var<storage, read> params: array<u32>;`);
  d.push(epilogueDecls(o.epi));
  return d.join('\n');
}

/** Statements turning the corrected i32 `acc` of channel `ch` into Y[yi] (CH = channel count param). */
function outStore(o: Out): string {
  return `var v = f32(acc + offz * bitcast<i32>(AUX[CH + ch])) * bitcast<f32>(AUX[ch]);
      ${o.bias ? 'v += BIAS[ch];' : ''}
      ${epilogueApply(o.epi, o.z ? 'Z[yi]' : undefined)}
      Y[yi] = ${o.f16 ? 'f16r_(v)' : 'v'};`;
}

const outKey = (o: Out) => `${o.bias ? 'b' : ''}:${epilogueKey(o.epi, !!o.z)}:${o.f16 ? 'h' : 'f'}`;
const outInputs = (o: Out, aux: GpuTensor) => [aux, ...(o.bias ? [o.bias] : []), ...(o.z ? [o.z] : [])];

function gemmWorkgroups(ctx: GpuKernelContext, cfg: QTileCfg, M: number, N: number, Z: number) {
  return tileChunks(Math.ceil(N / qTileN(cfg)), Math.ceil(M / qTileM(cfg)), Z, ctx.gpu.ctx.caps.maxComputeWorkgroupsPerDimension);
}

/** Implicit-GEMM QConv per group over the channel-packed input. */
async function qconvGemm(ctx: GpuKernelContext, q: QuantParams, o: Out, x: GpuTensor, pw: PackedWeights, batch: number, C: number, Mtot: number, group: number, g: G3): Promise<void> {
  const d3 = g.i[0] !== 1 || g.o[0] !== 1 || g.k[0] !== 1 || g.p[0] !== 0;
  const Cg = C / group, Mg = Mtot / group;
  const OS = prod(g.o), IS = prod(g.i);
  const M = Mg, N = batch * OS;
  let cfg = pickQTile(M, N);
  // The im2col loader gives each thread one column: TN must not exceed the thread count.
  if (qTileN(cfg) > cfg.wx * cfg.wy) cfg = { ...cfg, rn: 4 };
  if (qTileN(cfg) > cfg.wx * cfg.wy) cfg = { ...cfg, wx: cfg.wx / 2 };
  const TN = qTileN(cfg), threads = cfg.wx * cfg.wy, TKW = cfg.tkw;
  const xq = await recordQuantizePack(ctx, { x, layout: 'conv', batch, C, group, IS, q });
  const Cg4 = packedWidth({ x, layout: 'conv', batch, C, group, IS, q });
  const key = `qconv:${qCfgKey(cfg)}:${d3 ? '3d' : '2d'}:${outKey(o)}`;
  for (const ch of gemmWorkgroups(ctx, cfg, M, N, group)) {
    const p = new Params().u('M', M).u('N', N).u('K4', pw.K4).u('K4p', pw.K4p).u('zOff', ch.zOff).u('xOff', ch.xOff)
      .u('G', group).u('Cg4', Cg4).u('CH', Mtot).u('IS', IS).u('OS', OS)
      .u('IH', g.i[1]).u('IW', g.i[2]).u('OW', g.o[2]).u('KW', g.k[2]).u('KHW', g.k[1] * g.k[2])
      .u('sh', g.s[1]).u('sw', g.s[2]).u('dh', g.d[1]).u('dw', g.d[2]).u('ph', g.p[1]).u('pw', g.p[2])
      .i('offz', qOff(q) - q.zeroPoint).u('PADW', padWord(q));
    if (d3) p.u('ID', g.i[0]).u('OHW', g.o[1] * g.o[2]).u('sd', g.s[0]).u('dd', g.d[0]).u('pd', g.p[0]);
    epilogueParams(p, o.epi);
    const wgsl = () => qGemmShader(cfg, {
      decls: `@group(0) @binding(0) var<storage, read> XQ: array<u32>;
@group(0) @binding(1) var<storage, read> P: array<vec4<u32>>;
${outDecls(o, 2)}
${o.f16 ? QUANT_FN : ''}
var<workgroup> kOff: array<u32, ${TKW}>;
var<workgroup> kY: array<u32, ${TKW}>;
var<workgroup> kX: array<u32, ${TKW}>;
${d3 ? `var<workgroup> kZ: array<u32, ${TKW}>;` : ''}`,
      lets: p.wgsl,
      setup: `let pOff = z * M * K4p;
  let nl = t % ${TN}u;
  let gn = n0 + nl;
  let nOk = gn < N;
  let bi = gn / OS; let pix = gn - bi * OS;
  ${d3 ? 'let oz = pix / OHW; let pxy = pix - oz * OHW; let iz0 = oz * sd - pd;' : 'let pxy = pix;'}
  let oy = pxy / OW; let ox = pxy - oy * OW;
  let iy0 = oy * sh - ph; let ix0 = ox * sw - pw; // may wrap below 0: caught by the unsigned bounds test
  let xb = ((bi * G + z) * IS + ${d3 ? '(iz0 * IH + iy0) * IW' : 'iy0 * IW'} + ix0) * Cg4;`,
      // Decode of the block's k words (tap, channel word) once per workgroup; words past K4 get a
      // row offset no input has, so they load the padding word (their weights are 0 anyway).
      pre: `if (t < ${TKW}u) {
      let gk = k0 + t;
      let tap = gk / Cg4; let cw = gk - tap * Cg4;
      ${d3 ? 'let kz = tap / KHW; let rxy = tap - kz * KHW; kZ[t] = kz * dd;' : 'let rxy = tap;'}
      let ky = rxy / KW; let kx = rxy - ky * KW;
      kY[t] = select(0x40000000u, ky * dh, gk < K4); kX[t] = kx * dw;
      kOff[t] = (${d3 ? 'kz * dd * IH * IW + ' : ''}ky * dh * IW + kx * dw) * Cg4 + cw;
    }`,
      loadQ: `for (var ps = 0u; ps < ${(TKW * TN) / threads}u; ps++) {
      let kl = t / ${TN}u + ps * ${threads / TN}u;
      var v = PADW;
      if (nOk) {
        ${d3 ? 'let iz = iz0 + kZ[kl];' : ''}
        let iy = iy0 + kY[kl]; let ix = ix0 + kX[kl];
        if (${d3 ? 'iz < ID && ' : ''}iy < IH && ix < IW) { v = XQ[xb + kOff[kl]]; }
      }
      Qs[kl * ${TN / 4}u + nl / 4u][nl % 4u] = v;
    }`,
      store: `let sb = n / OS; let sp = n - sb * OS; let ch = z * M + m;
      let yi = (sb * CH + ch) * OS + sp;
      ${outStore(o)}`,
    });
    await ctx.gpu.run({ name: 'QConv', cacheKey: key, wgsl, inputs: [xq, pw.w, ...outInputs(o, pw.aux)], outputs: [o.y], params: p.values, workgroups: ch.wg });
  }
  ctx.gpu.release(xq);
}

/** Depthwise QConv (one input channel per group), 1-D / 2-D: one thread per output, taps quantized on the fly. */
async function qconvDepthwise(ctx: GpuKernelContext, q: QuantParams, o: Out, x: GpuTensor, w: GpuTensor, aux: GpuTensor, C: number, Mtot: number, g: G3): Promise<void> {
  const OS = g.o[1] * g.o[2], total = o.y.size;
  const p = new Params().u('total', total).u('CH', Mtot).u('Mg', Mtot / C).u('C', C).u('OS', OS).u('OW', g.o[2])
    .u('IH', g.i[1]).u('IW', g.i[2]).u('KH', g.k[1]).u('KW', g.k[2])
    .u('sh', g.s[1]).u('sw', g.s[2]).u('dh', g.d[1]).u('dw', g.d[2]).u('ph', g.p[1]).u('pw', g.p[2]).i('offz', 0);
  const [lo, hi] = q.signed ? [-128, 127] : [0, 255];
  p.f('xs', q.scale).f('zpf', q.zeroPoint).f('qlo', lo).f('qhi', hi);
  epilogueParams(p, o.epi);
  await ctx.gpu.run({
    name: 'QConv(depthwise)',
    cacheKey: `qconvdw:${outKey(o)}`,
    wgsl: () => `@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read> W: array<i32>;
${outDecls(o, 2)}
${QUANT_FN}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let yi = flatIndex(gid, nwg);
  ${p.wgsl}
  if (yi >= total) { return; }
  let plane = yi / OS; let pix = yi - plane * OS;
  let ch = plane % CH; let b = plane / CH;
  let oy = pix / OW; let ox = pix - oy * OW;
  let xb = (b * C + ch / Mg) * IH * IW;
  let wb = ch * KH * KW;
  let iy0 = oy * sh - ph; let ix0 = ox * sw - pw; // may wrap below 0: caught by the unsigned bounds test
  var acc = 0i;
  for (var ky = 0u; ky < KH; ky++) {
    let iy = iy0 + ky * dh;
    if (iy >= IH) { continue; }
    for (var kx = 0u; kx < KW; kx++) {
      let ix = ix0 + kx * dw;
      if (ix < IW) { acc += (i32(quant_(X[xb + iy * IW + ix], xs, zpf, qlo, qhi)) - i32(zpf)) * W[wb + ky * KW + kx]; }
    }
  }
  ${outStore(o)}
}`,
    inputs: [x, w, ...outInputs(o, aux)], outputs: [o.y], params: p.values, workgroups: grid(total),
  });
}

/** QGemm / QMatMul: rows of X (all leading axes folded) times the packed weights. */
async function qmatmul(ctx: GpuKernelContext, q: QuantParams, o: Out, x: GpuTensor, pw: PackedWeights, R: number, K: number): Promise<void> {
  const CH = pw.rows;
  // GEMM rows (P) are the channels, columns (Q) the activation rows: Y[j, i] at j * CH + i.
  const cfg = pickQTile(CH, R);
  const job = { x, layout: 'rows' as const, batch: R, C: K, group: 1, IS: 1, q };
  const xq = await recordQuantizePack(ctx, job);
  const K4s = packedWidth(job);
  const key = `qmm:${qCfgKey(cfg)}:${outKey(o)}`;
  for (const ch of gemmWorkgroups(ctx, cfg, CH, R, 1)) {
    const p = new Params().u('M', CH).u('N', R).u('K4p', pw.K4p).u('zOff', ch.zOff).u('xOff', ch.xOff)
      .u('CH', CH).u('K4s', K4s).i('offz', qOff(q) - q.zeroPoint);
    epilogueParams(p, o.epi);
    const wgsl = () => qGemmShader(cfg, {
      decls: `@group(0) @binding(0) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> P: array<vec4<u32>>;
${outDecls(o, 2)}
${o.f16 ? QUANT_FN : ''}`,
      lets: p.wgsl,
      setup: 'let pOff = 0u;',
      loadQ: rowsLoadQ(cfg, 'XQ', 'K4s', 'K4s'),
      store: `let ch = m; let yi = n * CH + m;
      ${outStore(o)}`,
    });
    await ctx.gpu.run({ name: ctx.node.opType, cacheKey: key, wgsl, inputs: [xq, pw.w, ...outInputs(o, pw.aux)], outputs: [o.y], params: p.values, workgroups: ch.wg });
  }
  ctx.gpu.release(xq);
}

function hostOf(ctx: GpuKernelContext, i: number, what: string) {
  const h = ctx.host(i);
  if (!h) throw new Error(`${ctx.node.opType}: ${what} must be available on the host`);
  return h;
}

function qKernel(conv: boolean): GpuKernel {
  return {
    // W and W_scale are read on the host: packed (and folded into the multipliers) once, never uploaded as is.
    hostInputs: [1, 2],
    unsupported(node, inputs, _outputs, caps) {
      if (!caps.dot4I8Packed) return `${node.opType} needs WGSL dot4I8Packed (packed_4x8_integer_dot_product), which this adapter lacks`;
      const x = inputs[0];
      if (!x || (x.dtype !== 'float32' && x.dtype !== 'float16')) return `${node.opType} on ${x?.dtype} is not implemented on WebGPU`;
      if (conv) {
        const r = (x.shape?.length ?? 0) - 2;
        if (r < 1 || r > 3) return `${node.opType} over ${r} spatial axes is not implemented on WebGPU`;
      }
      const e = readEpilogue(node);
      return actSupported(e.act) && actSupported(e.post) ? undefined : `${node.opType}: activation not implemented on WebGPU`;
    },
    async run(ctx) {
      const x = ctx.inputs[0]!;
      const w = hostOf(ctx, 1, 'W'), ws = hostOf(ctx, 2, 'W_scale');
      const yDims = outDims(ctx);
      const o: Out = { y: ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, yDims), bias: ctx.inputs[3], z: ctx.inputs[4], epi: readEpilogue(ctx.node), f16: ctx.outputTypes[0]!.dtype === 'float16' };
      if (o.y.size === 0) return [o.y];
      const q = quantOf(ctx);
      const device = ctx.gpu.device;
      if (conv) {
        const base = qBaseNode(ctx.node);
        const rank = x.dims.length - 2;
        const g = geom3(forwardGeom(readWindowAttrs(base, rank, w.dims.slice(2)), x.dims.slice(2)));
        const group = groupAttr(base), C = x.dims[1]!, Mtot = yDims[1]!;
        if (C / group === 1 && group > 1 && rank <= 2) {
          const dw = depthwiseWeights(device, w, ws, q.scale);
          await qconvDepthwise(ctx, q, o, x, dw.w, dw.aux, C, Mtot, g);
        } else {
          await qconvGemm(ctx, q, o, x, packConvWeights(device, w, ws, q.scale, QTKW), x.dims[0]!, C, Mtot, group, g);
        }
      } else {
        const transB = ctx.node.opType === 'QGemm' && attrInt(ctx.node, 'transB', 0) === 1;
        const K = x.dims[x.dims.length - 1]!;
        if (w.dims[qChannelAxis(ctx.node) === 0 ? 1 : 0] !== K) throw new Error(`${ctx.node.opType}: W [${w.dims.join(',')}] does not match K = ${K}`);
        await qmatmul(ctx, q, o, x, packGemmWeights(device, w, transB, ws, q.scale, QTKW), x.size / K, K);
      }
      return [o.y];
    },
  };
}

export const kernels = {
  'twinfer.QConv': qKernel(true),
  'twinfer.QGemm': qKernel(false),
  'twinfer.QMatMul': qKernel(false),
};
