/** Small models for the replay / GPU-IO / tuning tests (built in code, seeded weights). */
import { ModelBuilder } from '../../bench/models/builder.js';

/**
 * conv3x3 -> relu -> conv3x3 + residual -> Reshape (shape from Shape/Gather/Concat: a static host
 * value) -> Gemm -> Softmax. `batch` 'N' leaves the batch symbolic (no build-time program).
 */
export function tinyCnn(batch: number | 'N' = 2, ch = 4, hw = 10): Uint8Array {
  const b = new ModelBuilder('tiny-cnn', 7);
  const x = b.input('x', 'float32', [batch, ch, hw, hw]);
  const w1 = b.heWeight('w1', [8, ch, 3, 3], ch * 9), b1 = b.uniform('b1', [8], -0.1, 0.1);
  const c1 = b.op('Relu', [b.op('Conv', [x, w1, b1], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] })]);
  const w2 = b.heWeight('w2', [8, 8, 3, 3], 72);
  const c2 = b.op('Add', [b.op('Conv', [c1, w2], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] }), c1]);
  const n = b.op('Gather', [b.op('Shape', [x]), b.ints('zero', [0])], { axis: 0 });
  const shape = b.op('Concat', [n, b.ints('minus1', [-1])], { axis: 0 });
  const f = b.op('Reshape', [c2, shape]);
  const w3 = b.heWeight('w3', [8 * hw * hw, 10], 8 * hw * hw, 1);
  const y = b.op('Softmax', [b.op('Gemm', [f, w3])], { axis: 1 });
  b.output(y, 'y', 'float32', [batch, 10]);
  b.output(b.op('Identity', [c2]), 'feat', 'float32', [batch, 8, hw, hw]);
  return b.bytes();
}

/** Reshape by a shape fed at run time: the feed's values shape the work (never replayed). */
export function feedShapedReshape(): Uint8Array {
  const b = new ModelBuilder('feed-reshape', 3);
  const x = b.input('x', 'float32', [2, 6]);
  const s = b.input('s', 'int64', [2]);
  const y = b.op('Relu', [b.op('Reshape', [b.op('Mul', [x, b.scalar(2)]), s])]);
  b.output(b.op('Add', [y, b.scalar(1)]), 'y', 'float32', ['a', 'b']);
  return b.bytes();
}

/** A 3x3 convolution deep in K over a small map: candidates gemm (split-K), gemm-nosplit, winograd2. */
export function deepConv(c = 64, m = 32, hw = 6): Uint8Array {
  const b = new ModelBuilder('deep-conv', 5);
  const x = b.input('x', 'float32', [1, c, hw, hw]);
  const w = b.heWeight('w', [m, c, 3, 3], c * 9), bias = b.uniform('b', [m], -0.1, 0.1);
  const y = b.op('Relu', [b.op('Conv', [x, w, bias], { pads: [1, 1, 1, 1], kernel_shape: [3, 3] })]);
  b.output(y, 'y', 'float32', [1, m, hw, hw]);
  return b.bytes();
}
