import type { GpuKernelRegistry } from '../kernel.js';

export const kernels: GpuKernelRegistry = {};
