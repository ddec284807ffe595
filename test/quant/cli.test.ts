/**
 * `twinfer calibrate` end to end on a small CNN built in code: the real binary for the main paths
 * (JSON and TensorRT output with identical scales, progress on stderr, reuse of an existing table,
 * exit codes), and the command in-process for the many option and bad-input cases (fast).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import pngjs from 'pngjs';
import '../../src/node.js';
import { calibrateCommand } from '../../src/cli/calibrate.js';
import { readCalibrationTable } from '../../src/quant/node-data.js';
import { seededRandom } from '../../src/cli/run.js';
import { makeTmpDir } from '../helpers/tmp.js';
import { smallCnn, writeNpy } from './models.js';

const dir = makeTmpDir('quant-cli');
const model = path.join(dir, 'cnn.onnx');
const data = path.join(dir, 'data');
const images = path.join(dir, 'images');
const p = (f: string) => path.join(dir, f);

beforeAll(() => {
  fs.writeFileSync(model, smallCnn({ batch: 1 }));
  fs.mkdirSync(data);
  fs.mkdirSync(images);
  const rand = seededRandom(9);
  for (let k = 0; k < 4; k++) writeNpy(path.join(data, `image_${k}.npy`), [1, 3, 8, 8], Array.from({ length: 192 }, () => rand() * 2 - 1));
  for (let k = 0; k < 3; k++) {
    const png = new pngjs.PNG({ width: 12, height: 10 });
    for (let i = 0; i < png.data.length; i++) png.data[i] = i % 4 === 3 ? 255 : Math.floor(rand() * 256);
    fs.writeFileSync(path.join(images, `${k}.png`), pngjs.PNG.sync.write(png));
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function cli(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [path.resolve('bin/twinfer.js'), ...args], { encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The command in-process: its exit code, stdout and stderr, or the error it throws. */
async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '', stderr = '';
  const code = await calibrateCommand(args, { write: (s: string) => (stdout += s) }, { write: (s: string) => (stderr += s) });
  return { code, stdout, stderr };
}

async function failure(args: string[]): Promise<string> {
  try { await run(args); } catch (e) { return (e as Error).message; }
  throw new Error(`expected 'calibrate ${args.join(' ')}' to fail`);
}

