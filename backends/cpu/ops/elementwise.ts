/** CPU kernels of the element-wise family (schemas in src/ir/ops/elementwise.ts). */
import type { KernelRegistry } from '../kernel.js';
import { unaryKernels } from '../elementwise-unary.js';
import { binaryKernels } from '../elementwise-binary.js';
import { castKernels } from '../elementwise-cast.js';

export const kernels: KernelRegistry = { ...unaryKernels, ...binaryKernels, ...castKernels };
