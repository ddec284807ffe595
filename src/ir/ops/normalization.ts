/**
 * Schemas of the normalization family: BatchNormalization, InstanceNormalization, LayerNormalization,
 * GroupNormalization, LpNormalization, MeanVarianceNormalization, LRN, Softmax, LogSoftmax, Hardmax,
 * DepthToSpace, SpaceToDepth; Resize/Upsample and Pad live in normalization-resize.ts / normalization-pad.ts.
 *
 * Internal forms (what kernels see after `upgrade`):
 * - BatchNormalization: opset-15 form. Legacy attributes (spatial, is_test, consumed_inputs) are dropped;
 *   spatial=0 models are still right because kernels take the parameter layout from the scale tensor's
 *   size (C, or C*D1*...*Dn for spatial=0). Opset 7-13 training nodes (more than one output) get
 *   training_mode=1 and may keep their saved_mean/saved_var outputs as outputs 3 and 4.
 * - Softmax/LogSoftmax/Hardmax: opset-13 form, plus `coerce_2d=1` for models older than opset 13, whose
 *   semantics is "flatten to [prod(d[:axis]), prod(d[axis:])] and normalize each row": kernels then
 *   reduce over all axes from `axis` to the end (one loop, two spans). The rewrite to the opset-13 form
 *   would need a Flatten/Reshape pair, which an in-place upgrade cannot insert.
 * - GroupNormalization: scale/bias of shape [C] (opset 21) or [num_groups] (opset 18). The two are told
 *   apart by their length alone (when num_groups == C they mean the same thing), so kernels accept both;
 *   an in-place upgrade cannot expand a per-group tensor without its value.
 */
import { dtypeFromOnnx, isFloat, type DType } from '../dtype.js';
import { attrInt, attrInts, attrString, type Dim, type Node, type ValueType } from '../graph.js';
import { InferError, type InferContext, type OpSchema, type SchemaRegistry, type UpgradeContext } from '../schema.js';
import { normalizeAxis } from '../shape-utils.js';
import { resizeSchemas } from './normalization-resize.js';
import { padSchemas } from './normalization-pad.js';

/** Type of input i, which must be present. */
export function requireInput(ctx: InferContext, i: number): ValueType {
  const t = ctx.inputs[i];
  if (!t) throw new InferError(`${ctx.node.opType}: input ${i} is required`);
  return t;
}

function requireFloat(ctx: InferContext, t: ValueType, what = 'input'): void {
  if (!isFloat(t.dtype)) throw new InferError(`${ctx.node.opType}: ${what} must be a float tensor, got ${t.dtype}`);
}

/** Attribute reads that turn accessor errors into InferError. */
function safe<T>(ctx: InferContext, f: () => T): T {
  try { return f(); } catch (e) {
    if (e instanceof InferError) throw e;
    throw new InferError(`${ctx.node.opType}: ${(e as Error).message}`);
  }
}

/** Symbolic-aware dim arithmetic; symbolic results are deterministic expression names. */
export function mulDim(d: Dim, k: number): Dim {
  if (k === 1) return d;
  return typeof d === 'number' ? d * k : `${d}*${k}`;
}
export function divDim(d: Dim, k: number, what: string): Dim {
  if (k === 1) return d;
  if (typeof d === 'number') {
    if (d % k !== 0) throw new InferError(`${what}: dimension ${d} is not divisible by ${k}`);
    return d / k;
  }
  return `${d}/${k}`;
}

function sameAsX(ctx: InferContext): ValueType[] {
  const x = requireInput(ctx, 0);
  requireFloat(ctx, x);
  return [{ dtype: x.dtype, shape: x.shape?.slice() }];
}

/** Checks that a per-channel parameter (when its shape is known) has `allowed` elements. */
function checkParamSize(ctx: InferContext, i: number, allowed: number[], what: string): void {
  const t = ctx.inputs[i];
  if (!t?.shape || allowed.length === 0) return;
  let n = 1;
  for (const d of t.shape) {
    if (typeof d !== 'number') return;
    n *= d;
  }
  if (!allowed.includes(n)) {
    throw new InferError(`${ctx.node.opType}: ${what} has ${n} elements, expected ${allowed.join(' or ')}`);
  }
}

function dropAttrs(node: Node, names: string[]): void {
  for (const n of names) delete node.attrs[n];
}

// ---------------------------------------------------------------- batch / instance / layer / group

