/** All op schemas, merged from one file per op family. A miss is an unsupported op. */
import type { OpSchema, SchemaRegistry } from '../schema.js';
import { schemas as elementwise } from './elementwise.js';
import { schemas as convgemm } from './convgemm.js';
import { schemas as normalization } from './normalization.js';
import { schemas as tensor } from './tensor.js';
import { schemas as reduction } from './reduction.js';
import { schemas as quant } from './quant.js';
import { schemas as sequence } from './sequence.js';
import { schemas as fused } from './fused.js';
import { schemas as qfused } from './qfused.js';

/** Key: op type for the default domain, `domain.OpType` otherwise (e.g. `twinfer.FusedConv`). */
export const SCHEMAS: SchemaRegistry = {
  ...elementwise, ...convgemm, ...normalization, ...tensor, ...reduction, ...quant, ...sequence, ...fused, ...qfused,
};

export function schemaKey(domain: string, opType: string): string {
  return domain === '' || domain === 'ai.onnx' ? opType : `${domain}.${opType}`;
}

export function findSchema(domain: string, opType: string): OpSchema | undefined {
  return Object.prototype.hasOwnProperty.call(SCHEMAS, schemaKey(domain, opType))
    ? SCHEMAS[schemaKey(domain, opType)] : undefined;
}
