/** The pure lowering helpers of the CUDA backend: broadcast strides, GEMM shapes, conv geometry. */
import { describe, expect, it } from 'vitest';
import { binaryInts, biasStrides, collapseBroadcast, broadcastStrides, convShape, fusedFn, gemmShape, matmulShape } from '../../backends/native/lower.js';
import { forwardGeom, readWindowAttrs } from '../../src/ir/ops/convgemm-geom.js';
import type { Node } from '../../src/ir/graph.js';

describe('broadcast lowering', () => {
  it('merges contiguous axes and drops size-1 axes', () => {
    expect(binaryInts([2, 3, 4], [2, 3, 4], [2, 3, 4])).toEqual([24, 1, 24, 1, 1]);
    // per-channel: [8,16,32,32] + [1,16,1,1] -> dims [8,16,1024], a contiguous, b one value per channel
    expect(binaryInts([8, 16, 32, 32], [1, 16, 1, 1], [8, 16, 32, 32])).toEqual([8 * 16 * 1024, 3, 8, 16, 1024, 16 * 1024, 1024, 1, 0, 1, 0]);
    expect(binaryInts([], [3, 4], [3, 4])).toEqual([12, 1, 12, 0, 1]);
    expect(binaryInts([], [], [])).toEqual([1, 1, 1, 0, 0]);
    expect(binaryInts([4, 1], [1, 6], [4, 6])).toEqual([24, 2, 4, 6, 1, 0, 0, 1]);
  });
  it('aligns operands of lower rank to the right', () => {
    expect(broadcastStrides([5], 4)).toEqual([0, 0, 0, 1]);
    expect(broadcastStrides([3, 1, 5], 4)).toEqual([0, 5, 0, 1]);
    expect(collapseBroadcast({ dims: [1, 1], as: [0, 0], bs: [0, 0] })).toEqual({ dims: [1], as: [0], bs: [0] });
  });
});

describe('GEMM lowering', () => {
  it('folds batches into M when B is shared', () => {
    const s = matmulShape([3, 37, 29], [29, 45]);
    expect([s.M, s.N, s.K, s.lda, s.ldb]).toEqual([111, 45, 29, 29, 45]);
    expect(s.batch).toEqual([1, 1, 1, 1]);
  });
  it('broadcasts batch axes with zero strides', () => {
    const s = matmulShape([2, 1, 5, 7], [3, 7, 4]);
    expect([s.M, s.N, s.K]).toEqual([5, 4, 7]);
    expect(s.batch).toEqual([1, 1, 2, 3]);
    expect(s.aBatch).toEqual([0, 0, 35, 0]);
    expect(s.bBatch).toEqual([0, 0, 0, 28]);
  });
  it('promotes 1-D operands', () => {
    const a = matmulShape([7], [2, 7, 3]);
    expect([a.M, a.N, a.K, a.batch[3], a.aBatch[3], a.bBatch[3]]).toEqual([1, 3, 7, 2, 0, 21]);
    const b = matmulShape([2, 5, 7], [7]);
    expect([b.M, b.N, b.K, b.ldb]).toEqual([10, 1, 7, 1]);
  });
  it('reads transposed operands with their stored leading dimension', () => {
    const s = matmulShape([2, 12, 19], [20, 12], true, true);
    expect([s.M, s.N, s.K, s.lda, s.ldb, s.transA, s.transB]).toEqual([19, 20, 12, 19, 12, true, true]);
    expect(s.batch).toEqual([1, 1, 1, 2]); // transposed A does not fold
    const g = gemmShape([29, 37], [45, 29], true, true);
    expect([g.M, g.N, g.K, g.lda, g.ldb]).toEqual([37, 45, 29, 37, 29]);
  });
  it('rejects mismatched inner dimensions', () => {
    expect(() => matmulShape([3, 4], [5, 6])).toThrow(/inner dimensions/);
    expect(() => matmulShape([2, 3, 4], [3, 4, 6])).toThrow(/do not broadcast/);
  });
  it('broadcasts a bias over rows and columns', () => {
    expect(biasStrides([45], 37, 45)).toEqual([0, 1]);
    expect(biasStrides([37, 1], 37, 45)).toEqual([1, 0]);
    expect(biasStrides([37, 45], 37, 45)).toEqual([45, 1]);
    expect(biasStrides([], 37, 45)).toEqual([0, 0]);
    expect(() => biasStrides([36], 37, 45)).toThrow(/broadcast/);
  });
  it('maps fused activations onto the function table', () => {
    expect(fusedFn('Gelu', [1])).toEqual({ name: 'GeluTanh', a: 0, b: 0 });
    expect(fusedFn('Gelu', [0]).name).toBe('Gelu');
    expect(fusedFn('Clip', [0, 6])).toEqual({ name: 'Clip', a: 0, b: 6 });
    expect(fusedFn('LeakyRelu', [])).toEqual({ name: 'LeakyRelu', a: 0.01, b: 0 });
    expect(fusedFn(undefined, undefined).name).toBe('Identity');
  });
});

