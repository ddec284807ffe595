/**
 * Concat elimination: when a Concat's inputs are each produced by a node, read only by that Concat,
 * and land in contiguous slices of the output (every axis before the concat axis has size 1), the
 * Concat is marked `twinfer_inplace = 1`: the memory planner places each producer's output inside
 * the Concat's buffer, so a backend that follows the plan runs no copy (the CPU reference still
 * copies). Leaves alone: graph inputs or constants among the inputs, repeated inputs, outputs read
 * elsewhere, dynamic or non-contiguous layouts.
 */
import { isStatic } from '../ir/schema.js';
import type { Rule, Rewrite } from './rules.js';

export const concatElimRule: Rule = {
  name: 'concat-elimination',
  match(cat, view): Rewrite | undefined {
    if (cat.domain !== '' || cat.opType !== 'Concat' || cat.attrs['twinfer_inplace'] === 1 || cat.inputs.length < 2) return undefined;
    const t = view.type(cat.outputs[0]!);
    if (!t || !isStatic(t.shape)) return undefined;
    const rank = t.shape.length;
    const a = typeof cat.attrs['axis'] === 'number' ? cat.attrs['axis'] : 0;
    const axis = a < 0 ? a + rank : a;
    if (t.shape.slice(0, axis).some((d) => d !== 1)) return undefined;
    if (new Set(cat.inputs).size !== cat.inputs.length) return undefined;
    for (const i of cat.inputs) {
      const p = view.producer(i);
      if (!p || view.soleConsumer(i) !== cat || view.isGraphInput(i)) return undefined;
    }
    const marked = { ...cat, attrs: { ...cat.attrs, twinfer_inplace: 1 }, attrTypes: { ...(cat.attrTypes ?? {}), twinfer_inplace: 'int' as const } };
    return { remove: [cat], add: [marked] };
  },
};