describe('twinfer calibrate (binary)', () => {
  it('writes JSON and TensorRT tables with the same scales, shows progress, then reuses an existing table', () => {
    const json = cli(['calibrate', model, '--data', data, '--out', p('t.json')]);
    expect(json.stderr).toMatch(/calibrating \[#+\] pass 2\/2 batch 4\/4 +\d+\.\ds elapsed, 0\.0s left/);
    expect(json.code).toBe(0);
    expect(json.stdout).toMatch(/^calibrated (\d+) tensors over 4 batches of tensors \(entropy\) in \d+\.\ds -> .*t\.json \(JSON\)/);
    const trt = cli(['calibrate', model, '--data', data, '--out', p('t.cache')]);
    expect(trt.code).toBe(0);
    expect(trt.stdout).toMatch(/-> .*t\.cache \(TRT-100000-EntropyCalibration2\)/);
    const a = readCalibrationTable(p('t.json')), b = readCalibrationTable(p('t.cache'));
    expect(a.size).toBeGreaterThan(4);
    expect(a.has('image') && a.has('logits')).toBe(true);
    expect(a.sameScales(b)).toBe(true);
    expect(fs.readFileSync(p('t.cache'), 'utf8')).toBe(a.toTensorRT());
    // the table exists: read and reused, not recalibrated (no --data needed)
    const before = fs.readFileSync(p('t.cache'), 'utf8');
    const again = cli(['calibrate', model, '--out', p('t.cache')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(new RegExp(`t\\.cache exists: read ${a.size} tensors \\(TRT-100000-EntropyCalibration2\\); calibration skipped`));
    expect(again.stdout).toMatch(new RegExp(`it covers ${a.size} of the model's ${a.size} float activation tensors`));
    expect(again.stderr).not.toMatch(/calibrating/);
    expect(fs.readFileSync(p('t.cache'), 'utf8')).toBe(before);
  });

  it('exits 2 with one clear line on bad input; usage lists the command', () => {
    const r = cli(['calibrate', model, '--data', p('missing'), '--out', p('x.json')]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toMatch(/^twinfer: INVALID_ARGUMENT: calibration data folder '.*missing' does not exist$/);
    expect(fs.existsSync(p('x.json'))).toBe(false);
    expect(cli(['--help']).stdout).toMatch(/twinfer calibrate MODEL --data DIR --out TABLE/);
  });
});

describe('twinfer calibrate (in-process)', () => {
  it('minmax and percentile tables; --batches', async () => {
    const r = await run([model, '--data', data, '--out', p('mm.cache'), '--algo', 'minmax', '--batches', '2']);
    expect(r.stdout).toMatch(/over 2 batches of tensors \(minmax\)/);
    expect(r.stderr).toMatch(/pass 1\/1 batch 2\/2/);
    expect(fs.readFileSync(p('mm.cache'), 'utf8').split('\n')[0]).toBe('TRT-100000-MinMaxCalibration');
    await run([model, '--data', data, '--out', p('pc.json'), '--algo', 'percentile', '--percentile', '99.9']);
    const pc = readCalibrationTable(p('pc.json'));
    expect([pc.algorithm, pc.percentile]).toEqual(['percentile', 99.9]);
    const mm = readCalibrationTable(p('mm.cache'));
    // a percentile threshold never exceeds the largest |x| seen
    for (const [, e] of pc) expect(e.amax).toBeLessThanOrEqual(e.absMax! * (1 + 1e-6));
    expect(mm.names).toEqual(pc.names);
  });

  it('images: preprocessing from flags, a JSON file or inline JSON give the same table', async () => {
    const flags = await run([model, '--data', images, '--out', p('img1.json'), '--resize', '8x8', '--mean', '0.5,0.5,0.5', '--std', '0.25', '--scale', '1/255', '--layout', 'nchw', '--bgr']);
    expect(flags.stdout).toMatch(/over 3 batches of images/);
    const spec = { resize: '8x8', mean: [0.5, 0.5, 0.5], std: [0.25], scale: '1/255', layout: 'nchw', bgr: true };
    fs.writeFileSync(p('pre.json'), JSON.stringify(spec));
    await run([model, '--data', images, '--out', p('img2.json'), '--preprocess', p('pre.json')]);
    await run([model, '--data', images, '--out', p('img3.json'), '--preprocess', JSON.stringify(spec)]);
    const t1 = readCalibrationTable(p('img1.json'));
    expect(t1.sameScales(readCalibrationTable(p('img2.json')))).toBe(true);
    expect(t1.sameScales(readCalibrationTable(p('img3.json')))).toBe(true);
    // without --bgr the input's statistics differ
    await run([model, '--data', images, '--out', p('img4.json'), '--preprocess', JSON.stringify({ ...spec, bgr: false })]);
    expect(t1.sameScales(readCalibrationTable(p('img4.json')))).toBe(false);
  });

  it('an existing hand-written TensorRT table is reused; one naming none of the model tensors warns', async () => {
    fs.writeFileSync(p('hand.cache'), 'TRT-8601-EntropyCalibration2\r\nother_model_input: 3c010a14\r\n');
    const r = await run([model, '--out', p('hand.cache')]);
    expect(r.stdout).toMatch(/read 1 tensors \(TRT-8601-EntropyCalibration2\); calibration skipped/);
    expect(r.stdout).toMatch(/covers 0 of the model's \d+ float activation tensors/);
    expect(r.stderr).toMatch(/warning: '.*hand\.cache' names none of this model's tensors/);
  });

  it('--smooth: a JSON table with the factors, three passes; refused for a TensorRT table or a bad alpha', async () => {
    const r = await run([model, '--data', data, '--out', p('sm.json'), '--algo', 'percentile', '--smooth', '0.5']);
    expect(r.stdout).toMatch(/\(percentile 99\.99, 4 layers smoothed with alpha 0\.5\)/);
    expect(r.stderr).toMatch(/pass 3\/3 batch 4\/4/);
    const t = readCalibrationTable(p('sm.json'));
    expect(t.smoothing!.alpha).toBe(0.5);
    expect(t.smoothing!.factors.size).toBe(4);
    expect(await failure([model, '--data', data, '--out', p('sm.cache'), '--smooth', '0.5'])).toMatch(/--smooth needs a JSON table/);
    expect(await failure([model, '--data', data, '--out', p('sm2.json'), '--smooth', '2'])).toMatch(/smoothing alpha must be a number in \[0, 1\], got 2/);
    expect(fs.existsSync(p('sm.cache'))).toBe(false);
  });

  it('bad inputs: corrupt table, mismatched tensor shapes, bad options', async () => {
    fs.writeFileSync(p('corrupt.cache'), 'TRT-8601-EntropyCalibration2\nimage: 3c010a14\nstem garbage\n');
    expect(await failure([model, '--data', data, '--out', p('corrupt.cache')])).toMatch(/calibration table '.*corrupt\.cache' line 3: expected 'tensor_name: <scale as 8 hex digits>', got 'stem garbage'/);
    fs.writeFileSync(p('corrupt.json'), '{"tensors": {"image": {"scale": "big"}}}');
    expect(await failure([model, '--data', data, '--out', p('corrupt.json')])).toMatch(/corrupt\.json' line 1: tensor 'image': "scale" must be a finite number/);
    const wrong = path.join(dir, 'wrong');
    fs.mkdirSync(wrong);
    writeNpy(path.join(wrong, '0.npy'), [1, 3, 8, 8], new Array(192).fill(0));
    writeNpy(path.join(wrong, '1.npy'), [1, 3, 4, 4], new Array(48).fill(0));
    expect(await failure([model, '--data', wrong, '--out', p('w.json')])).toMatch(/calibration file '.*wrong\/1\.npy': input 'image' needs dims \[1,3,8,8\], got \[1,3,4,4\]/);
    expect(fs.existsSync(p('w.json'))).toBe(false);
    expect(await failure([model, '--data', data])).toMatch(/calibrate needs --out TABLE/);
    expect(await failure([model, '--out', p('n.json')])).toMatch(/calibrate needs --data DIR/);
    expect(await failure([model, '--data', data, '--out', p('n.json'), '--algo', 'kl'])).toMatch(/must be one of entropy, minmax, percentile, got 'kl'/);
    expect(await failure([model, '--data', data, '--out', p('n.json'), '--percentile', '99'])).toMatch(/--percentile applies to --algo percentile, not entropy/);
    expect(await failure([model, '--data', data, '--out', p('n.json'), '--algo', 'percentile', '--percentile', '101'])).toMatch(/percentile must be in \(0, 100\], got 101/);
    expect(await failure([model, '--data', data, '--out', p('n.json'), '--batches', '0'])).toMatch(/--batches must be an integer >= 1/);
    expect(await failure([model, '--data', images, '--out', p('n.json'), '--preprocess', '{}', '--resize', '8x8'])).toMatch(/give either --preprocess or --resize/);
    expect(await failure([model, '--data', images, '--out', p('n.json'), '--resize', '8by8'])).toMatch(/--resize: must be WIDTHxHEIGHT/);
    expect(await failure([model, '--data', images, '--out', p('n.json'), '--preprocess', '{"mean": [1], "sdt": [2]}'])).toMatch(/--preprocess: unknown key "sdt"/);
    expect(await failure([model, '--data', images, '--out', p('n.json'), '--preprocess', p('none.json')])).toMatch(/--preprocess: cannot read '.*none\.json'/);
    expect(await failure([model, '--data', data, '--out', p('n.json'), '--resize', '8x8'])).toMatch(/preprocessing options apply to images/);
    expect(fs.existsSync(p('n.json'))).toBe(false);
  });
});
