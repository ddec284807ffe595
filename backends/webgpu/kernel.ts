/** The WebGPU kernel contract: GPU-resident inputs, output types already inferred by the IR. */
import type { Node, ValueType } from '../../src/ir/graph.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import type { GpuCaps } from './device.js';
import type { GpuRunner } from './runner.js';
import type { GpuTensor } from './tensor.js';

export interface GpuKernelContext {
  node: Node;
  /** One per node input (undefined where omitted, or where the input is listed in hostInputs). */
  inputs: (GpuTensor | undefined)[];
  /** Host copy of input i when there is one (always for hostInputs; constants too). */
  host(i: number): HostTensor | undefined;
  /** Dims of input i (works for every input, including dimsOnlyInputs, which are never moved). */
  dims(i: number): readonly number[] | undefined;
  /** Concrete output types from the op schema. */
  outputTypes: ValueType[];
  gpu: GpuRunner;
}

export interface GpuKernel {
  /** Inputs the kernel reads on the host (shapes, axes, pads...): never uploaded. */
  hostInputs?: readonly number[];
  /** Inputs whose dims alone matter (Shape, Size): neither uploaded nor read back. */
  dimsOnlyInputs?: readonly number[];
  /**
   * Why this node cannot run on WebGPU (undefined when it can). Types are the inferred input and
   * output types; the backend has already checked that every tensor dtype has a GPU form.
   */
  unsupported?(node: Node, inputs: (ValueType | undefined)[], outputs: (ValueType | undefined)[], caps: GpuCaps, constant?: (i: number) => HostTensor | undefined): string | undefined;
  run(ctx: GpuKernelContext): Promise<(GpuTensor | undefined)[]>;
}

export type GpuKernelRegistry = Record<string, GpuKernel>;

export function outDims(ctx: GpuKernelContext, i = 0): number[] {
  const s = ctx.outputTypes[i]?.shape;
  if (!s || s.some((d) => typeof d !== 'number')) throw new Error(`output ${i} of ${ctx.node.opType} has no concrete shape`);
  return s as number[];
}

export function gin(ctx: GpuKernelContext, i: number): GpuTensor {
  const t = ctx.inputs[i];
  if (!t) throw new Error(`${ctx.node.opType}: input ${i} is required on the GPU`);
  return t;
}
