/**
 * Einsum on WebGPU, any equation the shared parser accepts (src/ir/ops/convgemm-einsum.ts): one
 * thread per output element walks the summed labels and multiplies the operands. Each operand gets
 * one stride per label (the sum of its axes' strides with that label, so a repeated label reads a
 * diagonal; 0 where the label is absent or broadcast), so transposes, diagonals, traces, sums and
 * batched products need no special kernels. With at most one summed label (batched matmul, inner
 * products, plain sums) the inner loop is a single strided walk. Large matmul-like equations are
 * not tiled: they are correct but not fast; MatMul itself is the fast path.
 */
import { attrString } from '../../../src/ir/graph.js';
import { einsumLabelSizes, parseEinsum } from '../../../src/ir/ops/convgemm-einsum.js';
import { stridesOf } from '../../../src/ir/tensor.js';
import type { GpuKernel } from '../kernel.js';
import { outDims } from '../kernel.js';
import { FLAT_INDEX, bindings, grid, WG } from '../program.js';
import { gpuElemOf, type GpuElem, type GpuTensor } from '../tensor.js';

function shader(k: number, e: GpuElem, oneSum: boolean): string {
  const ops = Array.from({ length: k }, (_, j) => j);
  const rec = k + 1; // per label: size, then one stride per operand
  const prod = ops.map((j) => `in${j}[o${j}]`).join(' * ');
  const sumLoop = oneSum
    ? `let sb = 4u + nOut * ${rec}u;
  for (var s = 0u; s < count; s++) {
    ${ops.map((j) => `let o${j} = b${j} + s * params[sb + ${j + 1}u];`).join(' ')}
    acc += ${prod};
  }`
    : `for (var s = 0u; s < count; s++) {
    ${ops.map((j) => `var o${j} = b${j};`).join(' ')}
    var rs = s;
    for (var l = nSum; l > 0u; l--) {
      let r = 4u + (nOut + l - 1u) * ${rec}u; let c = rs % params[r]; rs /= params[r];
      ${ops.map((j) => `o${j} += c * params[r + ${j + 1}u];`).join(' ')}
    }
    acc += ${prod};
  }`;
  return `${bindings(ops.map(() => e), [e])}
${FLAT_INDEX()}
@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let o = flatIndex(gid, nwg);
  if (o >= params[0]) { return; }
  let nOut = params[1]; let nSum = params[2]; let count = params[3];
  ${ops.map((j) => `var b${j} = 0u;`).join(' ')}
  var rem = o;
  for (var l = nOut; l > 0u; l--) {
    let r = 4u + (l - 1u) * ${rec}u; let c = rem % params[r]; rem /= params[r];
    ${ops.map((j) => `b${j} += c * params[r + ${j + 1}u];`).join(' ')}
  }
  var acc = ${e}(0);
  ${sumLoop}
  out0[o] = acc;
}`;
}

export const einsumKernel: GpuKernel = {
  unsupported(node, inputs, _outputs, caps) {
    const e = inputs[0] && gpuElemOf(inputs[0].dtype);
    if (!e || inputs.some((t) => !t || gpuElemOf(t.dtype) !== e)) return 'Einsum operands must share one GPU element type';
    if (inputs.length + 2 > caps.maxStorageBuffersPerShaderStage) return `Einsum with ${inputs.length} operands needs more storage buffers than the device has`;
    if (inputs.some((t) => !t?.shape)) return 'Einsum needs operand ranks on WebGPU';
    parseEinsum(attrString(node, 'equation', ''), inputs.map((t) => t!.shape!.length));
    return undefined;
  },
  async run(ctx) {
    const ins = ctx.inputs.filter((t): t is GpuTensor => !!t);
    const y = ctx.gpu.alloc(ctx.outputTypes[0]!.dtype, outDims(ctx));
    if (y.size === 0) return [y];
    const plan = parseEinsum(attrString(ctx.node, 'equation', ''), ins.map((t) => t.dims.length))!;
    const sizes = einsumLabelSizes(plan, ins.map((t) => t.dims));
    const all = [...new Set(plan.inputs.flat())];
    const summed = all.filter((l) => !plan.output.includes(l));
    const strides = ins.map((t) => stridesOf(t.dims));
    const record = (l: string): number[] => [
      sizes.get(l) as number,
      ...ins.map((t, j) => plan.inputs[j]!.reduce((s, lab, ax) => (lab === l && t.dims[ax]! > 1 ? s + strides[j]![ax]! : s), 0)),
    ];
    let count = 1;
    for (const l of summed) count *= sizes.get(l) as number;
    const oneSum = summed.length <= 1;
    const sumRecs = summed.length === 0 ? [[1, ...ins.map(() => 0)]] : summed.map(record);
    const params = [y.size, plan.output.length, sumRecs.length, count, ...plan.output.flatMap(record), ...sumRecs.flat()];
    const e = ins[0]!.elem;
    await ctx.gpu.run({
      name: 'Einsum',
      cacheKey: `einsum:${ins.length}:${e}:${oneSum ? 's1' : 'sn'}`,
      wgsl: () => shader(ins.length, e, oneSum),
      inputs: ins, outputs: [y], params, workgroups: grid(y.size),
    });
    return [y];
  },
};
