/** The `twinfer` command end to end: inspect, run (files in and out), onnx-test's JSON. */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTmpDir } from './helpers/tmp.js';
import { execFileSync } from 'node:child_process';
import { Graph } from '../src/ir/graph.js';
import { HostTensor } from '../src/ir/tensor.js';
import { exportModel } from '../src/onnx/export.js';
import { readTensorFile, writeTensorFile } from '../src/cli/tensor-files.js';
import { ppocrModels } from '../src/testing/ppocr.js';
import { NODE_TESTS } from '../src/testing/conformance.js';

const cli = (args: string[]) => execFileSync(process.execPath, [path.resolve('bin/twinfer.js'), ...args], { encoding: 'utf8', stdio: 'pipe' });

function npy(dims: number[], values: number[]): Uint8Array {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims.join(', ')}${dims.length === 1 ? ',' : ''}), }`;
  while ((10 + header.length + 1) % 64) header += ' ';
  header += '\n';
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + h.length + values.length * 4);
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, h.length & 0xff, h.length >> 8]);
  out.set(h, 10);
  out.set(new Uint8Array(new Float32Array(values).buffer), 10 + h.length);
  return out;
}

describe('twinfer CLI', () => {
  it('inspect --json reports inputs, outputs, opsets, ops and unsupported ops', () => {
    const r = JSON.parse(cli(['inspect', ppocrModels()[0]!.file, '--json']));
    expect(r.inputs[0].name).toBe('x');
    expect(r.inputs[0].shape[1]).toBe(3);
    expect(r.outputs[0].name).toBe('softmax_0.tmp_0');
    expect(r.ops.Conv).toBe(53);
    expect(r.opsets['']).toBeGreaterThan(0);
    expect(r.unsupported.cpu).toEqual([]);
  });

  it('run reads .npy and .pb inputs and writes output_K.pb', () => {
    const dir = makeTmpDir('twinfer-run');
    try {
      const g = new Graph();
      g.inputs = [{ name: 'a', dtype: 'float32', shape: [2, 2] }, { name: 'b', dtype: 'float32', shape: [2, 2] }];
      g.outputs = [{ name: 'sum' }, { name: 'prod' }];
      g.nodes = [
        { name: 'add', opType: 'Add', domain: '', inputs: ['a', 'b'], outputs: ['sum'], attrs: {} },
        { name: 'mul', opType: 'Mul', domain: '', inputs: ['a', 'b'], outputs: ['prod'], attrs: {} },
      ];
      fs.writeFileSync(path.join(dir, 'm.onnx'), exportModel(g));
      fs.writeFileSync(path.join(dir, 'a.npy'), npy([2, 2], [1, 2, 3, 4]));
      writeTensorFile(path.join(dir, 'b.pb'), HostTensor.fromNumbers('float32', [2, 2], [10, 20, 30, 40]), 'b');
      const out = JSON.parse(cli(['run', path.join(dir, 'm.onnx'), '--input', `a=${path.join(dir, 'a.npy')}`, '--input', `b=${path.join(dir, 'b.pb')}`,
        '--output-dir', path.join(dir, 'out'), '--iterations', '3', '--warmup', '1', '--json']));
      expect(out.outputs.map((o: { name: string }) => o.name)).toEqual(['sum', 'prod']);
      expect(out.latencyMs.iterations).toBe(3);
      expect(Array.from(readTensorFile(path.join(dir, 'out', 'output_0.pb')).data as Float32Array)).toEqual([11, 22, 33, 44]);
      expect(Array.from(readTensorFile(path.join(dir, 'out', 'output_1.pb')).data as Float32Array)).toEqual([10, 40, 90, 160]);
      // Human output names outputs, shapes and the latency.
      const text = cli(['run', path.join(dir, 'm.onnx'), '--iterations', '2']);
      expect(text).toMatch(/sum: float32 \[2x2\]/);
      expect(text).toMatch(/latency: median [\d.]+ ms/);
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });

  it('onnx-test --json gives per-case status and a summary', () => {
    const r = JSON.parse(cli(['onnx-test', NODE_TESTS, '--filter', '^test_(relu|add_bcast)$', '--json']));
    expect(r.cases.map((c: { name: string }) => c.name)).toEqual(['test_add_bcast', 'test_relu']);
    expect(r.cases.every((c: { status: string }) => c.status === 'pass')).toBe(true);
    expect(r.summary).toEqual({ passed: 2, failed: 0, skipped: 0, errors: 0 });
    const human = cli(['onnx-test', path.join(NODE_TESTS, 'test_relu')]);
    expect(human.trim().split('\n').pop()).toBe('1 passed, 0 failed, 0 skipped');
  });
});
