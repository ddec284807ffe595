/**
 * File-system model loading for Node: reads the model and resolves external data strictly inside
 * the model's folder (an absolute path, a '..' escape or a symlink leaving the folder is refused).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LoadedModel } from './api/loader.js';
import type { ExternalReader } from './onnx/tensor-proto.js';
import { TwinferError } from './errors.js';

export function externalReaderFor(modelDir: string): ExternalReader {
  const root = fs.realpathSync(modelDir);
  return (location, offset, length) => {
    if (path.isAbsolute(location) || location.includes('\0')) {
      throw new TwinferError('EXTERNAL_DATA', `external data path '${location}' must be relative to the model's folder`);
    }
    const full = path.resolve(root, location);
    const inside = (p: string) => p === root || p.startsWith(root + path.sep);
    if (!inside(full)) throw new TwinferError('EXTERNAL_DATA', `external data path '${location}' leaves the model's folder; refused`);
    let real: string;
    try { real = fs.realpathSync(full); } catch { throw new TwinferError('EXTERNAL_DATA', `external data file '${location}' not found next to the model`); }
    if (!inside(real)) throw new TwinferError('EXTERNAL_DATA', `external data path '${location}' resolves outside the model's folder; refused`);
    const size = fs.statSync(real).size;
    const len = length ?? size - offset;
    if (offset + len > size || len < 0) throw new TwinferError('EXTERNAL_DATA', `external data '${location}': range ${offset}+${len} exceeds the file size ${size}`);
    const buf = new Uint8Array(len);
    const fd = fs.openSync(real, 'r');
    try { fs.readSync(fd, buf, 0, len, offset); } finally { fs.closeSync(fd); }
    return buf;
  };
}

export async function loadModelFile(file: string): Promise<LoadedModel> {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(await fs.promises.readFile(file)); } catch (e) {
    throw new TwinferError('IO', `cannot read model '${file}': ${(e as Error).message}`, { cause: e });
  }
  const modelDir = path.dirname(path.resolve(file));
  return { bytes, modelDir, readExternal: externalReaderFor(modelDir) };
}
