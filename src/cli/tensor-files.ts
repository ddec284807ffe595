/** Reading and writing tensor files for the CLI: .pb (ONNX TensorProto) and .npy. */
import * as fs from 'node:fs';
import type { onnx } from 'onnx-proto';
import { pb } from '../onnx/proto.js';
import type { HostTensor } from '../ir/tensor.js';
import { tensorFromProto, tensorToProto } from '../onnx/tensor-proto.js';
import { parseNpy } from '../onnx/npy.js';
import { TwinferError, asTwinferError } from '../errors.js';

export function readTensorFile(file: string): HostTensor {
  let bytes: Uint8Array;
  try { bytes = new Uint8Array(fs.readFileSync(file)); } catch (e) {
    throw new TwinferError('IO', `cannot read '${file}': ${(e as Error).message}`, { cause: e });
  }
  if (file.endsWith('.npy')) return parseNpy(bytes, file);
  let proto: onnx.TensorProto;
  try { proto = pb.TensorProto.decode(bytes); } catch (e) {
    throw new TwinferError('INVALID_ARGUMENT', `'${file}' is not a serialized TensorProto: ${(e as Error).message}`, { cause: e });
  }
  try { return tensorFromProto(proto); } catch (e) { throw asTwinferError(e, 'INVALID_ARGUMENT'); }
}

export function writeTensorFile(file: string, t: HostTensor, name: string): void {
  fs.writeFileSync(file, pb.TensorProto.encode(tensorToProto(t, name)).finish());
}
