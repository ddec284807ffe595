/**
 * Whether a node can run on CUDA, and why not: the kernel exists, every device tensor has a device
 * form (backends/native/tensor.ts), and the kernel accepts the node (its dtypes, attributes, ranks).
 */
import type { Node, ValueType } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import type { CudaContext } from './device.js';
import { findCudaKernel } from './ops.js';
import { deviceElemSize } from './tensor.js';

export type Support = { ok: true } | { ok: false; reason: string };

/** The op types with a CUDA kernel in this build (keys as in src/ir/ops/index.ts). */
export { CUDA_KERNELS } from './ops.js';

export function cudaSupports(node: Node, inputs: (ValueType | undefined)[], outputs: (ValueType | undefined)[], cuda: Pick<CudaContext, 'fn' | 'kernels'>, constant?: (i: number) => HostTensor | undefined): Support {
  const key = schemaKey(node.domain, node.opType);
  const k = findCudaKernel(key);
  if (!k) return { ok: false, reason: `no CUDA kernel for ${key}` };
  const host = new Set(k.hostInputs ?? []);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (t && !host.has(i) && !deviceElemSize(t.dtype)) return { ok: false, reason: `input ${i} is ${t.dtype}, which has no CUDA device form` };
  }
  for (const t of outputs) if (t && !deviceElemSize(t.dtype)) return { ok: false, reason: `output type ${t.dtype} has no CUDA device form` };
  const have = (name: string) => cuda.kernels.has(name) || cuda.fn.has(name);
  const why = k.unsupported?.(node, inputs, outputs, have, constant);
  return why ? { ok: false, reason: why } : { ok: true };
}
