/** Whether a node can run on CUDA, and why not: the kernel exists, every device tensor is float32. */
import type { Node, ValueType } from '../../src/ir/graph.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import type { CudaContext } from './device.js';
import { findCudaKernel } from './ops.js';

export type Support = { ok: true } | { ok: false; reason: string };

/** The op types with a CUDA kernel in this build (keys as in src/ir/ops/index.ts). */
export { CUDA_KERNELS } from './ops.js';

export function cudaSupports(node: Node, inputs: (ValueType | undefined)[], outputs: (ValueType | undefined)[], cuda: Pick<CudaContext, 'fn' | 'kernels'>): Support {
  const key = schemaKey(node.domain, node.opType);
  const k = findCudaKernel(key);
  if (!k) return { ok: false, reason: `no CUDA kernel for ${key}` };
  const host = new Set(k.hostInputs ?? []);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (t && !host.has(i) && t.dtype !== 'float32') return { ok: false, reason: `input ${i} is ${t.dtype} (float32 only on CUDA so far)` };
  }
  for (const t of outputs) if (t && t.dtype !== 'float32') return { ok: false, reason: `output type ${t.dtype} (float32 only on CUDA so far)` };
  const have = (name: string) => cuda.kernels.has(name) || cuda.fn.has(name);
  const why = k.unsupported?.(node, inputs, outputs, have);
  return why ? { ok: false, reason: why } : { ok: true };
}
