/**
 * `twinfer calibrate MODEL --data DIR --out TABLE`: INT8 calibration on the CPU reference backend
 * (src/quant), writing a JSON table (.json) or TensorRT's calibration cache (any other name). An
 * existing TABLE is read and reused instead (Paddle-TRT's use_calib_mode): delete it to calibrate
 * again. Progress (batches done, time left) goes to stderr, the summary to stdout.
 */
import * as fs from 'node:fs';
import { InferenceSession } from '../api/session.js';
import { TwinferError } from '../errors.js';
import { isFloat } from '../ir/dtype.js';
import type { Graph } from '../ir/graph.js';
import type { OptLevel } from '../passes/index.js';
import { calibrate, type CalibrationProgress } from '../quant/calibrate.js';
import { checkAlgo, checkPercentile, DEFAULT_PERCENTILE } from '../quant/calibrators.js';
import { checkAlpha } from '../quant/smooth.js';
import { calibrationFeedsFromDir, readCalibrationTable, writeCalibrationTable } from '../quant/node-data.js';
import { parsePreprocessSpec, parseNumberList, parseScale, parseSize, type PreprocessSpec } from '../quant/preprocess.js';
import type { CalibrationTable } from '../quant/table.js';
import { parseArgs, one, num, type ParsedArgs } from './args.js';

export const CALIBRATE_USAGE = `  twinfer calibrate MODEL --data DIR --out TABLE(.json|.cache) [--algo entropy|minmax|percentile] [--percentile 99.99]
                    [--smooth ALPHA (0..1, JSON tables only)] [--batches N] [--opt-level N] [--preprocess JSON|FILE | --resize WxH --mean a,b,c --std a,b,c
                    --scale 1/255 --layout nchw|nhwc --bgr]`;

const PRE_FLAGS = ['resize', 'mean', 'std', 'scale', 'layout'];

interface Out { write(s: string): unknown; isTTY?: boolean }

export async function calibrateCommand(argv: readonly string[], out: Out = process.stdout, err: Out = process.stderr): Promise<number> {
  const a = parseArgs(argv, ['data', 'out', 'algo', 'percentile', 'smooth', 'batches', 'opt-level', 'preprocess', ...PRE_FLAGS], ['bgr']);
  if (a.positional.length !== 1) throw new TwinferError('INVALID_ARGUMENT', 'calibrate takes one MODEL');
  const model = a.positional[0]!;
  const table = one(a, 'out');
  if (!table) throw new TwinferError('INVALID_ARGUMENT', 'calibrate needs --out TABLE (.json for JSON, else TensorRT calibration-cache text)');
  const algo = checkAlgo(one(a, 'algo') ?? 'entropy');
  const percentile = num(a, 'percentile', DEFAULT_PERCENTILE, { min: 0 });
  checkPercentile(percentile);
  if (one(a, 'percentile') !== undefined && algo !== 'percentile') throw new TwinferError('INVALID_ARGUMENT', `--percentile applies to --algo percentile, not ${algo}`);
  const batches = one(a, 'batches') !== undefined ? num(a, 'batches', 0, { min: 1, integer: true }) : undefined;
  const smoothing = one(a, 'smooth') !== undefined ? checkAlpha(num(a, 'smooth', 0, { min: 0 })) : undefined;
  // Checked before the work: the factors have no place in TensorRT's format.
  if (smoothing !== undefined && !table.toLowerCase().endsWith('.json')) throw new TwinferError('INVALID_ARGUMENT', '--smooth needs a JSON table (--out NAME.json): TensorRT\'s calibration-cache format cannot carry the smoothing factors');
  const level = num(a, 'opt-level', 2, { min: 0, integer: true });
  if (level > 2) throw new TwinferError('INVALID_ARGUMENT', `--opt-level must be 0, 1 or 2, got ${level}`);
  const preprocess = preprocessOf(a);
  const data = one(a, 'data');

  if (fs.existsSync(table)) {
    const t = readCalibrationTable(table);
    const session = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: level as OptLevel });
    const names = activationNames(session.graph);
    const covered = names.filter((n) => t.has(n)).length;
    out.write(`${table} exists: read ${t.size} tensors (${t.header()}); calibration skipped (delete it to calibrate again)\n`);
    out.write(`it covers ${covered} of the model's ${names.length} float activation tensors\n`);
    if (covered === 0 && names.length) err.write(`twinfer: warning: '${table}' names none of this model's tensors: is it another model's table?\n`);
    return 0;
  }
  if (!data) throw new TwinferError('INVALID_ARGUMENT', 'calibrate needs --data DIR (tensor files or images)');

  const session = await InferenceSession.create(model, { backends: ['cpu'], optimizationLevel: level as OptLevel });
  const feeds = calibrationFeedsFromDir(data, session.graph.feedInputs, preprocess ? { preprocess } : {});
  for (const n of feeds.notes) err.write(`twinfer: note: ${n}\n`);
  const bar = new ProgressBar(err);
  const t0 = performance.now();
  let result: CalibrationTable;
  try {
    result = await calibrate(session, feeds, { algo, percentile, ...(batches !== undefined ? { batches } : {}), ...(smoothing !== undefined ? { smoothing } : {}), onProgress: (p) => bar.update(p) });
  } finally { bar.end(); }
  writeCalibrationTable(table, result);
  const used = batches !== undefined ? Math.min(batches, feeds.count) : feeds.count;
  out.write(`calibrated ${result.size} tensors over ${used} batch${used === 1 ? '' : 'es'} of ${feeds.kind} (${algo}${algo === 'percentile' ? ` ${percentile}` : ''}${smoothing !== undefined ? `, ${result.smoothing?.factors.size ?? 0} layers smoothed with alpha ${smoothing}` : ''}) in ${seconds(performance.now() - t0)} -> ${table} (${table.toLowerCase().endsWith('.json') ? 'JSON' : result.header()})\n`);
  return 0;
}

