import { it } from 'vitest';
import { HostTensor } from '../../src/ir/tensor.js';
import { compareSingleOp, randomTensor, seededRandom } from '../helpers/ort-single-op.js';
it('sanity', async () => {
  const rand = seededRandom(1);
  const r = await compareSingleOp({ opType: 'ReduceSum', opset: 18, inputs: [randomTensor('float32', [2, 3], rand), HostTensor.fromNumbers('int64', [1], [1])], constInputs: [1] });
  console.log(r.twinfer[0], r.ort[0]);
  const e = await compareSingleOp({ opType: 'ReduceMean', opset: 18, inputs: [new HostTensor('float32', [2, 0, 3]), HostTensor.fromNumbers('int64', [1], [1])], constInputs: [1] });
  console.log(e.twinfer[0], e.ort[0]);
  const m = await compareSingleOp({ opType: 'ReduceMax', opset: 18, inputs: [new HostTensor('int32', [2, 0, 3]), HostTensor.fromNumbers('int64', [1], [1])], constInputs: [1] });
  console.log(m.twinfer[0], m.ort[0]);
});
