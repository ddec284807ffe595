/** Element-wise comparison with the ONNX runners' rule: |a-b| <= atol + rtol*|b|, NaN equals NaN. */
import type { HostTensor } from '../ir/tensor.js';

export interface CompareResult {
  ok: boolean;
  /** Largest |a-b| over elements (0 for exact matches, Infinity for inf mismatches). */
  maxAbsErr: number;
  /** Why it failed (dtype, shape, values). */
  reason?: string;
}

export function compareTensors(actual: HostTensor, expected: HostTensor, rtol: number, atol: number): CompareResult {
  if (actual.dtype !== expected.dtype) return { ok: false, maxAbsErr: NaN, reason: `dtype ${actual.dtype}, expected ${expected.dtype}` };
  if (actual.dims.length !== expected.dims.length || actual.dims.some((d, i) => d !== expected.dims[i])) {
    return { ok: false, maxAbsErr: NaN, reason: `dims [${actual.dims}], expected [${expected.dims}]` };
  }
  if (actual.dtype === 'string') {
    const a = actual.data as string[], b = expected.data as string[];
    const i = a.findIndex((s, k) => s !== b[k]);
    return i < 0 ? { ok: true, maxAbsErr: 0 } : { ok: false, maxAbsErr: NaN, reason: `element ${i}: '${a[i]}', expected '${b[i]}'` };
  }
  const a = actual.data as ArrayLike<number>, b = expected.data as ArrayLike<number>;
  let maxAbs = 0, worst = -1, worstExcess = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!, y = b[i]!;
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      maxAbs = Infinity; if (worst < 0 || worstExcess < Infinity) { worst = i; worstExcess = Infinity; }
      continue;
    }
    if (x === y) continue; // also equal infinities
    const d = Math.abs(x - y);
    if (d > maxAbs) maxAbs = d;
    const excess = d - (atol + rtol * Math.abs(y));
    if (excess > 0 && (worst < 0 || excess > worstExcess)) { worst = i; worstExcess = excess; }
  }
  if (worst < 0) return { ok: true, maxAbsErr: maxAbs };
  return { ok: false, maxAbsErr: maxAbs, reason: `max abs error ${maxAbs.toPrecision(3)}; worst at element ${worst}: ${a[worst]} vs expected ${b[worst]}` };
}
