/**
 * WebGPU kernels of the normalization family, one topic file each: row-reduction norms and the
 * element-wise BatchNormalization / LRN (normalization-norms.ts), the softmax family, Resize, and
 * the data-movement ops Pad / DepthToSpace / SpaceToDepth (normalization-layout.ts).
 */
import type { GpuKernelRegistry } from '../kernel.js';
import { kernels as norms } from './normalization-norms.js';
import { kernels as softmax } from './normalization-softmax.js';
import { kernels as resize } from './normalization-resize.js';
import { kernels as layout } from './normalization-layout.js';

export const kernels: GpuKernelRegistry = { ...norms, ...softmax, ...resize, ...layout };
