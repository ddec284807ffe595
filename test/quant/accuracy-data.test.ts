/**
 * The pieces of the PP-OCR accuracy tests, checked on their own (fast): the rendered-text
 * generator (deterministic, disjoint sets, PaddleOCR's preprocessing) and the metrics against
 * hand-computed cases.
 */
import { describe, expect, it } from 'vitest';
import { clsBatch, detBatch, detPage, recBatch, textLine, writeLine, type Rgba } from './text-data.js';
import { agreement, clsTop1, ctcGreedy, decodeText, detIoU, dropSpaces, recCharacters, REC_SPACE, sequenceAgreement } from './ocr-metrics.js';
import { CAL_SEED, EVAL_SEED } from './ocr-eval.js';

describe('rendered text data', () => {
  it('is deterministic: sample k depends on (seed, k) only, not on the batch', () => {
    const a = recBatch(5, 0, 6), b = recBatch(5, 3, 2);
    expect(b.samples.map((s) => s.key)).toEqual(a.samples.slice(3, 5).map((s) => s.key));
    const n = 3 * 48 * 320;
    expect(Array.from((b.tensor.data as Float32Array).subarray(0, n))).toEqual(Array.from((a.tensor.data as Float32Array).subarray(3 * n, 4 * n)));
    expect(detPage(5, 1, 160).key).toBe(detPage(5, 1, 160).key);
  });

  it('calibration and evaluation sets are disjoint', () => {
    const cal = new Set(recBatch(CAL_SEED, 0, 64).samples.map((s) => s.key));
    expect(cal.size).toBe(64);
    expect(recBatch(EVAL_SEED, 0, 64).samples.filter((s) => cal.has(s.key))).toEqual([]);
    const calPages = new Set(Array.from({ length: 8 }, (_, k) => detPage(CAL_SEED, k, 320).key));
    expect(Array.from({ length: 8 }, (_, k) => detPage(EVAL_SEED, k, 320).key).filter((k) => calPages.has(k))).toEqual([]);
  });

  it('mixes Latin, digits and Chinese, upright and rotated lines', () => {
    const s = clsBatch(EVAL_SEED, 0, 100).samples;
    const rotated = s.filter((x) => x.rotated).length;
    expect(rotated).toBeGreaterThan(30);
    expect(rotated).toBeLessThan(70);
    const texts = recBatch(EVAL_SEED, 0, 100).samples.map((x) => x.text);
    expect(texts.filter((t) => /[\u4e00-\u9fa5]/.test(t)).length).toBeGreaterThan(20);
    expect(texts.filter((t) => /[0-9]/.test(t)).length).toBeGreaterThan(20);
    expect(texts.filter((t) => /^[ -~]+$/.test(t)).length).toBeGreaterThan(30);
    // Every character is one the recognizer knows.
    const known = new Set(recCharacters());
    for (const t of texts) for (const c of t) expect(known.has(c), `'${c}' in '${t}'`).toBe(true);
  });

  it("writes PaddleOCR's line input: height 48, aspect kept, BGR, (x/255-0.5)/0.5, zero padding", () => {
    // A 4x2 image: left half pure red, right half pure blue. Width ceil(48 * 4/2) = 96 of 320.
    const d = new Uint8ClampedArray(4 * 2 * 4);
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) d.set(x < 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], 4 * (y * 4 + x));
    const img: Rgba = { width: 4, height: 2, data: d };
    const out = new Float32Array(2 * 3 * 48 * 320).fill(7);
    writeLine(img, out, 1, 320);
    const at = (c: number, y: number, x: number) => out[((1 * 3 + c) * 48 + y) * 320 + x]!;
    expect(out[0]).toBe(7); // image 0 untouched
    expect([at(0, 10, 0), at(1, 10, 0), at(2, 10, 0)]).toEqual([-1, -1, 1]); // BGR of red
    expect([at(0, 10, 95), at(1, 10, 95), at(2, 10, 95)]).toEqual([1, -1, -1]); // BGR of blue
    // Half-pixel centres: output x 48 samples input x 48.5 * 4/96 - 0.5, 0.5208 of the way from red to blue.
    expect(at(0, 10, 48)).toBeCloseTo(2 * (48.5 / 24 - 1.5) - 1, 6);
    expect([at(0, 20, 96), at(1, 47, 200), at(2, 0, 319)]).toEqual([0, 0, 0]);
    // Lines wider than the input are squeezed to it.
    const long: Rgba = { width: 2000, height: 48, data: new Uint8ClampedArray(2000 * 48 * 4).fill(255) };
    writeLine(long, out, 0, 192);
    expect(out[191]).toBe(1);
  });

  it('normalizes pages with the ImageNet mean / std in BGR order', () => {
    const { tensor, samples } = detBatch(3, 0, 1, 64);
    const p = samples[0]!.image.data, x = tensor.data as Float32Array;
    expect(tensor.dims).toEqual([1, 3, 64, 64]);
    expect(x[0]).toBeCloseTo((p[2]! / 255 - 0.485) / 0.229, 5); // channel 0 = blue
    expect(x[64 * 64 * 2 + 5]).toBeCloseTo((p[4 * 5]! / 255 - 0.406) / 0.225, 5); // channel 2 = red
  });

  it('rotates by 180 degrees', () => {
    const up = textLine(9, 0), k = [...Array(40).keys()].find((i) => textLine(9, i, { rotate: true }).rotated)!;
    const a = textLine(9, k), b = textLine(9, k, { rotate: true });
    expect(b.text).toBe(a.text);
    expect(up.image.height).toBeGreaterThanOrEqual(48);
    // Rotation is applied after the noise, which draws from the same stream: the same pixels reversed.
    const { width: w, height: h } = a.image;
    expect(Array.from(b.image.data.subarray(0, 4))).toEqual(Array.from(a.image.data.subarray(4 * (w * h - 1), 4 * w * h)));
  });
});

