/**
 * The convolution / matrix-product / pooling family on WebGPU (registry; kernels live in
 * convgemm-*.ts): tiled GEMM for MatMul and Gemm, implicit-GEMM, pointwise and depthwise Conv,
 * direct ConvTranspose, direct pools, and the optimizer's fused forms with their epilogues.
 * Einsum is left to the CPU.
 */
import type { GpuKernelRegistry } from '../kernel.js';
import { matmulKernels } from './convgemm-matmul.js';
import { convKernels } from './convgemm-conv.js';
import { convTransposeKernels } from './convgemm-convt.js';
import { poolKernels } from './convgemm-pool.js';

export const kernels: GpuKernelRegistry = {
  ...matmulKernels,
  ...convKernels,
  ...convTransposeKernels,
  ...poolKernels,
};
