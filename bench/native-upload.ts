/**
 * Host-to-device upload speed of the native addon (issue 6): the pinned, multi-threaded staging of
 * large uploads (native/src/staging.h) against the peer, CUDA's own pageable cudaMemcpyAsync
 * (TWINFER_CUDA_STAGING=0), in one process, same buffers, alternating. Median of 9 timed uploads
 * (each followed by a stream synchronize) after 3 warm-up ones; every size read back and compared.
 *   node dist/bench/native-upload.js [--sizes 1,8,16,32,154]
 */
import '../src/node.js';
import { acquireCuda } from '../backends/native/device.js';
import { medianMs } from './median.js';

const argv = process.argv.slice(2);
const i = argv.indexOf('--sizes');
const sizes = (i >= 0 ? argv[i + 1]! : '1,8,16,32,154').split(',').map(Number);
const cuda = await acquireCuda();
const native = cuda.native;
console.log(`${cuda.caps.device}; median of 9 uploads + synchronize (ms), GB/s; staged vs pageable (TWINFER_CUDA_STAGING=0)`);
console.log('   MB   staged ms   GB/s   pageable ms   GB/s   speed-up   read back');
for (const mb of sizes) {
  const bytes = Math.round(mb * 2 ** 20 / 4) * 4;
  const src = Float32Array.from({ length: bytes / 4 }, (_, k) => k % 65521);
  const id = native.alloc(bytes);
  const time = async (staged: boolean) => {
    process.env['TWINFER_CUDA_STAGING'] = staged ? '1' : '0';
    return medianMs(() => { native.upload(id, 0, src); native.synchronize(); }, 9, 3);
  };
  const pageable = await time(false);
  const staged = await time(true);
  const back = new Float32Array(native.download(id, 0, bytes));
  let same = back.length === src.length;
  for (let k = 0; same && k < back.length; k += 127) same = back[k] === src[k];
  const gbs = (ms: number) => (bytes / ms / 1e6).toFixed(1);
  console.log(`${String(mb).padStart(5)} ${staged.toFixed(2).padStart(11)} ${gbs(staged).padStart(6)} ${pageable.toFixed(2).padStart(13)} ${gbs(pageable).padStart(6)} ${(pageable / staged).toFixed(2).padStart(9)}x   ${same ? 'ok' : 'DIFFERENT'}`);
  native.free(id);
  if (!same) process.exitCode = 1;
}
delete process.env['TWINFER_CUDA_STAGING'];
process.exit(process.exitCode ?? 0);