describe('OCR metrics', () => {
  it('cls top-1 and agreement', () => {
    expect(Array.from(clsTop1([0.9, 0.1, 0.2, 0.8, 0.5, 0.5], 3))).toEqual([0, 1, 0]);
    expect(agreement([0, 1, 0, 1], [0, 1, 1, 1])).toBe(0.75);
  });

  it('det IoU of maps binarized at 0.3 (> 0.3)', () => {
    // page 0: a = {0,1,2}, b = {1,2,3} -> 2/4; page 1: both empty -> 1; 0.3 itself is not text.
    const a = [0.9, 0.4, 0.31, 0.1, 0.3, 0, 0, 0];
    const b = [0.2, 0.5, 0.99, 0.7, 0.29, 0.3, 0, 0];
    expect(detIoU(a, b, 2)).toEqual([0.5, 1]);
  });

  it('rec CTC greedy: argmax per step, repeats collapsed, blank 0 dropped', () => {
    // 1 line, T = 7, C = 4: argmax 1 1 0 1 2 2 0 -> [1, 1, 2]
    const steps = [1, 1, 0, 1, 2, 2, 0];
    const s = new Float32Array(7 * 4);
    steps.forEach((c, t) => { s[t * 4 + c] = 0.7; s[t * 4 + ((c + 1) % 4)] = 0.2; });
    expect(ctcGreedy(s, 1, 7, 4)).toEqual([[1, 1, 2]]);
    expect(sequenceAgreement([[1, 2], [3]], [[1, 2], [3, 3]])).toBe(0.5);
  });

  it('the dictionary: blank, ppocr_keys_v1.txt, then space (6625 classes)', () => {
    const c = recCharacters();
    expect(c.length).toBe(6625);
    expect(c[0]).toBe('');
    expect(c[REC_SPACE]).toBe(' ');
    const i = c.indexOf('a');
    expect(decodeText([i, REC_SPACE, i])).toBe('a a');
    expect(dropSpaces([REC_SPACE, i, REC_SPACE, i])).toEqual([i, i]);
  });
});
