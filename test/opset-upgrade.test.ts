/**
 * Old-opset forms load and run as their modern equivalents: each case is a single-op model written
 * at an old opset (attributes where later opsets take inputs, retired ops), run on twinfer and on
 * onnxruntime-node, which implements every opset natively. Float32 data, simple arithmetic:
 * rtol 1e-5 / atol 1e-6 (only summation order can differ).
 */
import { describe, it } from 'vitest';
import { HostTensor } from '../src/ir/tensor.js';
import { assertClose, compareSingleOp, randomTensor, seededRandom, type SingleOpSpec } from './helpers/ort-single-op.js';

const rand = seededRandom(1234);
const x4 = () => randomTensor('float32', [2, 3, 4, 5], rand);

const CASES: [string, SingleOpSpec][] = [
  ['Slice-9 (starts/ends/axes attributes)', { opType: 'Slice', opset: 9, attrs: { starts: [1, 0], ends: [3, -1], axes: [2, 3] }, inputs: [x4()] }],
  ['Pad-2 (pads/value attributes)', { opType: 'Pad', opset: 2, attrs: { pads: [0, 0, 1, 2, 0, 0, 2, 1], value: 0.5 }, inputs: [x4()] }],
  ['Pad-2 reflect', { opType: 'Pad', opset: 2, attrs: { mode: 'reflect', pads: [0, 0, 1, 1, 0, 0, 1, 1] }, inputs: [x4()] }],
  ['Clip-6 (min/max attributes)', { opType: 'Clip', opset: 6, attrs: { min: -0.3, max: 0.4 }, inputs: [x4()] }],
  ['Split-11 (split attribute)', { opType: 'Split', opset: 11, attrs: { axis: 1, split: [1, 2] }, inputs: [x4()], outputs: 2 }],
  ['Squeeze-11 (axes attribute)', { opType: 'Squeeze', opset: 11, attrs: { axes: [0] }, inputs: [randomTensor('float32', [1, 3, 4], rand)] }],
  ['Unsqueeze-11 (axes attribute)', { opType: 'Unsqueeze', opset: 11, attrs: { axes: [0, 3] }, inputs: [randomTensor('float32', [3, 4], rand)] }],
  ['ReduceSum-11 (axes attribute)', { opType: 'ReduceSum', opset: 11, attrs: { axes: [1, 3], keepdims: 0 }, inputs: [x4()] }],
  ['ReduceMean-13 (axes attribute)', { opType: 'ReduceMean', opset: 13, attrs: { axes: [-1] }, inputs: [x4()] }],
  ['ReduceMax-17 (axes attribute)', { opType: 'ReduceMax', opset: 17, attrs: { axes: [2], keepdims: 1 }, inputs: [x4()] }],
  ['Upsample-9 (becomes Resize)', { opType: 'Upsample', opset: 9, attrs: { mode: 'nearest' }, inputs: [x4(), HostTensor.fromNumbers('float32', [4], [1, 1, 2, 3])], constInputs: [1] }],
  ['Resize-10 (scales input only)', { opType: 'Resize', opset: 10, attrs: { mode: 'linear' }, inputs: [x4(), HostTensor.fromNumbers('float32', [4], [1, 1, 2, 2])], constInputs: [1] }],
  ['Softmax-11 (coerced to 2-D)', { opType: 'Softmax', opset: 11, attrs: { axis: 1 }, inputs: [x4()] }],
  ['TopK-1 (k attribute)', { opType: 'TopK', opset: 1, attrs: { k: 3 }, inputs: [randomTensor('float32', [3, 7], rand)], outputs: 2 }],
  ['BatchNormalization-7', { opType: 'BatchNormalization', opset: 7, attrs: { epsilon: 1e-5 }, inputs: [x4(), randomTensor('float32', [3], rand), randomTensor('float32', [3], rand), randomTensor('float32', [3], rand), randomTensor('float32', [3], rand, 0.5, 1.5)], constInputs: [1, 2, 3, 4] }],
  ['Dropout-7 (is_test implied)', { opType: 'Dropout', opset: 7, attrs: { ratio: 0.3 }, inputs: [x4()] }],
];

describe('old opsets are upgraded to the internal form', () => {
  for (const [label, spec] of CASES) {
    it(label, async () => assertClose(await compareSingleOp(spec), { rtol: 1e-5, atol: 1e-6 }, label));
  }
});
