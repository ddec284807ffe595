/**
 * The convolution / matrix-product / pooling family on WebGPU (registry; kernels live in
 * convgemm-*.ts): tiled GEMM for MatMul and Gemm, implicit-GEMM and depthwise Conv, direct
 * ConvTranspose, direct pools, and the optimizer's fused forms with their epilogues.
 */
import type { GpuKernelRegistry } from '../kernel.js';
import { matmulKernels } from './convgemm-matmul.js';

export const kernels: GpuKernelRegistry = {
  ...matmulKernels,
};
