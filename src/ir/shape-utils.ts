/** Shape arithmetic shared by op schemas (numpy broadcasting, axis normalization). */
import type { Dim } from './graph.js';
import { InferError } from './schema.js';

/** Multidirectional (numpy) broadcasting of two shapes. Symbolic dims broadcast with 1 and with themselves. */
export function broadcastDims(a: readonly Dim[], b: readonly Dim[]): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = new Array(rank);
  for (let i = 0; i < rank; i++) {
    const x = i < rank - a.length ? 1 : a[i - (rank - a.length)]!;
    const y = i < rank - b.length ? 1 : b[i - (rank - b.length)]!;
    if (x === y) out[i] = x;
    else if (x === 1) out[i] = y;
    else if (y === 1) out[i] = x;
    else if (typeof x === 'number' && typeof y === 'number') {
      throw new InferError(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
    } else out[i] = typeof x === 'number' ? x : y; // one symbolic: the known size wins
  }
  return out;
}

export function broadcastMany(shapes: readonly (readonly Dim[])[]): Dim[] {
  let out: Dim[] = [];
  for (const s of shapes) out = broadcastDims(out, s);
  return out;
}

/** Maps a possibly negative axis into [0, rank); throws when out of range. */
export function normalizeAxis(axis: number, rank: number): number {
  if (axis < -rank || axis >= rank) throw new InferError(`axis ${axis} out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

export function dimProduct(dims: readonly Dim[]): Dim {
  let n = 1;
  for (const d of dims) {
    if (typeof d !== 'number') return dims.map(String).join('*');
    n *= d;
  }
  return n;
}
