/**
 * Miscellaneous WebGPU kernels: quantization (misc-quant.ts) and Einsum (misc-einsum.ts).
 * LSTM/GRU, NonMaxSuppression and the integer compute ops (QLinear*, MatMulInteger, ConvInteger)
 * stay on the CPU: they are not registered here.
 */
import type { GpuKernelRegistry } from '../kernel.js';
import { einsumKernel } from './misc-einsum.js';
import { kernels as quant } from './misc-quant.js';

export const kernels: GpuKernelRegistry = { ...quant, Einsum: einsumKernel };