describe('conv lowering', () => {
  const node = (attrs: Record<string, number[] | string>): Node => ({ name: 'c', opType: 'Conv', domain: '', inputs: [], outputs: [], attrs });
  it('2-D: pads, strides, dilations', () => {
    const g = forwardGeom(readWindowAttrs(node({ strides: [2, 2], dilations: [2, 1], pads: [0, 1, 2, 1] }), 2, [3, 3]), [17, 15]);
    const c = convShape([2, 5, 17, 15], [7, 5, 3, 3], g, 1);
    expect(c).toEqual({ N: 2, C: 5, H: 17, W: 15, K: 7, P: 8, Q: 8, R: 3, S: 3, sh: 2, sw: 2, ph: 0, pw: 1, dh: 2, dw: 1, groups: 1 });
  });
  it('1-D convs become H = P = R = 1', () => {
    const g = forwardGeom(readWindowAttrs(node({ strides: [2], pads: [1, 2] }), 1, [4]), [20]);
    const c = convShape([2, 3, 20], [5, 3, 4], g, 1);
    expect([c.H, c.P, c.R, c.sh, c.ph, c.dh, c.W, c.Q, c.S, c.sw, c.pw]).toEqual([1, 1, 1, 1, 0, 1, 20, 10, 4, 2, 1]);
  });
  it('refuses 3-D convs', () => {
    const g = forwardGeom(readWindowAttrs(node({}), 3, [1, 1, 1]), [2, 2, 2]);
    expect(() => convShape([1, 1, 2, 2, 2], [1, 1, 1, 1, 1], g, 1)).toThrow(/spatial axes/);
  });
});

describe('data-movement and dtype lowering', () => {
  it('merges contiguous copy axes and keeps negative and zero strides', async () => {
    const { copyInts, transposeInts, expandInts, tileInts } = await import('../../backends/native/lower-movement.js');
    expect(copyInts(4, [2, 3, 4], [12, 4, 1], [12, 4, 1])).toEqual([24, 4, 1, 24, 1, 1]);
    expect(copyInts(8, [], [], [])).toEqual([1, 8, 1, 1, 0, 0]);
    expect(copyInts(1, [3, 4], [-4, -1], [4, 1])).toEqual([12, 1, 1, 12, -1, 1]);
    // [2,3] -> [3,2]: output walks input axis 1 then 0
    expect(transposeInts(4, [2, 3], [1, 0])).toEqual([6, 4, 2, 3, 2, 1, 3, 2, 1]);
    expect(expandInts(2, [3, 1], [2, 3, 4])).toEqual([24, 2, 3, 2, 3, 4, 0, 1, 0, 12, 4, 1]);
    // Tile [2] x3 -> [6]: (repeat 3, stride 0) then (2, stride 1)
    expect(tileInts(4, [2], [6])).toEqual([6, 4, 2, 3, 2, 0, 1, 2, 1]);
  });
  it('reduces any axes by strides and merges neighbours', async () => {
    const { reduceInts } = await import('../../backends/native/ops-reduce.js');
    // [2,3,4] over axis 1: kept [2,4] strides [12,1], reduced [3] stride 4
    expect(reduceInts('Sum', 1, 1, [2, 3, 4], [false, true, false])).toEqual([8, 0, 1, 1, 2, 2, 4, 12, 1, 1, 3, 4]);
    // all axes: one output
    expect(reduceInts('Mean', 1, 1, [2, 3], [true, true])).toEqual([1, 1, 1, 1, 1, 1, 0, 1, 6, 1]);
  });
  it('uses the typed binary op order of functions.h', async () => {
    const { TYPED_BINARY } = await import('../../backends/native/ops-typed.js');
    const { TYPED_BINARY_NAMES } = await import('./emulator.js');
    expect([...TYPED_BINARY]).toEqual(TYPED_BINARY_NAMES);
  });
});
