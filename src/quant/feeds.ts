/**
 * Checking calibration batches against a model's inputs: every input present, the declared dtype,
 * rank and fixed dims, symbolic dims consistent across inputs. `where` names the batch (or file)
 * in every message.
 */
import type { DType } from '../ir/dtype.js';
import type { Dim, ValueInfo } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';
import { TwinferError } from '../errors.js';
import { Tensor, toHostTensor } from '../api/tensor.js';

/** Why `dims` does not fit `shape` (undefined when it does); fills `symbols` with the symbolic dims it fixes. */
export function shapeMismatch(name: string, shape: readonly Dim[] | undefined, dims: readonly number[], symbols: Map<string, number>): string | undefined {
  if (!shape) return undefined;
  const want = `[${shape.join(',')}]`;
  if (shape.length !== dims.length) return `input '${name}' needs rank ${shape.length} ${want}, got dims [${dims.join(',')}]`;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i]!, got = dims[i]!;
    if (typeof d === 'number' && d !== got) return `input '${name}' needs dims ${want}, got [${dims.join(',')}] (dim ${i} must be ${d})`;
    if (typeof d === 'string') {
      const prev = symbols.get(d);
      if (prev !== undefined && prev !== got) return `input '${name}' dim ${i} ('${d}') is ${got}, but another input fixed '${d}' = ${prev}`;
      symbols.set(d, got);
    }
  }
  return undefined;
}

export function dtypeMismatch(name: string, want: DType | undefined, got: DType): string | undefined {
  return want && want !== got ? `input '${name}' must be ${want}, got ${got}` : undefined;
}

/** One batch of public Tensors -> host tensors, checked against the model's feed inputs. */
export function checkBatch(inputs: readonly ValueInfo[], feeds: Record<string, Tensor>, where: string): Map<string, HostTensor> {
  if (typeof feeds !== 'object' || feeds === null) throw new TwinferError('INVALID_ARGUMENT', `${where}: a batch must be an object of input name -> Tensor`);
  const names = new Set(inputs.map((i) => i.name));
  for (const k of Object.keys(feeds)) {
    if (!names.has(k)) throw new TwinferError('INVALID_ARGUMENT', `${where}: unknown input '${k}' (inputs: ${[...names].join(', ')})`);
  }
  const out = new Map<string, HostTensor>();
  const symbols = new Map<string, number>();
  for (const info of inputs) {
    const t = feeds[info.name];
    if (t === undefined) throw new TwinferError('INVALID_ARGUMENT', `${where}: missing input '${info.name}'`);
    if (!(t instanceof Tensor)) throw new TwinferError('INVALID_ARGUMENT', `${where}: input '${info.name}' must be a Tensor`);
    const h = toHostTensor(t);
    const why = dtypeMismatch(info.name, info.dtype, h.dtype) ?? shapeMismatch(info.name, info.shape, h.dims, symbols);
    if (why) throw new TwinferError('INVALID_ARGUMENT', `${where}: ${why}`);
    out.set(info.name, h);
  }
  return out;
}
