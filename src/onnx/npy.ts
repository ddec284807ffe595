/** NumPy .npy (format 1.0-3.0) <-> HostTensor, for CLI inputs. Little-endian, C order only. */
import type { DType, NumericArray } from '../ir/dtype.js';
import { allocStorage } from '../ir/dtype.js';
import { decodeLowp } from '../ir/lowp.js';
import { HostTensor, sizeOf } from '../ir/tensor.js';
import { TwinferError } from '../errors.js';

const DESCR: Record<string, [DType, number]> = {
  '<f4': ['float32', 4], '<f8': ['float64', 8], '<f2': ['float16', 2], '|i1': ['int8', 1], '|u1': ['uint8', 1],
  '<i2': ['int16', 2], '<u2': ['uint16', 2], '<i4': ['int32', 4], '<u4': ['uint32', 4], '<i8': ['int64', 8],
  '<u8': ['uint64', 8], '|b1': ['bool', 1],
};

export function parseNpy(bytes: Uint8Array, what = 'npy'): HostTensor {
  const bad = (m: string) => new TwinferError('INVALID_ARGUMENT', `${what}: ${m}`);
  if (bytes.length < 10 || bytes[0] !== 0x93 || String.fromCharCode(...bytes.subarray(1, 6)) !== 'NUMPY') throw bad('not a .npy file');
  const major = bytes[6]!;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const hstart = major === 1 ? 10 : 12;
  if (hstart + hlen > bytes.length) throw bad('truncated header');
  const header = new TextDecoder().decode(bytes.subarray(hstart, hstart + hlen));
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeStr = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (!descr || !fortran || shapeStr === undefined) throw bad('malformed header');
  if (fortran === 'True') throw bad('Fortran-order arrays are not supported');
  const spec = DESCR[descr.replace('=', '<')];
  if (!spec) throw bad(`dtype '${descr}' is not supported`);
  const dims = shapeStr.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (dims.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad('invalid shape');
  const [dtype, width] = spec;
  const n = sizeOf(dims);
  const off = hstart + hlen;
  if (bytes.length - off !== n * width) throw bad(`data has ${bytes.length - off} bytes, expected ${n * width}`);
  const body = new DataView(bytes.buffer, bytes.byteOffset + off, n * width);
  const out = allocStorage(dtype, n) as NumericArray;
  for (let i = 0; i < n; i++) {
    const p = i * width;
    switch (dtype) {
      case 'float32': out[i] = body.getFloat32(p, true); break;
      case 'float64': out[i] = body.getFloat64(p, true); break;
      case 'float16': out[i] = decodeLowp('float16', body.getUint16(p, true)); break;
      case 'int8': out[i] = body.getInt8(p); break;
      case 'uint8': case 'bool': out[i] = body.getUint8(p); break;
      case 'int16': out[i] = body.getInt16(p, true); break;
      case 'uint16': out[i] = body.getUint16(p, true); break;
      case 'int32': out[i] = body.getInt32(p, true); break;
      case 'uint32': out[i] = body.getUint32(p, true); break;
      case 'int64': out[i] = Number(body.getBigInt64(p, true)); break;
      case 'uint64': out[i] = Number(body.getBigUint64(p, true)); break;
      default: throw bad(`dtype ${dtype}`);
    }
  }
  return new HostTensor(dtype, dims, out);
}
