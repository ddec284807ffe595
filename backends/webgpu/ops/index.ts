/** All WebGPU kernels, merged from one file per op family (keys as in src/ir/ops/index.ts). */
import type { GpuKernel, GpuKernelRegistry } from '../kernel.js';
import { kernels as unary } from './unary.js';
import { kernels as binary } from './binary.js';
import { kernels as convgemm } from './convgemm.js';
import { kernels as normalization } from './normalization.js';
import { kernels as tensor } from './tensor.js';
import { kernels as reduction } from './reduction.js';
import { kernels as misc } from './misc.js';
import { kernels as qfused } from './qfused.js';

export const GPU_KERNELS: GpuKernelRegistry = { ...unary, ...binary, ...convgemm, ...normalization, ...tensor, ...reduction, ...misc, ...qfused };

export function findGpuKernel(key: string): GpuKernel | undefined {
  return Object.prototype.hasOwnProperty.call(GPU_KERNELS, key) ? GPU_KERNELS[key] : undefined;
}
