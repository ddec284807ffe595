/**
 * Pad, internal form = opset 19+ (inputs data, pads, constant_value?, axes?; modes constant, reflect,
 * edge, wrap). Negative pads crop. Pad-1/Pad-2 (paddings/pads and value attributes) are upgraded: pads
 * become an int64 constant input and a non-zero value a float32 scalar constant input. That constant
 * may then differ in dtype from the data (the old form's value was always a float): kernels read it as
 * a number, and inference does not insist on a matching dtype.
 */
import { HostTensor } from '../tensor.js';
import { attrFloat, attrInts, attrString, type Dim, type Node } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry, type UpgradeContext } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';

export const PAD_MODES = new Set(['constant', 'reflect', 'edge', 'wrap']);

export function padMode(node: Node): string {
  const m = node.attrs['mode'] ?? 'constant';
  if (typeof m !== 'string' || !PAD_MODES.has(m)) throw new InferError(`Pad: unknown mode '${String(m)}'`);
  return m;
}

/**
 * Per-axis [begin, end] pads expanded to full rank from the pads input and optional axes input.
 * Returns begin pads in [0, r) and end pads in [r, 2r).
 */
export function fullPads(rank: number, pads: readonly number[], axes: readonly number[] | undefined): number[] {
  const ax = axes ? axes.map((a) => normalizeAxis(a, rank)) : [...Array(rank).keys()];
  if (pads.length !== 2 * ax.length) {
    throw new InferError(`Pad: pads has ${pads.length} values, expected ${2 * ax.length}`);
  }
  if (new Set(ax).size !== ax.length) throw new InferError('Pad: duplicate axes');
  const out = new Array<number>(2 * rank).fill(0);
  ax.forEach((a, i) => { out[a] = pads[i]!; out[rank + a] = pads[ax.length + i]!; });
  return out;
}

function inferPad(ctx: InferContext): ReturnType<OpSchema['infer']> {
  const x = ctx.inputs[0];
  if (!x) throw new InferError('Pad: input 0 is required');
  padMode(ctx.node);
  if (!ctx.inputs[1]) throw new InferError('Pad: input pads is required');
  const pT = ctx.value(1);
  const aT = ctx.inputs[3] ? ctx.value(3) : undefined;
  const axesKnown = !ctx.inputs[3] || aT !== undefined;
  if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
  const r = x.shape.length;
  const axes = aT?.toNumberArray();
  if (!pT || !axesKnown) {
    const padded = axes ? new Set(axes.map((a) => normalizeAxis(a, r))) : undefined;
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (padded && !padded.has(i) ? d : ctx.freshDim('pad'))) }];
  }
  const p = fullPads(r, pT.toNumberArray(), axes);
  const out: Dim[] = x.shape.map((d, i) => {
    const add = p[i]! + p[r + i]!;
    if (typeof d !== 'number') {
      if (add === 0) return d;
      return add > 0 ? `${d}+${add}` : `${d}-${-add}`;
    }
    const n = d + add;
    if (n < 0) throw new InferError(`Pad: axis ${i} of size ${d} padded by ${p[i]}, ${p[r + i]} is negative`);
    return n;
  });
  return [{ dtype: x.dtype, shape: out }];
}

const Pad: OpSchema = {
  inputs: [2, 4],
  outputs: [1, 1],
  infer: inferPad,
  upgrade(node: Node, ctx: UpgradeContext) {
    if (ctx.opset >= 11) return;
    const pads = attrInts(node, 'pads') ?? attrInts(node, 'paddings');
    if (!pads) throw new InferError('Pad: pads attribute is missing');
    const value = attrFloat(node, 'value', 0);
    const mode = attrString(node, 'mode', 'constant');
    const inputs = [node.inputs[0]!, ctx.constant(HostTensor.fromNumbers('int64', [pads.length], pads), 'pads')];
    if (value !== 0 && mode === 'constant') inputs.push(ctx.constant(HostTensor.scalar('float32', value), 'pad_value'));
    node.inputs = inputs;
    for (const a of ['pads', 'paddings', 'value']) delete node.attrs[a];
  },
};

export const padSchemas: SchemaRegistry = { Pad };
