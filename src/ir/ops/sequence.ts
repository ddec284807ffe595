/**
 * Sequence and detection ops: LSTM, GRU (ONNX opset 22 form: layout attribute, all outputs
 * optional) and NonMaxSuppression (opset 11 form, whose output size depends on the data).
 */
import type { Dim, Node, ValueType } from '../graph.js';
import { attrInt, attrString, attrStrings } from '../graph.js';
import { isFloat } from '../dtype.js';
import { InferError, type InferContext, type SchemaRegistry, type UpgradeContext } from '../schema.js';

/** Activation functions RNN ops accept (names compared case-insensitively). */
export const RNN_ACTIVATIONS = new Set([
  'relu', 'tanh', 'sigmoid', 'affine', 'leakyrelu', 'thresholdedrelu', 'scaledtanh', 'hardsigmoid',
  'elu', 'softsign', 'softplus',
]);

export function rnnDirections(node: Node): 1 | 2 {
  const d = attrString(node, 'direction', 'forward');
  if (d === 'forward' || d === 'reverse') return 1;
  if (d === 'bidirectional') return 2;
  throw new InferError(`unknown direction '${d}' (forward, reverse or bidirectional)`);
}

/**
 * The activation list for all directions, lower-cased, with the op's defaults filled in. A list
 * given for one direction of a bidirectional op is used for both (as onnxruntime does).
 */
export function rnnActivations(node: Node, perDir: number, defaults: string[], numDir: number): string[] {
  let acts = attrStrings(node, 'activations')?.map((a) => a.toLowerCase());
  if (acts === undefined || acts.length === 0) acts = defaults;
  if (acts.length === perDir && numDir === 2) acts = [...acts, ...acts];
  if (acts.length !== perDir * numDir) {
    throw new InferError(`expected ${perDir * numDir} activations, got ${acts.length}`);
  }
  for (const a of acts) if (!RNN_ACTIVATIONS.has(a)) throw new InferError(`unsupported activation '${a}'`);
  return acts;
}

/** Shared inference of LSTM (gates=4, outputs Y, Y_h, Y_c) and GRU (gates=3, outputs Y, Y_h). */
function rnnInfer(gates: number, perDir: number, defaults: string[], nOut: number) {
  return (ctx: InferContext): ValueType[] => {
    const node = ctx.node;
    const [x, w, r] = ctx.inputs;
    if (!x || !w || !r) throw new InferError('inputs X, W and R are required');
    if (!isFloat(x.dtype)) throw new InferError(`X must be a float tensor, got ${x.dtype}`);
    for (const t of [w, r, ctx.inputs[3], ctx.inputs[5], ctx.inputs[6], ctx.inputs[7]]) {
      if (t && t.dtype !== x.dtype) throw new InferError(`all float inputs must be ${x.dtype}, got ${t.dtype}`);
    }
    const sl = ctx.inputs[4];
    if (sl && sl.dtype !== 'int32') throw new InferError(`sequence_lens must be int32, got ${sl.dtype}`);
    const numDir = rnnDirections(node);
    const layout = attrInt(node, 'layout', 0);
    if (layout !== 0 && layout !== 1) throw new InferError(`layout must be 0 or 1, got ${layout}`);
    rnnActivations(node, perDir, defaults, numDir);
    const clip = node.attrs.clip;
    if (clip !== undefined && (typeof clip !== 'number' || !(clip > 0))) throw new InferError('clip must be a positive float');
    if (node.opType === 'LSTM') {
      const inf = attrInt(node, 'input_forget', 0);
      if (inf !== 0 && inf !== 1) throw new InferError(`input_forget must be 0 or 1, got ${inf}`);
    }
    let hidden: Dim | undefined = attrInt(node, 'hidden_size');
    if (hidden !== undefined && hidden <= 0) throw new InferError(`hidden_size must be positive, got ${hidden}`);
    if (w.shape && w.shape.length !== 3) throw new InferError('W must have rank 3');
    if (r.shape && r.shape.length !== 3) throw new InferError('R must have rank 3');
    if (hidden === undefined) hidden = r.shape?.[2] ?? ctx.freshDim('hidden');
    if (typeof hidden === 'number') {
      for (const [name, t] of [['W', w], ['R', r]] as const) {
        const d0 = t.shape?.[0];
        const d1 = t.shape?.[1];
        if (typeof d0 === 'number' && d0 !== numDir) throw new InferError(`${name} dim 0 is ${d0}, expected ${numDir} directions`);
        if (typeof d1 === 'number' && d1 !== gates * hidden) throw new InferError(`${name} dim 1 is ${d1}, expected ${gates}*hidden_size=${gates * hidden}`);
      }
    }
    let seq: Dim; let batch: Dim;
    if (x.shape) {
      if (x.shape.length !== 3) throw new InferError(`X must have rank 3, got ${x.shape.length}`);
      [seq, batch] = layout === 0 ? [x.shape[0]!, x.shape[1]!] : [x.shape[1]!, x.shape[0]!];
    } else {
      seq = ctx.freshDim('seq');
      batch = ctx.freshDim('batch');
    }
    const dtype = x.dtype;
    const y: Dim[] = layout === 0 ? [seq, numDir, batch, hidden] : [batch, seq, numDir, hidden];
    const yh: Dim[] = layout === 0 ? [numDir, batch, hidden] : [batch, numDir, hidden];
    const out: ValueType[] = [{ dtype, shape: y }, { dtype, shape: yh }];
    if (nOut === 3) out.push({ dtype, shape: yh.slice() });
    return out;
  };
}

/** Opset 1 RNNs had an `output_sequence` attribute that later opsets dropped (outputs are optional). */
function dropOutputSequence(node: Node, _ctx: UpgradeContext): void {
  delete node.attrs.output_sequence;
}

function nmsInfer(ctx: InferContext): ValueType[] {
  const [boxes, scores] = ctx.inputs;
  if (!boxes || !scores) throw new InferError('inputs boxes and scores are required');
  const cpb = attrInt(ctx.node, 'center_point_box', 0);
  if (cpb !== 0 && cpb !== 1) throw new InferError(`center_point_box must be 0 or 1, got ${cpb}`);
  if (boxes.shape) {
    if (boxes.shape.length !== 3) throw new InferError('boxes must have shape [batch, boxes, 4]');
    const d = boxes.shape[2];
    if (typeof d === 'number' && d !== 4) throw new InferError(`boxes last dim must be 4, got ${d}`);
  }
  if (scores.shape && scores.shape.length !== 3) throw new InferError('scores must have shape [batch, classes, boxes]');
  const m = ctx.inputs[2];
  if (m && m.dtype !== 'int64') throw new InferError('max_output_boxes_per_class must be int64');
  return [{ dtype: 'int64', shape: [ctx.freshDim('nms_selected'), 3] }];
}

export const schemas: SchemaRegistry = {
  LSTM: {
    inputs: [3, 8],
    outputs: [0, 3],
    infer: rnnInfer(4, 3, ['sigmoid', 'tanh', 'tanh'], 3),
    upgrade: dropOutputSequence,
  },
  GRU: {
    inputs: [3, 6],
    outputs: [0, 2],
    infer: rnnInfer(3, 2, ['sigmoid', 'tanh'], 2),
    upgrade: dropOutputSequence,
  },
  NonMaxSuppression: { inputs: [2, 5], outputs: [1, 1], infer: nmsInfer },
};
