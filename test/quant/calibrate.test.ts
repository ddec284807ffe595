/**
 * calibrate() over a model built in code, and calibration data folders (tensor files, images with
 * preprocessing): results against activations computed by hand, feeds of every kind, bad inputs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pngjs from 'pngjs';
import jpeg from 'jpeg-js';
import '../../src/node.js';
import { calibrate, type CalibrationProgress } from '../../src/quant/calibrate.js';
import { calibrationFeedsFromDir, decodeImage, type DirFeeds } from '../../src/quant/node-data.js';
import { thresholdOf } from '../../src/quant/calibrators.js';
import { TensorStats } from '../../src/quant/histogram.js';
import { Tensor } from '../../src/api/tensor.js';
import { InferenceSession } from '../../src/api/session.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { writeTensorFile } from '../../src/cli/tensor-files.js';
import { seededRandom } from '../../src/cli/run.js';
import type { ValueInfo } from '../../src/ir/graph.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { scaleReluModel, twoInputModel, writeNpy } from './models.js';

const tmp = makeTmpDir('quant-calibrate');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function batches(count: number, rows: number, seed: number): Float32Array[] {
  const rand = seededRandom(seed);
  return Array.from({ length: count }, () => Float32Array.from({ length: rows * 4 }, () => (rand() * 2 - 1) * 3));
}

const feedsOf = (data: Float32Array[]) => data.map((d) => ({ x: new Tensor('float32', d, [d.length / 4, 4]) }));

function statsOf(values: number[]): TensorStats {
  const s = new TensorStats();
  s.observeRange(values);
  s.observeHistogram(values);
  return s;
}

async function collect(feeds: DirFeeds): Promise<Record<string, Tensor>[]> {
  const out: Record<string, Tensor>[] = [];
  for await (const b of feeds) out.push(b);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<string> {
  try { await p; } catch (e) { return (e as Error).message; }
  throw new Error('expected a rejection');
}

describe('calibrate()', () => {
  const model = scaleReluModel();
  const data = batches(3, 5, 1);
  const all = data.flatMap((d) => Array.from(d));

  it('minmax: amax of every float tensor over all batches (x, 2x, relu(2x))', async () => {
    const t = await calibrate(model, feedsOf(data), { algo: 'minmax' });
    const ax = Math.max(...all.map(Math.abs));
    const az = Math.max(0, ...all.map((v) => 2 * v));
    expect(t.names).toEqual(['x', 'y', 'z']);
    expect(t.algorithm).toBe('minmax');
    expect(t.get('x')!.scale).toBe(Math.fround(ax / 127));
    expect(t.get('y')!.scale).toBe(Math.fround((2 * ax) / 127));
    expect(t.get('z')!.scale).toBe(Math.fround(az / 127));
    expect(t.get('z')!.absMax).toBe(az);
  });

  it('entropy and percentile: the two passes over batches equal calibrating the concatenated activations', async () => {
    for (const algo of ['entropy', 'percentile'] as const) {
      const t = await calibrate(model, feedsOf(data), { algo, percentile: 99 });
      const z = all.map((v) => Math.fround(Math.max(0, 2 * v)));
      expect(t.get('z')!.scale, algo).toBe(Math.fround(thresholdOf(statsOf(z), algo, 99) / 127));
      expect(t.get('x')!.scale, algo).toBe(Math.fround(thresholdOf(statsOf(all), algo, 99) / 127));
    }
  });

  it('takes arrays, one-shot (async) generators and re-iterable feeds alike; reports progress; honours batches', async () => {
    const ref = await calibrate(model, feedsOf(data));
    async function* gen() { for (const f of feedsOf(data)) yield f; }
    function* syncGen() { yield* feedsOf(data); }
    let iterations = 0;
    const reiterable = { count: 3, [Symbol.asyncIterator]: () => { iterations++; return gen(); } };
    const progress: CalibrationProgress[] = [];
    for (const feeds of [gen(), syncGen(), reiterable]) {
      const t = await calibrate(model, feeds, { onProgress: (p) => progress.push(p) });
      expect(t.sameScales(ref)).toBe(true);
    }
    expect(iterations).toBe(2); // read once per pass, not buffered
    // generator: pass 1 has no total, pass 2 knows it; the count of a re-iterable feed is known from the start
    expect(progress.slice(0, 6).map((p) => [p.pass, p.batch, p.done, p.total])).toEqual([
      [1, 1, 1, undefined], [1, 2, 2, undefined], [1, 3, 3, undefined], [2, 1, 4, 6], [2, 2, 5, 6], [2, 3, 6, 6],
    ]);
    const last = progress.at(-1)!;
    expect([last.pass, last.passes, last.batches, last.total, last.etaMs]).toEqual([2, 2, 3, 6, 0]);
    expect(progress[12]!.total).toBe(6);
    // batches: 1 uses only the first batch
    const one = await calibrate(model, feedsOf(data), { algo: 'minmax', batches: 1 });
    expect(one.get('x')!.scale).toBe(Math.fround(Math.max(...Array.from(data[0]!, Math.abs)) / 127));
    // a session is used as it is
    const s = await InferenceSession.create(model);
    expect((await calibrate(s, feedsOf(data))).sameScales(ref)).toBe(true);
  });

  it('rejects bad batches and options with clear errors', async () => {
    const good = feedsOf(data);
    const wrong = [...good, { x: new Tensor('float32', new Float32Array(6), [2, 3]) }];
    expect(await rejection(calibrate(model, wrong))).toMatch(/calibration batch 3: input 'x' needs dims \[N,4\], got \[2,3\] \(dim 1 must be 4\)/);
    expect(await rejection(calibrate(model, [{ y: good[0]!.x }]))).toMatch(/calibration batch 0: unknown input 'y'/);
    expect(await rejection(calibrate(model, [{}]))).toMatch(/calibration batch 0: missing input 'x'/);
    expect(await rejection(calibrate(model, [{ x: new Tensor('int32', new Int32Array(4), [1, 4]) }]))).toMatch(/input 'x' must be float32, got int32/);
    expect(await rejection(calibrate(model, []))).toMatch(/calibration data gave no batches/);
    expect(await rejection(calibrate(model, good, { algo: 'kl' as 'entropy' }))).toMatch(/must be one of entropy, minmax, percentile, got 'kl'/);
    expect(await rejection(calibrate(model, good, { algo: 'percentile', percentile: 0 }))).toMatch(/percentile must be in \(0, 100\]/);
    expect(await rejection(calibrate(model, good, { batches: 0 }))).toMatch(/batches must be an integer >= 1/);
    expect(await rejection(calibrate(model, 5 as unknown as []))).toMatch(/feeds must be an iterable/);
  });
});

describe('calibration data folders: tensors', () => {
  const x: ValueInfo[] = [{ name: 'x', dtype: 'float32', shape: ['N', 4] }];

  it('one input: every .npy/.pb file is a batch, in natural name order; float64 files are converted', async () => {
    const dir = path.join(tmp, 'single');
    fs.mkdirSync(dir);
    writeNpy(path.join(dir, 'x_10.npy'), [1, 4], [10, 10, 10, 10]);
    writeNpy(path.join(dir, 'x_2.npy'), [2, 4], [2, 2, 2, 2, 2, 2, 2, 2], '<f8');
    writeTensorFile(path.join(dir, 'x_1.pb'), HostTensor.fromNumbers('float32', [1, 4], [1, 1, 1, 1]), 'x');
    fs.writeFileSync(path.join(dir, 'README.txt'), 'ignored');
    fs.writeFileSync(path.join(dir, '.hidden.npy'), 'ignored');
    const feeds = calibrationFeedsFromDir(dir, x);
    expect(feeds.count).toBe(3);
    const got = await collect(feeds);
    expect(got.map((b) => (b.x!.data as Float32Array)[0])).toEqual([1, 2, 10]);
    expect(got[1]!.x!.type).toBe('float32');
    expect(got[1]!.x!.dims).toEqual([2, 4]);
    // and calibrate reads it once per pass
    const t = await calibrate(scaleReluModel(), feeds, { algo: 'minmax' });
    expect(t.get('y')!.amax).toBeCloseTo(20, 5);
  });

  it('several inputs: <input>_<k> files or one subfolder per input', async () => {
    const ab: ValueInfo[] = [{ name: 'a', dtype: 'float32', shape: [1, 4] }, { name: 'b', dtype: 'float32', shape: [1, 4] }];
    const flat = path.join(tmp, 'flat');
    fs.mkdirSync(flat);
    for (const k of [0, 1]) for (const n of ['a', 'b']) writeNpy(path.join(flat, `${n}_${k}.npy`), [1, 4], [k, k, n === 'a' ? 1 : 2, 0]);
    const f = await collect(calibrationFeedsFromDir(flat, ab));
    expect(f.map((b) => [Array.from(b.a!.data as Float32Array), Array.from(b.b!.data as Float32Array)])).toEqual([
      [[0, 0, 1, 0], [0, 0, 2, 0]], [[1, 1, 1, 0], [1, 1, 2, 0]],
    ]);
    const sub = path.join(tmp, 'sub');
    for (const n of ['a', 'b']) {
      fs.mkdirSync(path.join(sub, n), { recursive: true });
      for (const k of [0, 1]) writeNpy(path.join(sub, n, `batch${k}.npy`), [1, 4], [k, k, n === 'a' ? 1 : 2, 0]);
    }
    const s = await collect(calibrationFeedsFromDir(sub, ab));
    expect(s.map((b) => [Array.from(b.a!.data as Float32Array), Array.from(b.b!.data as Float32Array)])).toEqual(
      f.map((b) => [Array.from(b.a!.data as Float32Array), Array.from(b.b!.data as Float32Array)]));
    const t = await calibrate(twoInputModel(), calibrationFeedsFromDir(sub, ab), { algo: 'minmax' });
    expect(t.names).toEqual(['a', 'b', 's', 'out']);
    expect(t.get('s')!.amax).toBeCloseTo(3, 5);
  });

  it('bad folders: missing, empty, mismatched shapes, unpaired or unnamed files, uneven subfolders', async () => {
    const ab: ValueInfo[] = [{ name: 'a', dtype: 'float32', shape: [1, 4] }, { name: 'b', dtype: 'float32', shape: [1, 4] }];
    expect(() => calibrationFeedsFromDir(path.join(tmp, 'nope'), x)).toThrow(/calibration data folder '.*nope' does not exist/);
    const empty = path.join(tmp, 'empty');
    fs.mkdirSync(empty);
    expect(() => calibrationFeedsFromDir(empty, x)).toThrow(/holds no \.npy\/\.pb tensors or \.png\/\.jpg images/);
    const bad = path.join(tmp, 'badshape');
    fs.mkdirSync(bad);
    writeNpy(path.join(bad, '0.npy'), [1, 4], [0, 0, 0, 0]);
    writeNpy(path.join(bad, '1.npy'), [1, 5], [0, 0, 0, 0, 0]);
    expect(await rejection(calibrate(scaleReluModel(), calibrationFeedsFromDir(bad, x)))).toMatch(/calibration file '.*badshape\/1\.npy': input 'x' needs dims \[N,4\], got \[1,5\]/);
    fs.writeFileSync(path.join(bad, '2.npy'), 'not numpy');
    expect(await rejection(collect(calibrationFeedsFromDir(bad, [{ name: 'x', dtype: 'float32' }])))).toMatch(/'.*2\.npy': not a \.npy file/);
    const unpaired = path.join(tmp, 'unpaired');
    fs.mkdirSync(unpaired);
    writeNpy(path.join(unpaired, 'a_0.npy'), [1, 4], [0, 0, 0, 0]);
    writeNpy(path.join(unpaired, 'b_0.npy'), [1, 4], [0, 0, 0, 0]);
    writeNpy(path.join(unpaired, 'a_1.npy'), [1, 4], [0, 0, 0, 0]);
    expect(() => calibrationFeedsFromDir(unpaired, ab)).toThrow(/'.*a_1\.npy' has no partner for input 'b' \(expected b_1\.npy or \.pb\)/);
    writeNpy(path.join(unpaired, 'c_1.npy'), [1, 4], [0, 0, 0, 0]);
    expect(() => calibrationFeedsFromDir(unpaired, ab)).toThrow(/'.*c_1\.npy' names no input: with several inputs, files are named <input>_<k>/);
    const uneven = path.join(tmp, 'uneven');
    fs.mkdirSync(path.join(uneven, 'a'), { recursive: true });
    fs.mkdirSync(path.join(uneven, 'b'));
    writeNpy(path.join(uneven, 'a', '0.npy'), [1, 4], [0, 0, 0, 0]);
    expect(() => calibrationFeedsFromDir(uneven, ab)).toThrow(/'.*uneven\/b' holds 0 tensor files but '.*uneven\/a' holds 1/);
  });
});

describe('calibration data folders: images', () => {
  function png(file: string, w: number, h: number, rgba: number[]): void {
    const p = new pngjs.PNG({ width: w, height: h });
    p.data.set(rgba);
    fs.writeFileSync(file, pngjs.PNG.sync.write(p));
  }
  const input = (shape: (number | string)[]): ValueInfo[] => [{ name: 'img', dtype: 'float32', shape }];

  it('PNG: resize (bilinear, half-pixel), scale, mean, std, RGB/BGR, NCHW/NHWC', async () => {
    const dir = path.join(tmp, 'png');
    fs.mkdirSync(dir);
    // 4x2 image: left 2x2 block R=10 G=20 B=30, right block R=50 G=60 B=70 (alpha 255)
    const px: number[] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 4; x++) px.push(...(x < 2 ? [10, 20, 30, 255] : [50, 60, 70, 255]));
    png(path.join(dir, 'a.png'), 4, 2, px);
    // to 2x1: each output pixel is the mean of its 2x2 block
    const spec = { resize: [2, 1] as [number, number], scale: 1, mean: [10, 20, 30], std: [2, 4, 8] };
    const [nchw] = await collect(calibrationFeedsFromDir(dir, input([1, 3, 1, 2]), { preprocess: spec }));
    expect(nchw!.img!.dims).toEqual([1, 3, 1, 2]);
    expect(Array.from(nchw!.img!.data as Float32Array)).toEqual([0, 20, 0, 10, 0, 5]);
    const [bgr] = await collect(calibrationFeedsFromDir(dir, input([1, 3, 1, 2]), { preprocess: { ...spec, mean: [30, 20, 10], bgr: true } }));
    expect(Array.from(bgr!.img!.data as Float32Array)).toEqual([0, 20, 0, 10, 0, 5]);
    // NHWC taken from the input shape; the default size is the input's own
    const [nhwc] = await collect(calibrationFeedsFromDir(dir, input([1, 2, 4, 3]), { preprocess: { scale: 1, mean: [10, 20, 30], std: [2, 4, 8] } }));
    expect(nhwc!.img!.dims).toEqual([1, 2, 4, 3]);
    const row = [0, 0, 0, 0, 0, 0, 20, 10, 5, 20, 10, 5];
    expect(Array.from(nhwc!.img!.data as Float32Array)).toEqual([...row, ...row]);
    // default scale 1/255, one channel: luminance
    const [gray] = await collect(calibrationFeedsFromDir(dir, input([1, 1, 2, 4]), {}));
    expect((gray!.img!.data as Float32Array)[0]).toBeCloseTo((0.299 * 10 + 0.587 * 20 + 0.114 * 30) / 255, 6);
  });

  it('JPEG and PNG mixed; batches of the fixed batch dim; leftovers noted; a symbolic model input uses each image as it is', async () => {
    const dir = path.join(tmp, 'mixed');
    fs.mkdirSync(dir);
    const w = 16, h = 16;
    const grey = new Uint8Array(w * h * 4).fill(128);
    fs.writeFileSync(path.join(dir, '1.jpg'), jpeg.encode({ width: w, height: h, data: grey }, 95).data);
    png(path.join(dir, '2.png'), w, h, Array.from(grey));
    png(path.join(dir, '3.png'), w, h, Array.from(grey));
    expect(decodeImage(path.join(dir, '1.jpg')).width).toBe(16);
    const feeds = calibrationFeedsFromDir(dir, input([2, 3, 8, 8]), { preprocess: { mean: [0.5], std: [0.5] } });
    expect(feeds.count).toBe(1);
    expect(feeds.notes).toEqual(['1 image(s) left out: 3 images do not fill batches of 2']);
    const [b] = await collect(feeds);
    expect(b!.img!.dims).toEqual([2, 3, 8, 8]);
    for (const v of b!.img!.data as Float32Array) expect(Math.abs(v - (128 / 255 - 0.5) / 0.5)).toBeLessThan(0.03);
    const sym = await collect(calibrationFeedsFromDir(dir, input(['n', 3, 'h', 'w'])));
    expect(sym.map((t) => t.img!.dims)).toEqual([[1, 3, 16, 16], [1, 3, 16, 16], [1, 3, 16, 16]]);
  });

  it('bad images and specs: corrupt file, mixed kinds, wrong input, size mismatch', async () => {
    const dir = path.join(tmp, 'badimg');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'a.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]));
    expect(await rejection(collect(calibrationFeedsFromDir(dir, input([1, 3, 4, 4]))))).toMatch(/cannot decode image '.*a\.png'/);
    fs.writeFileSync(path.join(dir, 'a.png'), 'text');
    expect(await rejection(collect(calibrationFeedsFromDir(dir, input([1, 3, 4, 4]))))).toMatch(/'.*a\.png' is neither a PNG nor a JPEG image/);
    png(path.join(dir, 'a.png'), 4, 4, new Array(64).fill(0));
    expect(() => calibrationFeedsFromDir(dir, input([1, 5, 4, 4]))).toThrow(/has 5 channels in NCHW; images give 1 or 3/);
    expect(() => calibrationFeedsFromDir(dir, [{ name: 'ids', dtype: 'int64', shape: [1, 4] }])).toThrow(/images become float32 tensors, but input 'ids' is int64/);
    expect(() => calibrationFeedsFromDir(dir, input([1, 3, 4, 4]), { preprocess: { mean: [1, 2] } })).toThrow(/mean has 2 values, input 'img' has 3 channels/);
    expect(await rejection(collect(calibrationFeedsFromDir(dir, input([1, 3, 4, 4]), { preprocess: { resize: [5, 4] } })))).toMatch(/preprocessed to \[1,3,4,5\]: input 'img' needs dims \[1,3,4,4\]/);
    writeNpy(path.join(dir, 'b.npy'), [1, 4], [0, 0, 0, 0]);
    expect(() => calibrationFeedsFromDir(dir, input([1, 3, 4, 4]))).toThrow(/mixes tensor files \(b\.npy\) and images \(a\.png\)/);
  });
});
