/**
 * TensorRT in Node: the loader of build/native/Release/twinfer_trt.node (found by walking up from
 * this file, or TWINFER_TRT_ADDON), and the plan cache on disk: one file per network + options +
 * TensorRT version + device, named by its SHA-256, in TWINFER_TRT_CACHE (default
 * ~/.cache/twinfer/tensorrt; 'off' disables it). Imported by src/node.ts; loads nothing until a
 * session asks for the 'tensorrt' backend.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TRT_NOT_BUILT, setTrtLoader, type TrtAddon } from './addon.js';
import { setTrtPlanStore, type TrtPlanStore } from './cache.js';
import { builtAddonPath } from '../../src/node-native.js';

/** Where the TensorRT addon would be loaded from (undefined when it was not built). */
export function trtAddonPath(): string | undefined {
  return builtAddonPath('twinfer_trt.node', 'TWINFER_TRT_ADDON');
}

setTrtLoader(() => {
  const p = trtAddonPath();
  if (!p) throw new Error(TRT_NOT_BUILT);
  try {
    return createRequire(import.meta.url)(p) as TrtAddon;
  } catch (e) {
    // Typically libnvinfer.so.N missing at run time (the addon was built on another machine).
    throw new Error(`TensorRT addon ${p} failed to load: ${(e as Error).message}`);
  }
});

/** A plan store in `dir` (files `<sha256>.plan`, written atomically). */
export function fileTrtPlanStore(dir: string): TrtPlanStore {
  return {
    where: dir,
    key(parts) {
      const h = createHash('sha256');
      for (const p of parts) {
        const bytes = typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.from(p.buffer, p.byteOffset, p.byteLength);
        h.update(String(bytes.length)); h.update(':'); h.update(bytes);
      }
      return h.digest('hex');
    },
    get(key) {
      try { return new Uint8Array(fs.readFileSync(path.join(dir, `${key}.plan`))); } catch { return undefined; }
    },
    set(key, plan) {
      fs.mkdirSync(dir, { recursive: true });
      const tmp = path.join(dir, `${key}.plan.${process.pid}.tmp`);
      fs.writeFileSync(tmp, plan);
      fs.renameSync(tmp, path.join(dir, `${key}.plan`));
    },
  };
}

const cacheDir = process.env['TWINFER_TRT_CACHE'] ?? path.join(os.homedir(), '.cache', 'twinfer', 'tensorrt');
setTrtPlanStore(cacheDir === 'off' ? undefined : fileTrtPlanStore(cacheDir));