const BatchNormalization: OpSchema = {
  inputs: [5, 5],
  outputs: [1, 5],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    requireFloat(ctx, x);
    const training = safe(ctx, () => attrInt(ctx.node, 'training_mode', 0));
    if (training !== 0 && training !== 1) throw new InferError(`BatchNormalization: training_mode must be 0 or 1`);
    if (x.shape) {
      if (x.shape.length < 1) throw new InferError('BatchNormalization: input must have rank >= 1');
      const c = x.shape.length > 1 ? x.shape[1]! : 1;
      const rest = x.shape.slice(1);
      if (typeof c === 'number') {
        const allowed = [c];
        if (rest.every((d) => typeof d === 'number')) allowed.push((rest as number[]).reduce((a, b) => a * b, 1));
        for (let i = 1; i < 5; i++) checkParamSize(ctx, i, allowed, ['', 'scale', 'B', 'input_mean', 'input_var'][i]!);
      }
    }
    const mean = ctx.inputs[3] ?? ctx.inputs[1];
    const stat: ValueType = { dtype: mean?.dtype ?? x.dtype, shape: mean?.shape?.slice() };
    const out: ValueType[] = [{ dtype: x.dtype, shape: x.shape?.slice() }];
    for (let i = 1; i < ctx.node.outputs.length; i++) out.push({ dtype: stat.dtype, shape: stat.shape?.slice() });
    return out;
  },
  upgrade(node: Node, ctx: UpgradeContext) {
    if (ctx.opset < 14) {
      // Opsets 6 and older train unless is_test=1; 7-13 train iff the node has more than one output.
      const training = node.attrs['is_test'] !== 1 && node.outputs.some((o, i) => i > 0 && o !== '');
      if (training) node.attrs['training_mode'] = 1;
      else node.outputs = node.outputs.slice(0, 1);
    }
    dropAttrs(node, ['spatial', 'is_test', 'consumed_inputs']);
  },
};

const InstanceNormalization: OpSchema = {
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const out = sameAsX(ctx);
    const s = out[0]!.shape;
    if (s) {
      if (s.length < 2) throw new InferError('InstanceNormalization: input must have rank >= 2');
      const c = s[1]!;
      if (typeof c === 'number') { checkParamSize(ctx, 1, [c], 'scale'); checkParamSize(ctx, 2, [c], 'B'); }
    }
    return out;
  },
  upgrade(node) { dropAttrs(node, ['consumed_inputs']); },
};

/** The dtype named by a stash_type attribute (an ONNX TensorProto data type code). */
function stashDtype(ctx: InferContext): DType {
  const code = safe(ctx, () => attrInt(ctx.node, 'stash_type', 1));
  const t = dtypeFromOnnx(code);
  if (!t || !isFloat(t)) throw new InferError(`${ctx.node.opType}: unsupported stash_type ${code}`);
  return t;
}

const LayerNormalization: OpSchema = {
  inputs: [2, 3],
  outputs: [1, 3],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    requireFloat(ctx, x);
    const axis = safe(ctx, () => attrInt(ctx.node, 'axis', -1));
    const stash = stashDtype(ctx);
    let statShape: Dim[] | undefined;
    if (x.shape) {
      const r = x.shape.length;
      const a = normalizeAxis(axis, r);
      statShape = [...x.shape.slice(0, a), ...new Array<number>(r - a).fill(1)];
      checkBroadcastTo(ctx, 1, x.shape.slice(a), 'Scale');
      checkBroadcastTo(ctx, 2, x.shape.slice(a), 'B');
    }
    const out: ValueType[] = [{ dtype: x.dtype, shape: x.shape?.slice() }];
    for (let i = 1; i < ctx.node.outputs.length; i++) out.push({ dtype: stash, shape: statShape?.slice() });
    return out;
  },
};

/** Input i (if present with a known shape) must broadcast unidirectionally to `target`. */
function checkBroadcastTo(ctx: InferContext, i: number, target: readonly Dim[], what: string): void {
  const s = ctx.inputs[i]?.shape;
  if (!s) return;
  if (s.length > target.length) {
    throw new InferError(`${ctx.node.opType}: ${what} of rank ${s.length} does not broadcast to [${target.join(',')}]`);
  }
  const off = target.length - s.length;
  for (let k = 0; k < s.length; k++) {
    const a = s[k]!;
    const b = target[off + k]!;
    if (typeof a === 'number' && typeof b === 'number' && a !== 1 && a !== b) {
      throw new InferError(`${ctx.node.opType}: ${what} [${s.join(',')}] does not broadcast to [${target.join(',')}]`);
    }
  }
}

const GroupNormalization: OpSchema = {
  inputs: [3, 3],
  outputs: [1, 1],
  infer(ctx) {
    const out = sameAsX(ctx);
    const g = safe(ctx, () => attrInt(ctx.node, 'num_groups'));
    if (g === undefined || g <= 0) throw new InferError('GroupNormalization: num_groups must be a positive int');
    stashDtype(ctx);
    const s = out[0]!.shape;
    if (s) {
      if (s.length < 2) throw new InferError('GroupNormalization: input must have rank >= 2');
      const c = s[1]!;
      if (typeof c === 'number') {
        if (c % g !== 0) throw new InferError(`GroupNormalization: ${c} channels are not divisible by ${g} groups`);
        checkParamSize(ctx, 1, [c, g], 'scale');
        checkParamSize(ctx, 2, [c, g], 'bias');
      }
    }
    return out;
  },
};

