/**
 * The static program and its CUDA graph on the real addon (the GPU machine: build the addon, then
 * this file). A small convolutional chain whose shapes take the split-K GEMM path and, where cuDNN
 * is found, the timed conv tactic: the first run records (and times the tactics, uncaptured), the
 * second captures the CUDA graph, later runs launch it. Outputs are compared with the node-by-node
 * path and the CPU backend (fp32: rtol 1e-3 / atol 1e-4, the cross-backend bound of issue 6; split-K
 * sums partials with atomics, so replayed runs are not bit-identical to each other). Skipped, with
 * the probe's reason, where CUDA is unavailable: replay.test.ts covers the TypeScript side on the
 * emulated addon.
 */
import { describe, expect, it } from 'vitest';
import { Graph } from '../../src/ir/graph.js';
import { exportModel } from '../../src/onnx/export.js';
import { InferenceSession } from '../../src/node.js';
import { acquireCuda, cudaStatus } from '../../backends/native/device.js';
import { NativeExecutor } from '../../backends/native/executor.js';
import { compareTensors } from '../../src/testing/compare.js';
import { randomTensor, seededRandom } from '../helpers/ort-single-op.js';

const status = cudaStatus();

function model(): Uint8Array {
  const rand = seededRandom(31);
  const g = new Graph();
  g.opsets = { '': 21 };
  g.inputs.push({ name: 'x', dtype: 'float32', shape: ['n', 64, 14, 14] });
  g.initializers.set('w1', randomTensor('float32', [128, 64, 3, 3], rand));
  g.initializers.set('b1', randomTensor('float32', [128], rand));
  g.initializers.set('w2', randomTensor('float32', [512, 128, 3, 3], rand));
  g.initializers.set('m', randomTensor('float32', [512, 10], rand));
  const node = (opType: string, inputs: string[], outputs: string[], attrs = {}) => g.nodes.push({ name: `${opType}_${g.nodes.length}`, opType, domain: '', inputs, outputs, attrs });
  node('Conv', ['x', 'w1', 'b1'], ['c1'], { pads: [1, 1, 1, 1] });
  node('Relu', ['c1'], ['r1']);
  node('Conv', ['r1', 'w2'], ['c2'], { strides: [2, 2] }); // deep K, small grid: split-K
  node('GlobalAveragePool', ['c2'], ['p']);
  node('Flatten', ['p'], ['f']);
  node('MatMul', ['f', 'm'], ['y']);
  g.outputs = [{ name: 'y' }];
  return exportModel(g);
}

describe.skipIf(!status.available)(`CUDA graph replay on the GPU${status.available ? '' : ` (skipped: ${status.reason})`}`, () => {
  it('records, captures and launches the graph; outputs agree with node by node and the CPU', async () => {
    const m = model();
    const sess = await InferenceSession.create(m, { backends: ['cuda'], minSubgraphSize: 1 });
    const cpu = await InferenceSession.create(m, { backends: ['cpu'] });
    const cuda = await acquireCuda();
    const logs: string[] = [];
    const replay = new NativeExecutor(sess.graph, sess.plan.partition.assignment, cuda, { log: (l) => logs.push(l) });
    const plain = new NativeExecutor(sess.graph, sess.plan.partition.assignment, cuda, { replay: false });
    const rand = seededRandom(8);
    const modes: string[] = [];
    for (const n of [1, 1, 1, 2, 2, 1]) {
      const feeds = new Map([['x', randomTensor('float32', [n, 64, 14, 14], rand)]]);
      const got = (await replay.run(feeds, ['y'])).get('y')!;
      modes.push(replay.lastMode);
      const want = (await plain.run(feeds, ['y'])).get('y')!;
      const ref = (await cpu.plan.executor.run(feeds, ['y'])).get('y')!;
      expect(compareTensors(got, want, 1e-5, 1e-6).reason, 'vs node by node').toBeUndefined();
      expect(compareTensors(got, ref, 1e-3, 1e-4).reason, 'vs cpu').toBeUndefined();
    }
    expect(logs.join('\n')).not.toMatch(/capture failed/);
    expect(modes).toEqual(['record', 'capture', 'graph', 'record', 'capture', 'graph']);
    replay.dispose(); plain.dispose();
  });
});
