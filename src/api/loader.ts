/**
 * How a model given by path or URL becomes bytes. Core code stays browser-safe: by default a
 * string is fetched (browsers); the Node entry point (src/node.ts) installs a file-system loader.
 */
import type { ExternalReader } from '../onnx/tensor-proto.js';
import { TwinferError } from '../errors.js';

export interface LoadedModel {
  bytes: Uint8Array;
  readExternal?: ExternalReader;
  modelDir?: string;
}

export type ModelLoader = (pathOrUrl: string) => Promise<LoadedModel>;

let loader: ModelLoader = async (url) => {
  if (typeof fetch !== 'function') throw new TwinferError('IO', `cannot load '${url}': no loader for paths in this environment`);
  const res = await fetch(url);
  if (!res.ok) throw new TwinferError('IO', `cannot load '${url}': HTTP ${res.status}`);
  return { bytes: new Uint8Array(await res.arrayBuffer()) };
};

export function setModelLoader(l: ModelLoader): void { loader = l; }
export function loadModel(pathOrUrl: string): Promise<LoadedModel> { return loader(pathOrUrl); }
