#!/usr/bin/env node
/**
 * Builds the native CUDA addon with cmake-js into build/native/Release/twinfer_native.node.
 *
 *   node native/build.mjs            `npm run build:native`: fails when it cannot build. Architectures:
 *                                    TWINFER_CUDA_ARCHS, else every default one (native/CMakeLists.txt).
 *   node native/build.mjs --if-cuda  the install hook (`prepare`): without a CUDA toolkit it prints one
 *                                    line saying the native backend was skipped; a failed build is
 *                                    reported in one line too (log in build/native/build.log). It never
 *                                    fails the install. Architectures: TWINFER_CUDA_ARCHS, else those
 *                                    of the GPUs nvidia-smi lists, else 80 alone (a short CI build;
 *                                    its PTX also runs on newer GPUs).
 *
 *   node native/build.mjs --tensorrt-check DIR...
 *                                    compiles the TensorRT sources (native/src/trt) against the
 *                                    TensorRT headers in each DIR without linking
 *                                    (scripts/trt-compile-check.sh; see native/README.md).
 *
 * TENSORRT_ROOT set: the build also makes build/native/Release/twinfer_trt.node (the TensorRT addon).
 *
 * nvcc is looked for in TWINFER_NVCC ('none': act as if there were none, which tests use), CUDACXX,
 * CUDA_HOME, CUDA_PATH, /usr/local/cuda, then PATH. TWINFER_SKIP_NATIVE=1 skips the install-time
 * build altogether.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..');
const out = path.join(root, 'build', 'native');
const auto = process.argv.includes('--if-cuda');
const say = (msg) => console.log(`twinfer: ${msg}`);

function findNvcc() {
  const forced = process.env.TWINFER_NVCC;
  const cands = forced ? [forced].filter((p) => p !== 'none') : [];
  if (!forced && process.env.CUDACXX) cands.push(process.env.CUDACXX);
  if (!forced) {
    for (const v of ['CUDA_HOME', 'CUDA_PATH']) if (process.env[v]) cands.push(path.join(process.env[v], 'bin', 'nvcc'));
    cands.push('/usr/local/cuda/bin/nvcc');
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) cands.push(path.join(dir, 'nvcc'));
  }
  return cands.find((p) => { try { fs.accessSync(p, fs.constants.X_OK); return fs.statSync(p).isFile(); } catch { return false; } });
}

function gpuArchs() {
  const r = spawnSync('nvidia-smi', ['--query-gpu=compute_cap', '--format=csv,noheader'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return [];
  return [...new Set(r.stdout.split('\n').map((s) => s.trim().replace('.', '')).filter((s) => /^\d+$/.test(s)))];
}

function main() {
  if (process.argv.includes('--tensorrt-check')) {
    const dirs = process.argv.slice(process.argv.indexOf('--tensorrt-check') + 1);
    return spawnSync('bash', [path.join(root, 'scripts', 'trt-compile-check.sh'), ...dirs], { stdio: 'inherit' }).status ?? 1;
  }
  if (auto && process.env.TWINFER_SKIP_NATIVE === '1') { say('native CUDA backend skipped (TWINFER_SKIP_NATIVE=1)'); return 0; }
  const nvcc = findNvcc();
  if (!nvcc) {
    const msg = 'native CUDA backend skipped: no CUDA toolkit (nvcc) found; install one and run `npm run build:native`';
    if (auto) { say(msg); return 0; }
    console.error(`twinfer: ${msg.replace('skipped', 'not built')}`);
    return 1;
  }
  if (spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status !== 0) {
    const msg = 'native CUDA backend not built: CMake (3.18 or newer) not found';
    if (auto) { say(msg.replace('not built', 'skipped')); return 0; }
    console.error(`twinfer: ${msg}`);
    return 1;
  }
  let archs = process.env.TWINFER_CUDA_ARCHS ?? '';
  if (!archs && auto) archs = gpuArchs().join(';') || '80';
  const cmakeJs = path.join(path.dirname(fileURLToPath(import.meta.resolve('cmake-js/package.json'))), 'bin', 'cmake-js');
  const common = ['-d', here, '-O', out];
  // Always passed ('default': CMake's list), so an earlier build's cached value never lingers.
  const defs = [`--CDCMAKE_CUDA_COMPILER=${nvcc}`, `--CDTWINFER_CUDA_ARCHS=${archs.replace(/,/g, ';') || 'default'}`];
  // Always passed ('none': no TensorRT addon), so the cache follows the environment.
  defs.push(`--CDTENSORRT_ROOT=${process.env.TENSORRT_ROOT || 'none'}`);
  const jobs = String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length));
  fs.mkdirSync(out, { recursive: true });
  const logPath = path.join(out, 'build.log');
  const log = auto ? fs.openSync(logPath, 'w') : undefined;
  const stdio = log === undefined ? 'inherit' : ['ignore', log, log];
  const addon = path.join(out, 'Release', 'twinfer_native.node');
  const t0 = Date.now();
  // Configure every time (cheap once cached) so a change of TWINFER_CUDA_ARCHS takes effect.
  for (const args of [['configure', ...common, ...defs], ['build', ...common, '-p', jobs]]) {
    const r = spawnSync(process.execPath, [cmakeJs, ...args], { cwd: root, stdio });
    if (r.status !== 0) {
      if (log !== undefined) fs.closeSync(log);
      fs.rmSync(addon, { force: true }); // an older build must not be loaded in place of this one
      const msg = `native CUDA backend not built: cmake-js ${args[0]} failed${log !== undefined ? ` (log: ${path.relative(root, logPath)})` : ''}`;
      if (auto) { say(msg.replace('not built', 'skipped')); return 0; }
      console.error(`twinfer: ${msg}`);
      return 1;
    }
  }
  if (log !== undefined) fs.closeSync(log);
  if (!fs.existsSync(addon)) { console.error(`twinfer: build finished but ${addon} is missing`); return auto ? 0 : 1; }
  const trt = path.join(out, 'Release', 'twinfer_trt.node');
  if (process.env.TENSORRT_ROOT && fs.existsSync(trt)) say(`TensorRT addon built: ${path.relative(root, trt)}`);
  say(`native CUDA backend built in ${((Date.now() - t0) / 1000).toFixed(0)} s for ${archs ? `sm_${archs}` : 'the default architectures'}: ${path.relative(root, addon)}`);
  return 0;
}

process.exitCode = main();
