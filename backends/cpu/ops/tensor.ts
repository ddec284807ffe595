/** CPU kernels of the tensor family, merged from backends/cpu/tensor-*.ts (one file per topic). */
import type { KernelRegistry } from '../kernel.js';
import { kernels as layout } from '../tensor-layout.js';
import { kernels as index } from '../tensor-index.js';
import { kernels as misc } from '../tensor-misc.js';

export const kernels: KernelRegistry = {
  ...layout, ...index, ...misc,
  // Scatter (opset 9-10) is upgraded to ScatterElements at import; kept for graphs built in code.
  Scatter: index.ScatterElements!,
};
