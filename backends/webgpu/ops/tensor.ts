/** WebGPU kernels of the tensor (data movement) family, merged from tensor-*.ts (one file per topic). */
import type { GpuKernelRegistry } from '../kernel.js';
import { kernels as layout } from './tensor-layout.js';
import { kernels as transpose } from './tensor-transpose.js';
import { kernels as index } from './tensor-index.js';
import { kernels as scatter } from './tensor-scatter.js';
import { kernels as source } from './tensor-source.js';
import { kernels as misc } from './tensor-misc.js';

// NonZero (data-dependent output size) has no kernel: it runs on the CPU.
export const kernels: GpuKernelRegistry = { ...layout, ...transpose, ...index, ...scatter, ...source, ...misc };
