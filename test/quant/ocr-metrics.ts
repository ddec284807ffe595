/**
 * Agreement metrics between a reduced-precision run and the FP32 run of the PP-OCR models
 * (issue 4's accuracy targets):
 *  - cls: top-1 class per line (the output is [N, 2] softmax: 0 upright, 1 rotated 180);
 *  - det: the probability map [N, 1, H, W] binarized at 0.3 (PaddleOCR's DBPostProcess `thresh`),
 *    IoU of the two masks per page;
 *  - rec: CTC greedy decoding of [N, T, C] (argmax per step, repeats collapsed, blank 0 dropped),
 *    the decoded index sequences compared exactly, and also with spaces dropped (PaddleOCR's
 *    RecMetric compares text with `ignore_space` on by default: a space the model is unsure of,
 *    typically a leading one at a blank/space near-tie, does not change what was read).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ppocrAssets } from '../../src/testing/ppocr.js';

/** Index of the largest value of each row of a [rows, cols] array (the first on a tie). */
export function argmaxRows(data: ArrayLike<number>, rows: number, cols: number): Int32Array {
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0, v = data[r * cols]!;
    for (let c = 1; c < cols; c++) { const x = data[r * cols + c]!; if (x > v) { v = x; best = c; } }
    out[r] = best;
  }
  return out;
}

/** Classifier: top-1 class of each of the n lines of a [n, classes] output. */
export function clsTop1(probs: ArrayLike<number>, n: number): Int32Array {
  return argmaxRows(probs, n, probs.length / n);
}

/** Fraction of equal entries. */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`agreement: ${a.length} vs ${b.length} entries`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return a.length ? same / a.length : 1;
}

/** Fraction of equal sequences. */
export function sequenceAgreement(a: readonly (readonly number[])[], b: readonly (readonly number[])[]): number {
  if (a.length !== b.length) throw new Error(`sequenceAgreement: ${a.length} vs ${b.length} sequences`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i]!.length === b[i]!.length && a[i]!.every((v, j) => v === b[i]![j])) same++;
  return a.length ? same / a.length : 1;
}

export const DET_THRESHOLD = 0.3;

/**
 * Per page, IoU of the two probability maps [n, 1, H, W] binarized at `thresh` (> thresh, as
 * DBPostProcess's `pred > thresh`). A page where both masks are empty counts 1.
 */
export function detIoU(a: ArrayLike<number>, b: ArrayLike<number>, n: number, thresh = DET_THRESHOLD): number[] {
  if (a.length !== b.length) throw new Error(`detIoU: ${a.length} vs ${b.length} values`);
  const per = a.length / n, out: number[] = [];
  for (let k = 0; k < n; k++) {
    let inter = 0, union = 0;
    for (let i = k * per; i < (k + 1) * per; i++) {
      const x = a[i]! > thresh, y = b[i]! > thresh;
      if (x && y) inter++;
      if (x || y) union++;
    }
    out.push(union ? inter / union : 1);
  }
  return out;
}

/** Fraction of pixels above `thresh` per page (how much text a page shows). */
export function detCoverage(a: ArrayLike<number>, n: number, thresh = DET_THRESHOLD): number[] {
  const per = a.length / n, out: number[] = [];
  for (let k = 0; k < n; k++) {
    let c = 0;
    for (let i = k * per; i < (k + 1) * per; i++) if (a[i]! > thresh) c++;
    out.push(c / per);
  }
  return out;
}

/** CTC greedy decoding of [n, T, C] scores: argmax per step, repeats collapsed, blank (0) dropped. */
export function ctcGreedy(scores: ArrayLike<number>, n: number, T: number, C: number, blank = 0): number[][] {
  const best = argmaxRows(scores, n * T, C), out: number[][] = [];
  for (let k = 0; k < n; k++) {
    const seq: number[] = [];
    let prev = -1;
    for (let t = 0; t < T; t++) {
      const c = best[k * T + t]!;
      if (c !== prev && c !== blank) seq.push(c);
      prev = c;
    }
    out.push(seq);
  }
  return out;
}

/** The recognizer's space class (PaddleOCR's use_space_char appends ' ' after the dictionary). */
export const REC_SPACE = 6624;

/** The sequence without spaces. */
export function dropSpaces(seq: readonly number[], space = REC_SPACE): number[] {
  return seq.filter((c) => c !== space);
}

let dict: string[] | undefined;
/**
 * The recognizer's characters: index 0 is the CTC blank, 1..6623 the lines of ppocr_keys_v1.txt,
 * then ' ' (PaddleOCR's use_space_char), 6625 classes in all.
 */
export function recCharacters(): string[] {
  if (!dict) {
    const lines = fs.readFileSync(path.join(ppocrAssets(), 'ppocr_keys_v1.txt'), 'utf8').split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    dict = ['', ...lines.map((l) => l.replace(/\r$/, '')), ' '];
  }
  return dict;
}

export function decodeText(seq: readonly number[]): string {
  const chars = recCharacters();
  return seq.map((i) => chars[i] ?? '\uFFFD').join('');
}
