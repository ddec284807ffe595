/**
 * How `SessionOptions.calibrationTable` given as a string becomes a CalibrationTable. Core code stays
 * browser-safe: by default the string is fetched (a URL in browsers) and parsed; the Node entry point
 * (src/node.ts) installs a file reader (readCalibrationTable), as the model loader does for models.
 */
import { TwinferError } from '../errors.js';
import { CalibrationTable } from './table.js';

export type CalibrationTableLoader = (pathOrUrl: string) => Promise<CalibrationTable>;

let loader: CalibrationTableLoader = async (url) => {
  if (typeof fetch !== 'function') throw new TwinferError('IO', `cannot load calibration table '${url}': no loader for paths in this environment`);
  const res = await fetch(url);
  if (!res.ok) throw new TwinferError('IO', `cannot load calibration table '${url}': HTTP ${res.status}`);
  return CalibrationTable.parse(await res.text(), url);
};

export function setCalibrationTableLoader(l: CalibrationTableLoader): void { loader = l; }

/** A table object as it is; a string through the installed loader; anything else is an error. */
export async function resolveCalibrationTable(t: unknown): Promise<CalibrationTable | undefined> {
  if (t === undefined) return undefined;
  if (t instanceof CalibrationTable) return t;
  if (typeof t === 'string') return loader(t);
  throw new TwinferError('INVALID_ARGUMENT', 'calibrationTable must be a CalibrationTable or a path / URL of a table file');
}
