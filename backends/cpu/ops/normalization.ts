/**
 * CPU kernels of the normalization family (schemas: src/ir/ops/normalization*.ts). Each kernel lives in
 * a topic file: statistics-based norms, the softmax family, resize, and data-movement ops (pad, depth/space).
 */
import type { KernelRegistry } from '../kernel.js';
import {
  batchNormalization, groupNormalization, instanceNormalization, layerNormalization, lpNormalization, lrn,
  meanVarianceNormalization,
} from '../normalization-norms.js';
import { hardmax, logSoftmax, softmax } from '../normalization-softmax.js';
import { resize } from '../normalization-resize.js';
import { depthToSpace, pad, spaceToDepth } from '../normalization-layout.js';

export const kernels: KernelRegistry = {
  BatchNormalization: batchNormalization,
  InstanceNormalization: instanceNormalization,
  LayerNormalization: layerNormalization,
  GroupNormalization: groupNormalization,
  LpNormalization: lpNormalization,
  MeanVarianceNormalization: meanVarianceNormalization,
  LRN: lrn,
  Softmax: softmax,
  LogSoftmax: logSoftmax,
  Hardmax: hardmax,
  Resize: resize,
  DepthToSpace: depthToSpace,
  SpaceToDepth: spaceToDepth,
  Pad: pad,
};