// ---------------------------------------------------------------- Lp / MVN / LRN

const LpNormalization: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const out = sameAsX(ctx);
    const p = safe(ctx, () => attrInt(ctx.node, 'p', 2));
    if (p !== 1 && p !== 2) throw new InferError(`LpNormalization: p must be 1 or 2, got ${p}`);
    const axis = safe(ctx, () => attrInt(ctx.node, 'axis', -1));
    if (out[0]!.shape) normalizeAxis(axis, out[0]!.shape.length);
    return out;
  },
};

const MeanVarianceNormalization: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const out = sameAsX(ctx);
    const axes = safe(ctx, () => attrInts(ctx.node, 'axes', [0, 2, 3]));
    const s = out[0]!.shape;
    if (s) {
      const seen = new Set<number>();
      for (const a of axes) {
        const n = normalizeAxis(a, s.length);
        if (seen.has(n)) throw new InferError(`MeanVarianceNormalization: duplicate axis ${a}`);
        seen.add(n);
      }
    }
    return out;
  },
};

const LRN: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const out = sameAsX(ctx);
    const size = safe(ctx, () => attrInt(ctx.node, 'size'));
    if (size === undefined || size <= 0) throw new InferError('LRN: size must be a positive int');
    const s = out[0]!.shape;
    if (s && s.length < 2) throw new InferError('LRN: input must have rank >= 2');
    return out;
  },
};

// ---------------------------------------------------------------- softmax family

/** Softmax, LogSoftmax and Hardmax share one schema (the kernels differ). */
function softmaxLike(): OpSchema {
  return { inputs: [1, 1], outputs: [1, 1], infer: softmaxInfer, upgrade: softmaxUpgrade };
}

function softmaxInfer(ctx: InferContext): ValueType[] {
  const out = sameAsX(ctx);
  const axis = safe(ctx, () => attrInt(ctx.node, 'axis', -1));
  const s = out[0]!.shape;
  // A legacy (coerce_2d) node with axis == rank is valid (it normalizes nothing: each row has one element).
  if (s && !(ctx.node.attrs['coerce_2d'] === 1 && axis === s.length)) normalizeAxis(axis, s.length);
  return out;
}

function softmaxUpgrade(node: Node, ctx: UpgradeContext): void {
  if (ctx.opset < 13) {
    node.attrs['axis'] = attrInt(node, 'axis', 1);
    node.attrs['coerce_2d'] = 1;
  }
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth

function blocksize(ctx: InferContext): number {
  const b = safe(ctx, () => attrInt(ctx.node, 'blocksize'));
  if (b === undefined || b <= 0) throw new InferError(`${ctx.node.opType}: blocksize must be a positive int`);
  return b;
}

const DepthToSpace: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const b = blocksize(ctx);
    const mode = safe(ctx, () => attrString(ctx.node, 'mode', 'DCR'));
    if (mode !== 'DCR' && mode !== 'CRD') throw new InferError(`DepthToSpace: unknown mode '${mode}'`);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    if (x.shape.length !== 4) throw new InferError(`DepthToSpace: input must have rank 4, got ${x.shape.length}`);
    const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
    return [{ dtype: x.dtype, shape: [n, divDim(c, b * b, 'DepthToSpace'), mulDim(h, b), mulDim(w, b)] }];
  },
};

const SpaceToDepth: OpSchema = {
  inputs: [1, 1],
  outputs: [1, 1],
  infer(ctx) {
    const x = requireInput(ctx, 0);
    const b = blocksize(ctx);
    if (!x.shape) return [{ dtype: x.dtype, shape: undefined }];
    if (x.shape.length !== 4) throw new InferError(`SpaceToDepth: input must have rank 4, got ${x.shape.length}`);
    const [n, c, h, w] = x.shape as [Dim, Dim, Dim, Dim];
    return [{ dtype: x.dtype, shape: [n, mulDim(c, b * b), divDim(h, b, 'SpaceToDepth'), divDim(w, b, 'SpaceToDepth')] }];
  },
};

export const schemas: SchemaRegistry = {
  BatchNormalization, InstanceNormalization, LayerNormalization, GroupNormalization,
  LpNormalization, MeanVarianceNormalization, LRN,
  Softmax: softmaxLike(), LogSoftmax: softmaxLike(), Hardmax: softmaxLike(),
  DepthToSpace, SpaceToDepth,
  ...resizeSchemas, ...padSchemas,
};
