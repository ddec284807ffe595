/**
 * CPU kernels of the optimizer's fused ops: the base op's kernel, then the epilogue in place.
 * The reference for every backend's fused kernels; not where CPU speed comes from.
 */
import { HostTensor } from '../../../src/ir/tensor.js';
import { baseNode } from '../../../src/ir/ops/fused.js';
import type { CpuKernel, KernelContext, KernelRegistry } from '../kernel.js';
import { runConvGemmFused } from './convgemm.js';
import { addInPlace, applyActivation } from '../epilogue.js';

function transposeLast(t: HostTensor): HostTensor {
  const r = t.rank, R = t.dims[r - 2]!, C = t.dims[r - 1]!, batch = t.size / (R * C || 1);
  const dims = t.dims.slice(); dims[r - 2] = C; dims[r - 1] = R;
  const out = new HostTensor(t.dtype, dims);
  const s = t.numbers, d = out.numbers;
  for (let b = 0; b < batch; b++) for (let i = 0; i < R; i++) for (let j = 0; j < C; j++) d[b * R * C + j * R + i] = s[b * R * C + i * C + j]!;
  return out;
}

function fusedKernel(base: string, baseInputs: number): CpuKernel {
  return (ctx: KernelContext) => {
    const node = ctx.node;
    let inputs = ctx.inputs.slice(0, base === 'MatMul' ? 2 : baseInputs);
    if (base === 'MatMul') {
      inputs = [
        inputs[0] && node.attrs['transA'] === 1 ? transposeLast(inputs[0]) : inputs[0],
        inputs[1] && node.attrs['transB'] === 1 ? transposeLast(inputs[1]) : inputs[1],
      ];
    }
    const act = [node.attrs['activation'] as string | undefined, (node.attrs['activation_params'] as number[] | undefined) ?? []] as const;
    const post = [node.attrs['post_activation'] as string | undefined, (node.attrs['post_activation_params'] as number[] | undefined) ?? []] as const;
    const z = ctx.inputs[baseInputs];
    // The GEMM applies what it can of the chain in its store; the rest runs here, in order.
    const chain = z ? [act] : [act, post];
    const bias = base === 'MatMul' ? ctx.inputs[2] : undefined;
    const { y, applied } = runConvGemmFused(base, { node: baseNode(node), inputs, outputTypes: ctx.outputTypes }, chain, bias);
    const data = y.numbers;
    for (let k = applied; k < chain.length; k++) applyActivation(data, chain[k]![0], chain[k]![1]);
    if (z) {
      addInPlace(data, z.numbers);
      applyActivation(data, post[0], post[1]);
    }
    return [y];
  };
}

export const kernels: KernelRegistry = {
  'twinfer.FusedConv': fusedKernel('Conv', 3),
  'twinfer.FusedConvTranspose': fusedKernel('ConvTranspose', 3),
  'twinfer.FusedGemm': fusedKernel('Gemm', 3),
  'twinfer.FusedMatMul': fusedKernel('MatMul', 3),
};
