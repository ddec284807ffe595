import type { KernelRegistry } from '../kernel.js';

export const kernels: KernelRegistry = {};
