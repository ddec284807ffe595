/** The `twinfer` command (in the spirit of trtexec): inspect, run, onnx-test. */
import '../node.js';
import { TwinferError } from '../errors.js';
import type { BackendName } from '../api/session.js';
import { parseArgs, one, num, type ParsedArgs } from './args.js';
import type { OptLevel } from '../passes/index.js';
import { inspectModel, formatInspect, inspectOptimized, formatOptimized } from './inspect.js';
import { runModel, formatRun } from './run.js';
import { listCases, runCase, summarize, type CaseResult } from './onnx-test.js';
import { calibrateCommand, CALIBRATE_USAGE } from './calibrate.js';
import { devicesCommand, DEVICES_USAGE } from './devices.js';
import { PRECISION_OPTS, PRECISION_USAGE, precisionArgs } from './precision-args.js';

const USAGE = `usage:
  twinfer inspect MODEL [--optimize [--opt-level N] [--shape NAME=1x3x224x224]... ${PRECISION_USAGE}] [--json]
  twinfer run MODEL [--backend B] [--opt-level N] [--input NAME=FILE]... [--input-dir DIR] [--shape NAME=1x3x224x224]...
                    [--output-dir DIR] [--iterations N] [--warmup N] [--seed N] [--dla-core N] [--json]
                    ${PRECISION_USAGE}
  twinfer onnx-test DIR... [--backend B] [--opt-level N] [--filter REGEX] [--rtol 1e-3] [--atol 1e-5] [--json]
${CALIBRATE_USAGE}
${DEVICES_USAGE}
backends: cpu, webgpu, cuda, tensorrt (see \`twinfer devices\`); a comma list is a preference order with
fallback, e.g. --backend webgpu,cpu. --dla-core N (tensorrt): build for a Jetson DLA core, GPU fallback.`;

function pairs(values: string[] | undefined, what: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new TwinferError('INVALID_ARGUMENT', `${what} must be NAME=VALUE, got '${v}'`);
    m.set(v.slice(0, eq), v.slice(eq + 1));
  }
  return m;
}

function parseShape(s: string): number[] {
  const dims = s.split(/[x,]/).map(Number);
  if (s === '' || dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw new TwinferError('INVALID_ARGUMENT', `--shape dims must look like 1x3x224x224, got '${s}'`);
  return dims;
}

function optLevel(a: ParsedArgs): OptLevel {
  const n = num(a, 'opt-level', 2, { min: 0, integer: true });
  if (n > 2) throw new TwinferError('INVALID_ARGUMENT', `--opt-level must be 0, 1 or 2, got ${n}`);
  return n as OptLevel;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') { console.log(USAGE); return cmd ? 0 : 2; }
  if (cmd === 'inspect') {
    const a = parseArgs(rest, ['opt-level', 'shape', ...PRECISION_OPTS], ['json', 'optimize']);
    if (a.positional.length !== 1) throw new TwinferError('INVALID_ARGUMENT', 'inspect takes one MODEL');
    if (a.flags.has('optimize')) {
      const shapes = new Map([...pairs(a.values.get('shape'), '--shape')].map(([k, v]) => [k, parseShape(v)]));
      const r = await inspectOptimized(a.positional[0]!, optLevel(a), shapes, precisionArgs(a));
      console.log(a.flags.has('json') ? JSON.stringify(r, null, 2) : formatOptimized(a.positional[0]!, r));
      return 0;
    }
    if (PRECISION_OPTS.some((k) => a.values.has(k))) throw new TwinferError('INVALID_ARGUMENT', '--precision, --calib and --precision-constraints need --optimize');
    const r = await inspectModel(a.positional[0]!);
    console.log(a.flags.has('json') ? JSON.stringify(r, null, 2) : formatInspect(a.positional[0]!, r));
    return 0;
  }
  if (cmd === 'run') {
    const a = parseArgs(rest, ['backend', 'input', 'input-dir', 'shape', 'output-dir', 'iterations', 'warmup', 'seed', 'opt-level', 'dla-core', ...PRECISION_OPTS], ['json']);
    if (a.positional.length !== 1) throw new TwinferError('INVALID_ARGUMENT', 'run takes one MODEL');
    const shapes = new Map([...pairs(a.values.get('shape'), '--shape')].map(([k, v]) => [k, parseShape(v)]));
    const opts = {
      backend: (one(a, 'backend') ?? 'cpu') as BackendName,
      inputs: pairs(a.values.get('input'), '--input'),
      shapes,
      iterations: num(a, 'iterations', 10, { min: 1, integer: true }),
      warmup: num(a, 'warmup', 2, { min: 0, integer: true }),
      seed: num(a, 'seed', 42, { min: 0, integer: true }),
      optLevel: optLevel(a),
      precision: precisionArgs(a),
      ...(one(a, 'dla-core') !== undefined ? { dlaCore: num(a, 'dla-core', 0, { min: 0, integer: true }) } : {}),
      ...(one(a, 'input-dir') !== undefined ? { inputDir: one(a, 'input-dir')! } : {}),
      ...(one(a, 'output-dir') !== undefined ? { outputDir: one(a, 'output-dir')! } : {}),
    };
    const r = await runModel(a.positional[0]!, opts);
    console.log(a.flags.has('json') ? JSON.stringify(r, null, 2) : formatRun(r));
    return 0;
  }
  if (cmd === 'calibrate') return calibrateCommand(rest);
  if (cmd === 'devices') return devicesCommand(rest);
  if (cmd === 'onnx-test') {
    const a = parseArgs(rest, ['backend', 'filter', 'rtol', 'atol', 'opt-level'], ['json']);
    if (a.positional.length === 0) throw new TwinferError('INVALID_ARGUMENT', 'onnx-test takes at least one DIR');
    let filter: RegExp | undefined;
    const f = one(a, 'filter');
    if (f !== undefined) {
      try { filter = new RegExp(f); } catch (e) { throw new TwinferError('INVALID_ARGUMENT', `--filter is not a valid regular expression: ${(e as Error).message}`); }
    }
    const opts = { backend: one(a, 'backend') ?? 'cpu', rtol: num(a, 'rtol', 1e-3, { min: 0 }), atol: num(a, 'atol', 1e-5, { min: 0 }), optLevel: optLevel(a) };
    const json = a.flags.has('json');
    const results: CaseResult[] = [];
    for (const dir of listCases(a.positional, filter)) {
      const r = await runCase(dir, opts);
      results.push(r);
      if (!json) console.log(`${r.status.padEnd(11)} ${r.name}${r.reason ? `  ${r.reason}` : ''}`);
    }
    const s = summarize(results);
    if (json) console.log(JSON.stringify({ cases: results, summary: s }));
    else {
      if (s.errors) console.log(`(${s.errors} of the failures are errors)`);
      console.log(`${s.passed} passed, ${s.failed + s.errors} failed, ${s.skipped} skipped`);
    }
    return s.failed + s.errors > 0 ? 1 : 0;
  }
  throw new TwinferError('INVALID_ARGUMENT', `unknown command '${cmd}'\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (e instanceof TwinferError) console.error(`twinfer: ${e.message}`);
    else console.error(`twinfer: internal error: ${(e as Error)?.stack ?? e}`);
    process.exitCode = e instanceof TwinferError ? 2 : 70;
  },
);
