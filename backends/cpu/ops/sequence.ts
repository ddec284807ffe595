/**
 * CPU kernels of the sequence family: LSTM and GRU (backends/cpu/sequence-rnn.ts) and
 * NonMaxSuppression, whose output row count is decided here from the data.
 */
import { attrInt } from '../../../src/ir/graph.js';
import { HostTensor } from '../../../src/ir/tensor.js';
import { input, type KernelContext, type KernelRegistry } from '../kernel.js';
import { gruKernel, lstmKernel } from '../sequence-rnn.js';

/**
 * Greedy NMS per (batch, class), following onnxruntime: candidates need score > score_threshold,
 * are visited by descending score (ties: lower box index first), and a candidate is dropped when
 * its IoU with an already selected box is > iou_threshold. Boxes with zero area never suppress.
 * Output rows are [batch, class, box], batch-major, then class, then selection order.
 */
function nmsKernel(ctx: KernelContext): HostTensor[] {
  const boxesT = input(ctx, 0);
  const scoresT = input(ctx, 1);
  const maxOut = ctx.inputs[2] && ctx.inputs[2].size > 0 ? ctx.inputs[2].num(0) : 0;
  const iouTh = ctx.inputs[3] && ctx.inputs[3].size > 0 ? ctx.inputs[3].num(0) : 0;
  const scoreTh = ctx.inputs[4] && ctx.inputs[4].size > 0 ? ctx.inputs[4].num(0) : -Infinity;
  const center = attrInt(ctx.node, 'center_point_box', 0) === 1;
  if (iouTh < 0 || iouTh > 1) throw new Error(`iou_threshold must be in [0, 1], got ${iouTh}`);
  const [nb, nBoxes] = [boxesT.dims[0]!, boxesT.dims[1]!];
  const [sb, nc, sn] = [scoresT.dims[0]!, scoresT.dims[1]!, scoresT.dims[2]!];
  if (sb !== nb || sn !== nBoxes) {
    throw new Error(`boxes [${boxesT.dims.join(',')}] and scores [${scoresT.dims.join(',')}] disagree`);
  }
  const selected: number[] = [];
  if (maxOut <= 0 || nBoxes === 0) return [new HostTensor('int64', [0, 3])];
  const bx = boxesT.numbers;
  const sc = scoresT.numbers;
  // Corners (ymin, xmin, ymax, xmax) and areas of one batch's boxes.
  const corners = new Float64Array(nBoxes * 4);
  const area = new Float64Array(nBoxes);
  const order = new Int32Array(nBoxes);
  const keep = new Int32Array(nBoxes);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < nBoxes; i++) {
      const o = (b * nBoxes + i) * 4;
      let y1: number, x1: number, y2: number, x2: number;
      if (center) {
        const xc = bx[o]!; const yc = bx[o + 1]!; const w = bx[o + 2]!; const h = bx[o + 3]!;
        x1 = xc - w / 2; x2 = xc + w / 2; y1 = yc - h / 2; y2 = yc + h / 2;
      } else {
        const a = bx[o]!; const c = bx[o + 2]!; const p = bx[o + 1]!; const q = bx[o + 3]!;
        y1 = Math.min(a, c); y2 = Math.max(a, c); x1 = Math.min(p, q); x2 = Math.max(p, q);
      }
      corners[i * 4] = y1; corners[i * 4 + 1] = x1; corners[i * 4 + 2] = y2; corners[i * 4 + 3] = x2;
      area[i] = (y2 - y1) * (x2 - x1);
    }
    for (let c = 0; c < nc; c++) {
      const so = (b * nc + c) * nBoxes;
      let n = 0;
      for (let i = 0; i < nBoxes; i++) if (sc[so + i]! > scoreTh) order[n++] = i;
      const cand = order.subarray(0, n);
      cand.sort((i, j) => (sc[so + j]! - sc[so + i]!) || (i - j));
      let k = 0;
      for (let ci = 0; ci < n && k < maxOut; ci++) {
        const i = cand[ci]!;
        let ok = true;
        for (let si = 0; si < k; si++) {
          if (iouAbove(corners, area, i, keep[si]!, iouTh)) { ok = false; break; }
        }
        if (ok) { keep[k++] = i; selected.push(b, c, i); }
      }
    }
  }
  return [HostTensor.fromNumbers('int64', [selected.length / 3, 3], selected)];
}

function iouAbove(cr: Float64Array, area: Float64Array, i: number, j: number, th: number): boolean {
  const ymin = Math.max(cr[i * 4]!, cr[j * 4]!);
  const xmin = Math.max(cr[i * 4 + 1]!, cr[j * 4 + 1]!);
  const ymax = Math.min(cr[i * 4 + 2]!, cr[j * 4 + 2]!);
  const xmax = Math.min(cr[i * 4 + 3]!, cr[j * 4 + 3]!);
  const inter = Math.max(0, ymax - ymin) * Math.max(0, xmax - xmin);
  if (inter <= 0) return false;
  const ai = area[i]!;
  const aj = area[j]!;
  const union = ai + aj - inter;
  if (ai <= 0 || aj <= 0 || union <= 0) return false;
  return inter / union > th;
}

export const kernels: KernelRegistry = {
  LSTM: lstmKernel,
  GRU: gruKernel,
  NonMaxSuppression: nmsKernel,
};
