/** Whether a node can run on WebGPU, and why not: the kernel exists, every tensor has a GPU form. */
import type { Node, ValueType } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import { schemaKey } from '../../src/ir/ops/index.js';
import type { GpuCaps } from './device.js';
import { findGpuKernel } from './ops/index.js';
import { gpuElemOf } from './tensor.js';

export type Support = { ok: true } | { ok: false; reason: string };

export function gpuSupports(node: Node, inputs: (ValueType | undefined)[], outputs: (ValueType | undefined)[], caps: GpuCaps, constant?: (i: number) => HostTensor | undefined): Support {
  const key = schemaKey(node.domain, node.opType);
  const k = findGpuKernel(key);
  if (!k) return { ok: false, reason: `no WebGPU kernel for ${key}` };
  const host = new Set([...(k.hostInputs ?? []), ...(k.dimsOnlyInputs ?? [])]);
  for (let i = 0; i < inputs.length; i++) {
    const t = inputs[i];
    if (t && !host.has(i) && !gpuElemOf(t.dtype)) return { ok: false, reason: `input ${i} is ${t.dtype}, which has no WebGPU form` };
  }
  for (const t of outputs) if (t && !gpuElemOf(t.dtype)) return { ok: false, reason: `output type ${t.dtype} has no WebGPU form` };
  const why = k.unsupported?.(node, inputs, outputs, caps, constant);
  return why ? { ok: false, reason: why } : { ok: true };
}