function preprocessOf(a: ParsedArgs): PreprocessSpec | undefined {
  const json = one(a, 'preprocess');
  const flags = PRE_FLAGS.filter((f) => a.values.has(f));
  if (a.flags.has('bgr')) flags.push('bgr');
  if (json !== undefined && flags.length) throw new TwinferError('INVALID_ARGUMENT', `give either --preprocess or --${flags[0]} (and the other preprocessing flags), not both`);
  if (json !== undefined) {
    const inline = json.trimStart().startsWith('{');
    let text = json;
    if (!inline) {
      try { text = fs.readFileSync(json, 'utf8'); } catch (e) { throw new TwinferError('INVALID_ARGUMENT', `--preprocess: cannot read '${json}': ${(e as Error).message}`); }
    }
    let doc: unknown;
    try { doc = JSON.parse(text); } catch (e) { throw new TwinferError('INVALID_ARGUMENT', `--preprocess ${inline ? 'JSON' : `'${json}'`} is not valid JSON: ${(e as Error).message}`); }
    return parsePreprocessSpec(doc, inline ? '--preprocess' : `--preprocess '${json}'`);
  }
  if (!flags.length) return undefined;
  const spec: PreprocessSpec = {};
  const resize = one(a, 'resize'), mean = one(a, 'mean'), std = one(a, 'std'), scale = one(a, 'scale'), layout = one(a, 'layout');
  if (resize !== undefined) spec.resize = parseSize(resize, '--resize');
  if (mean !== undefined) spec.mean = parseNumberList(mean, '--mean');
  if (std !== undefined) {
    spec.std = parseNumberList(std, '--std');
    if (spec.std.includes(0)) throw new TwinferError('INVALID_ARGUMENT', '--std must not hold 0');
  }
  if (scale !== undefined) spec.scale = parseScale(scale, '--scale');
  if (layout !== undefined) {
    const l = layout.toLowerCase();
    if (l !== 'nchw' && l !== 'nhwc') throw new TwinferError('INVALID_ARGUMENT', `--layout must be nchw or nhwc, got '${layout}'`);
    spec.layout = l;
  }
  if (a.flags.has('bgr')) spec.bgr = true;
  return spec;
}

/** Float activation tensors of a graph (what a calibration table should name). */
function activationNames(g: Graph): string[] {
  const names = g.feedInputs.filter((i) => i.dtype && isFloat(i.dtype)).map((i) => i.name);
  for (const n of g.nodes) for (const o of n.outputs) { const t = o ? g.types.get(o) : undefined; if (o && t && isFloat(t.dtype)) names.push(o); }
  return names;
}

function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

/**
 * `calibrating [#####-------------------] pass 1/2 batch 12/20  3.1s elapsed, 7.2s left` (the bar
 * covers both passes). On a
 * terminal the line redraws in place (at most 10 times a second); elsewhere (logs, pipes) one
 * line is printed per second and at the end of each pass.
 */
class ProgressBar {
  private last = 0;
  private drawn = false;
  constructor(private readonly err: Out) {}

  update(p: CalibrationProgress): void {
    const now = performance.now();
    const passEnd = p.batches !== undefined && p.batch === p.batches;
    const tty = !!this.err.isTTY;
    if (!passEnd && now - this.last < (tty ? 100 : 1000)) return;
    this.last = now;
    const width = 24;
    const frac = p.total ? p.done / p.total : undefined;
    const bar = frac !== undefined ? `[${'#'.repeat(Math.round(frac * width)).padEnd(width, '-')}] ` : '';
    const count = p.batches !== undefined ? `batch ${p.batch}/${p.batches}` : `batch ${p.batch}`;
    const left = p.etaMs !== undefined ? `, ${seconds(p.etaMs)} left` : '';
    const line = `calibrating ${bar}pass ${p.pass}/${p.passes} ${count}  ${seconds(p.elapsedMs)} elapsed${left}`;
    if (tty) { this.err.write(`\r${line}\x1b[K`); this.drawn = true; } else this.err.write(`${line}\n`);
  }

  end(): void { if (this.drawn) this.err.write('\n'); }
}
