/**
 * The CUDA kernel contract, after the WebGPU one (backends/webgpu/kernel.ts): device-resident
 * inputs, output types already inferred by the IR; a kernel allocates its outputs and launches
 * native kernels by name with flat parameter lists (the Step shape of the static program).
 */
import type { Node, ValueType } from '../../src/ir/graph.js';
import type { DType } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import type { CudaContext } from './device.js';
import type { CudaTensor } from './tensor.js';

/** What a kernel may ask of the executor while it runs. */
export interface CudaRunner {
  readonly cuda: CudaContext;
  /** A device tensor from the executor's pool (float32 unless told; `packed`: the float16 NHWC form, tensor.ts). */
  alloc(dims: readonly number[], dtype?: DType, packed?: boolean): CudaTensor;
  /**
   * The packed form of a plain float16 4-D tensor (one nchwToNhwcHalf launch; a packed tensor is
   * returned as it is). A weight's is made once and kept for the session, so a filter is laid out
   * for cuDNN on the first run only.
   */
  pack(t: CudaTensor): CudaTensor;
  /** The plain form of a packed tensor (one nhwcHalfToNchw launch, made once per value and run); a plain tensor as it is. */
  plain(t: CudaTensor): CudaTensor;
  /** The same device memory under other dims (Reshape and kin): no copy, the buffer lives while any view does. */
  view(t: CudaTensor, dims: readonly number[]): CudaTensor;
  /** A run-scoped device copy of host values (tap tables, small computed tensors). */
  upload(h: HostTensor): CudaTensor;
  /** Queues a native kernel on the context's stream; absent optional tensors are undefined. */
  launch(kernel: string, ints: readonly number[], floats: readonly number[], bindings: readonly (CudaTensor | undefined)[]): void;
  /** Function code of a unary function / activation in the addon's table (throws when unknown). */
  fn(name: string): number;
}

export interface CudaKernelContext {
  node: Node;
  /** One per node input (undefined where omitted, or where the input is in hostInputs). */
  inputs: (CudaTensor | undefined)[];
  /** Host copy of input i (always there for hostInputs). */
  host(i: number): HostTensor | undefined;
  /** Concrete output types from the op schema. */
  outputTypes: ValueType[];
  /** The opset of the node's domain. */
  opset: number;
  cuda: CudaRunner;
}

export interface CudaKernel {
  /** Inputs read on the host (Clip's min / max ...): never uploaded. */
  hostInputs?: readonly number[];
  /**
   * Inputs the kernel takes in the packed float16 form when they come in it (tensor.ts); every
   * other input is handed over plain (the executor converts it). Such a kernel decides for itself
   * whether to keep the packed form (runner.plain / runner.pack).
   */
  packedInputs?: readonly number[];
  /**
   * Why this node cannot run on CUDA (undefined when it can). Types are the inferred ones; the
   * backend has already checked that every device tensor has a device form (tensor.ts). `have`
   * says whether the addon has a kernel or function of that name; `constant(i)` is input i's value
   * when it is a constant (undefined otherwise).
   */
  unsupported?(node: Node, inputs: (ValueType | undefined)[], outputs: (ValueType | undefined)[], have: (name: string) => boolean, constant?: (i: number) => HostTensor | undefined): string | undefined;
  run(ctx: CudaKernelContext): (CudaTensor | undefined)[];
}

export type CudaKernelRegistry = Record<string, CudaKernel>;

export function outDims(ctx: CudaKernelContext, i = 0): number[] {
  const s = ctx.outputTypes[i]?.shape;
  if (!s || s.some((d) => typeof d !== 'number')) throw new Error(`output ${i} of ${ctx.node.opType} has no concrete shape`);
  return s as number[];
}

export function din(ctx: CudaKernelContext, i: number): CudaTensor {
  const t = ctx.inputs[i];
  if (!t) throw new Error(`${ctx.node.opType}: input ${i} is required on the device`);
  return t;
}
