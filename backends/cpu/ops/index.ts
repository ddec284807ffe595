/** All CPU kernels, merged from one file per op family (keys as in src/ir/ops/index.ts). */
import type { CpuKernel, KernelRegistry } from '../kernel.js';
import { kernels as elementwise } from './elementwise.js';
import { kernels as convgemm } from './convgemm.js';
import { kernels as normalization } from './normalization.js';
import { kernels as tensor } from './tensor.js';
import { kernels as reduction } from './reduction.js';
import { kernels as quant } from './quant.js';
import { kernels as sequence } from './sequence.js';
import { kernels as fused } from './fused.js';
import { kernels as qfused } from './qfused.js';

export const CPU_KERNELS: KernelRegistry = {
  ...elementwise, ...convgemm, ...normalization, ...tensor, ...reduction, ...quant, ...sequence, ...fused, ...qfused,
};

export function findCpuKernel(key: string): CpuKernel | undefined {
  return Object.prototype.hasOwnProperty.call(CPU_KERNELS, key) ? CPU_KERNELS[key] : undefined;
}
