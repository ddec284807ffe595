/** The TensorRT mapper of each op (keys as in src/ir/ops/index.ts: 'Conv', 'twinfer.FusedConv'). */
import type { MapContext } from './map-context.js';
import { convGemmMappers } from './map-convgemm.js';
import { elementwiseMappers } from './map-elementwise.js';
import { nnMappers } from './map-nn.js';
import { quantMappers } from './map-quant.js';
import { tensorMappers } from './map-tensor.js';

export type TrtMapper = (ctx: MapContext) => void;

const MAPPERS: Readonly<Record<string, TrtMapper>> = {
  ...convGemmMappers, ...elementwiseMappers, ...tensorMappers, ...nnMappers, ...quantMappers,
};

export function findTrtMapper(key: string): TrtMapper | undefined {
  return Object.prototype.hasOwnProperty.call(MAPPERS, key) ? MAPPERS[key] : undefined;
}

/** Op keys with a TensorRT mapping (a node may still be refused for its attributes or types). */
export const TRT_OPS: readonly string[] = Object.keys(MAPPERS).sort();
