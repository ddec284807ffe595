/** The precision flags shared by every command that builds a model: --precision, --calib, --precision-constraints. */
import { one, type ParsedArgs } from './args.js';
import { checkPrecision, parseConstraints, type Precision } from '../quant/precision.js';
import { readCalibrationTable } from '../quant/node-data.js';
import type { CalibrationTable } from '../quant/table.js';

export const PRECISION_OPTS = ['precision', 'calib', 'precision-constraints'] as const;
export const PRECISION_USAGE = '[--precision fp32|fp16|int8] [--calib TABLE] [--precision-constraints OP_OR_NODE=PREC,...]';

export interface PrecisionArgs {
  precision?: Precision;
  calibrationTable?: CalibrationTable;
  precisionConstraints?: Record<string, Precision>;
}

/** Checks and reads the flags (the table file is parsed here, so a bad one fails before the model is built). */
export function precisionArgs(a: ParsedArgs): PrecisionArgs {
  const p = one(a, 'precision'), calib = one(a, 'calib'), c = one(a, 'precision-constraints');
  return {
    ...(p !== undefined ? { precision: checkPrecision(p, '--precision') } : {}),
    ...(c !== undefined ? { precisionConstraints: parseConstraints(c) } : {}),
    ...(calib !== undefined ? { calibrationTable: readCalibrationTable(calib) } : {}),
  };
}
