/** The CPU kernel contract: inputs in host memory, output shapes already inferred by the IR. */
import type { Node, ValueType } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';

export interface KernelContext {
  node: Node;
  /** One per node input; undefined where an optional input was omitted. */
  inputs: (HostTensor | undefined)[];
  /**
   * One per node output, from the op schema run on the concrete inputs. Dims are numbers except
   * for data-dependent sizes (NonZero, NonMaxSuppression, ...), which stay symbolic strings and
   * which the kernel then determines itself.
   */
  outputTypes: ValueType[];
}

/** Returns one tensor per node output (undefined for an omitted optional output is allowed). */
export type CpuKernel = (ctx: KernelContext) => (HostTensor | undefined)[];
export type KernelRegistry = Record<string, CpuKernel>;

/** Concrete dims of output i (throws if inference left it symbolic). */
export function outDims(ctx: KernelContext, i = 0): number[] {
  const s = ctx.outputTypes[i]?.shape;
  if (!s || s.some((d) => typeof d !== 'number')) {
    throw new Error(`output ${i} of ${ctx.node.opType} has no concrete shape`);
  }
  return s as number[];
}

/** Input i, which must be present. */
export function input(ctx: KernelContext, i: number): HostTensor {
  const t = ctx.inputs[i];
  if (!t) throw new Error(`${ctx.node.opType}: input ${i} is required`);
  return t;
}
