/** Small models and data files for the quantization tests, built in code. */
import * as fs from 'node:fs';
import { Graph } from '../../src/ir/graph.js';
import { HostTensor } from '../../src/ir/tensor.js';
import { exportModel } from '../../src/onnx/export.js';
import { ModelBuilder, convBn } from '../../bench/models/builder.js';

/** x [N, 4] -> y = 2x -> z = Relu(y): activations are hand-computable. */
export function scaleReluModel(): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'x', dtype: 'float32', shape: ['N', 4] }];
  g.outputs = [{ name: 'z', dtype: 'float32', shape: ['N', 4] }];
  g.initializers.set('two', HostTensor.scalar('float32', 2));
  g.nodes = [
    { name: 'mul', opType: 'Mul', domain: '', inputs: ['x', 'two'], outputs: ['y'], attrs: {} },
    { name: 'relu', opType: 'Relu', domain: '', inputs: ['y'], outputs: ['z'], attrs: {} },
  ];
  return exportModel(g);
}

/** a, b [1, 4] -> Add -> Tanh (two inputs). */
export function twoInputModel(): Uint8Array {
  const g = new Graph();
  g.opsets = { '': 17 };
  g.inputs = [{ name: 'a', dtype: 'float32', shape: [1, 4] }, { name: 'b', dtype: 'float32', shape: [1, 4] }];
  g.outputs = [{ name: 'out', dtype: 'float32', shape: [1, 4] }];
  g.nodes = [
    { name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['s'], attrs: {} },
    { name: 'tanh', opType: 'Tanh', domain: '', inputs: ['s'], outputs: ['out'], attrs: {} },
  ];
  return exportModel(g);
}

/**
 * A small CNN as torch.onnx writes one: Conv+BN+Relu, Conv+BN, residual Add, Relu, pooling head.
 * Input `image` float32 [batch, 3, H, W] (H, W fixed or symbolic), output `logits` [batch, 3].
 */
export function smallCnn(opts: { batch?: number | string; size?: number } = {}): Uint8Array {
  const b = new ModelBuilder('small-cnn', 7);
  const s = opts.size ?? 8;
  let x = b.input('image', 'float32', [opts.batch ?? 'batch', 3, s, s]);
  x = b.op('Relu', [convBn(b, x, 'stem', 3, 4, 3, 1)], {}, '/stem');
  const y = convBn(b, b.op('Relu', [convBn(b, x, 'block.a', 4, 4, 3, 1)], {}, '/block'), 'block.b', 4, 4, 3, 1, { gain: 1 });
  x = b.op('Relu', [b.op('Add', [x, y], {}, '/block')], {}, '/block');
  const pooled = b.op('GlobalAveragePool', [x], {}, '/head');
  const flat = b.op('Flatten', [pooled], { axis: 1 }, '/head');
  const logits = b.op('Gemm', [flat, b.heWeight('fc.weight', [3, 4], 4, 1), b.uniform('fc.bias', [3], -0.1, 0.1)], { transB: 1 }, '/fc');
  b.output(logits, 'logits', 'float32', [opts.batch ?? 'batch', 3]);
  return b.bytes();
}

/** A float32 (or float64) .npy file. */
export function npy(dims: number[], values: ArrayLike<number>, descr: '<f4' | '<f8' = '<f4'): Uint8Array {
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const h = new TextEncoder().encode(header);
  const body = descr === '<f4' ? new Uint8Array(Float32Array.from(values).buffer) : new Uint8Array(Float64Array.from(values).buffer);
  const out = new Uint8Array(10 + h.length + body.length);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(h, 10);
  out.set(body, 10 + h.length);
  return out;
}

export function writeNpy(file: string, dims: number[], values: ArrayLike<number>, descr: '<f4' | '<f8' = '<f4'): void {
  fs.writeFileSync(file, npy(dims, values, descr));
}
