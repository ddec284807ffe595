/**
 * Writes resnet50.onnx, mobilenetv2.onnx and bert.onnx into a folder, for machines that should
 * not rebuild them (or to inspect them with other tools):
 *   node dist/bench/models/write.js OUTDIR [--seed N] [--bert-layers L] [--bert-vocab V]
 * Full-size files are large (ResNet-50 ~100 MB, BERT-base ~440 MB); running this script on the
 * target machine is usually cheaper than carrying them.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildBert, buildMobileNetV2, buildResNet50 } from './index.js';

const args = process.argv.slice(2);
const flag = (k: string): number | undefined => {
  const i = args.indexOf(`--${k}`);
  if (i < 0) return undefined;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < 0) throw new Error(`--${k} needs a non-negative integer, got '${args[i + 1]}'`);
  args.splice(i, 2);
  return v;
};
const seed = flag('seed'), layers = flag('bert-layers'), vocab = flag('bert-vocab');
const outDir = args[0];
if (!outDir || args.length !== 1) {
  console.error('usage: node dist/bench/models/write.js OUTDIR [--seed N] [--bert-layers L] [--bert-vocab V]');
  process.exit(2);
}
fs.mkdirSync(outDir, { recursive: true });
const s = seed !== undefined ? { seed } : {};
const models: [string, () => Uint8Array][] = [
  ['resnet50.onnx', () => buildResNet50(s)],
  ['mobilenetv2.onnx', () => buildMobileNetV2(s)],
  ['bert.onnx', () => buildBert({ ...s, ...(layers !== undefined ? { layers } : {}), ...(vocab !== undefined ? { vocab } : {}) })],
];
for (const [file, build] of models) {
  const t0 = performance.now();
  const bytes = build();
  const p = path.join(outDir, file);
  fs.writeFileSync(p, bytes);
  console.log(`${p}: ${(bytes.length / 2 ** 20).toFixed(1)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}
