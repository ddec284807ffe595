/** Winograd F(2x2, 3x3) for 3x3 stride-1 convolutions on WebGPU (not yet: always declines). */
import type { GpuKernelContext } from '../kernel.js';
import type { ConvJob } from './convgemm-conv.js';

export async function tryWinograd(_ctx: GpuKernelContext, _job: ConvJob): Promise<boolean> {
  return false;
}
