/**
 * Data-movement ops of the family on WebGPU (semantics: backends/cpu/normalization-layout.ts): Pad,
 * DepthToSpace, SpaceToDepth. One thread per output element gathers its source; values are never
 * inspected, so every GPU element type works.
 */
import { attrInt, attrString } from '../../../src/ir/graph.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import { fullPads } from '../../../src/ir/ops/normalization-pad.js';
import type { GpuKernel, GpuKernelContext, GpuKernelRegistry } from '../kernel.js';
import { gin, outDims } from '../kernel.js';
import { bindings, f32Bits } from '../program.js';
import { ewGrid, ewMain } from './normalization-ew.js';
import type { GpuTensor } from '../tensor.js';

/** Records out0[i] = <body> for every output index i (body sets `out0[i]` from `in0`). */
async function gather(ctx: GpuKernelContext, name: string, key: string, x: GpuTensor, y: GpuTensor, params: number[], body: string): Promise<void> {
  await ctx.gpu.run({
    name, cacheKey: `norm-${key}:${x.elem}`,
    wgsl: () => `${bindings([x.elem], [y.elem])}
${ewMain(`  ${body}`)}`,
    inputs: [x], outputs: [y], params: [y.size, ...params], workgroups: ewGrid(ctx, y.size),
  });
}

/**
 * Pad: per axis, the window [lo, lo + m) left after cropping (negative pads) is padded by pb in
 * front; an output index maps to lo + p with p = o - pb folded into [0, m) by the mode (integer
 * arithmetic, as the CPU's axis maps). Parameters per axis: out stride, in stride, lo, m, pb.
 */
const pad: GpuKernel = {
  hostInputs: [1, 2, 3],
  async run(ctx) {
    const x = gin(ctx, 0);
    const r = x.dims.length;
    const mode = attrString(ctx.node, 'mode', 'constant');
    const pads = fullPads(r, ctx.host(1)!.toNumberArray(), ctx.host(3)?.toNumberArray());
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    if (y.size === 0) return [y];
    const cv = ctx.host(2);
    const v = mode === 'constant' && cv && cv.size > 0 ? cv.num(0) : 0;
    const bits = x.elem === 'f32' ? f32Bits(v) : Math.trunc(v) >>> 0;
    const os = stridesOf(y.dims), is = stridesOf(x.dims);
    const axes: number[] = [];
    for (let a = 0; a < r; a++) {
      const lo = Math.max(0, -pads[a]!);
      const m = x.dims[a]! - lo - Math.max(0, -pads[r + a]!);
      if (m <= 0 && mode !== 'constant' && y.dims[a]! > 0) throw new Error(`Pad: ${mode} mode cannot pad an axis cropped to nothing`);
      axes.push(os[a]!, is[a]!, lo, m, Math.max(0, pads[a]!));
    }
    const fold = {
      constant: 'fill = true; break;',
      edge: 'p = select(m - 1, 0, p < 0);',
      wrap: 'p = ((p % m) + m) % m;',
      reflect: 'if (m == 1) { p = 0; } else { let per = 2 * (m - 1); p = ((p % per) + per) % per; if (p >= m) { p = per - p; } }',
    }[mode];
    if (!fold) throw new Error(`Pad: unknown mode ${mode}`);
    await gather(ctx, 'Pad', `pad-${mode}`, x, y, [r, bits, ...axes], `
  let r = params[1];
  var rem = i; var src = 0u; var fill = false;
  for (var a = 0u; a < r; a++) {
    let q = 5u * a + 3u;
    let o = i32(rem / params[q]); rem = rem % params[q];
    let lo = i32(params[q + 2u]); let m = bitcast<i32>(params[q + 3u]);
    var p = o - i32(params[q + 4u]);
    if (p < 0 || p >= m) { ${fold} }
    src += u32(lo + p) * params[q + 1u];
  }
  ${mode === 'constant' ? `out0[i] = select(in0[select(src, 0u, fill)], bitcast<${y.elem}>(params[2]), fill);` : 'out0[i] = in0[src];'}`);
    return [y];
  },
};

/** y[b, ch, hh*bs + i, ww*bs + j] = x[b, DCR ? (i*bs + j)*oc + ch : ch*bs*bs + i*bs + j, hh, ww]. */
const depthToSpace: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const bs = attrInt(ctx.node, 'blocksize', 1);
    const crd = attrString(ctx.node, 'mode', 'DCR') === 'CRD';
    const [, c, h, w] = x.dims as [number, number, number, number];
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    await gather(ctx, 'DepthToSpace', `d2s-${crd ? 'crd' : 'dcr'}`, x, y, [bs, c, h, w], `
  let bs = params[1]; let C = params[2]; let H = params[3]; let W = params[4];
  let oc = C / (bs * bs); let OW = W * bs; let OH = H * bs;
  let ox = i % OW; let oy = (i / OW) % OH; let ch = (i / (OW * OH)) % oc; let b = i / (OW * OH * oc);
  let bi = oy % bs; let bj = ox % bs;
  let ic = ${crd ? 'ch * bs * bs + bi * bs + bj' : '(bi * bs + bj) * oc + ch'};
  out0[i] = in0[((b * C + ic) * H + oy / bs) * W + ox / bs];`);
    return [y];
  },
};

/** y[b, (i*bs + j)*c + ch, hh, ww] = x[b, ch, hh*bs + i, ww*bs + j]. */
const spaceToDepth: GpuKernel = {
  async run(ctx) {
    const x = gin(ctx, 0);
    const bs = attrInt(ctx.node, 'blocksize', 1);
    const [, c, h, w] = x.dims as [number, number, number, number];
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    await gather(ctx, 'SpaceToDepth', 's2d', x, y, [bs, c, h, w], `
  let bs = params[1]; let C = params[2]; let H = params[3]; let W = params[4];
  let OW = W / bs; let OH = H / bs; let OC = C * bs * bs;
  let ww = i % OW; let hh = (i / OW) % OH; let oc = (i / (OW * OH)) % OC; let b = i / (OW * OH * OC);
  let blk = oc / C; let ch = oc % C;
  out0[i] = in0[((b * C + ch) * H + hh * bs + blk / bs) * W + ww * bs + blk % bs];`);
    return [y];
  },
};

export const kernels: GpuKernelRegistry = { Pad: pad, DepthToSpace: depthToSpace, SpaceToDepth: spaceToDepth };
