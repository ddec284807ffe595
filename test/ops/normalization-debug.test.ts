import { it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import { compareSingleOp } from '../helpers/ort-single-op.js';
it('dbg', async () => {
  for (const dt of ['float32', 'uint8', 'int32'] as const) {
  const n = 2*3*6*2;
  const x = HostTensor.fromNumbers(dt, [2, 3, 6, 2], Array.from({length: n}, (_, i) => i));
  const r = await compareSingleOp({ opType: 'Resize', opset: 12, attrs: { mode: 'nearest', coordinate_transformation_mode: 'tf_half_pixel_for_nn', nearest_mode: 'ceil' },
      inputs: [x, HostTensor.fromNumbers('float32', [0], []), HostTensor.fromNumbers('float32', [4], [1, 1, 2, 4])], constInputs: [1, 2] });
  const a = Array.from(r.twinfer[0]!.numbers), b = Array.from(r.ort[0]!.numbers);
  const bad = a.map((v, i) => v === b[i] ? -1 : i).filter(i => i >= 0);
  console.log(dt, 'bad', bad.length, bad.slice(0, 10).map(i => `${i}:${a[i]}/${b[i]}`).join(' '));
  }
});
