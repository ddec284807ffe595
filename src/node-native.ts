/**
 * The native CUDA addon in Node: installs the loader that `require`s the `.node` file built by
 * `npm run build:native` (build/native/Release/twinfer_native.node, found by walking up from this
 * file, so both dist/src and the TypeScript sources under vitest find it), or the path in
 * TWINFER_NATIVE_ADDON. Nothing is loaded until a session asks for the 'cuda' backend.
 */
import { createRequire } from 'node:module';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setNativeLoader, type NativeAddon } from '../backends/native/addon.js';

/**
 * Where an addon of build/native/Release would be loaded from: the path in environment variable
 * `envVar`, else the first build/native/Release/`file` found walking up from this file (undefined
 * when none is). Shared by the CUDA addon and the TensorRT one (backends/tensorrt/node.ts).
 */
export function builtAddonPath(file: string, envVar: string): string | undefined {
  const env = process.env[envVar];
  if (env) return path.resolve(env);
  const rel = path.join('build', 'native', 'Release', file);
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const p = path.join(dir, rel);
    if (fs.existsSync(p)) return p;
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return undefined;
}

/** Where the addon would be loaded from (undefined when no build is found). */
export function nativeAddonPath(): string | undefined {
  return builtAddonPath('twinfer_native.node', 'TWINFER_NATIVE_ADDON');
}

setNativeLoader(() => {
  const p = nativeAddonPath();
  if (!p) throw new Error('native addon not built (npm run build:native needs a CUDA toolkit)');
  try {
    return createRequire(import.meta.url)(p) as NativeAddon;
  } catch (e) {
    throw new Error(`native addon ${p} failed to load: ${(e as Error).message}`);
  }
});
