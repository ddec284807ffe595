/**
 * Bad input gets a clear TwinferError (with a code, and the node where one is at fault) and nothing
 * else: no crash, no hang, no foreign exception.
 */
import { describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTmpDir } from './helpers/tmp.js';
import { execFileSync } from 'node:child_process';
import { InferenceSession, Tensor, TwinferError } from '../src/node.js';
import { Graph } from '../src/ir/graph.js';
import { HostTensor } from '../src/ir/tensor.js';
import { exportModel } from '../src/onnx/export.js';
import { pb } from '../src/onnx/proto.js';

/** y = Relu(x + b), x: float32[2,3]. */
function tinyGraph(): Graph {
  const g = new Graph();
  g.inputs = [{ name: 'x', dtype: 'float32', shape: [2, 3] }];
  g.outputs = [{ name: 'y' }];
  g.initializers.set('b', HostTensor.fromNumbers('float32', [3], [1, 2, 3]));
  g.nodes = [
    { name: 'add', opType: 'Add', domain: '', inputs: ['x', 'b'], outputs: ['s'], attrs: {} },
    { name: 'relu', opType: 'Relu', domain: '', inputs: ['s'], outputs: ['y'], attrs: {} },
  ];
  return g;
}

async function expectError(p: Promise<unknown> | (() => unknown), code: string, match?: RegExp, node?: string): Promise<TwinferError> {
  let err: unknown;
  try { await (typeof p === 'function' ? p() : p); } catch (e) { err = e; }
  expect(err, 'expected a TwinferError').toBeInstanceOf(TwinferError);
  const te = err as TwinferError;
  expect(te.code).toBe(code);
  if (match) expect(te.message).toMatch(match);
  if (node) expect(te.node).toBe(node);
  return te;
}

const withModel = (mutate: (m: ReturnType<typeof pb.ModelProto.decode>) => void): Uint8Array => {
  const m = pb.ModelProto.decode(exportModel(tinyGraph()));
  mutate(m);
  return pb.ModelProto.encode(m).finish();
};

describe('bad models', () => {
  const good = exportModel(tinyGraph());

  it('runs the good model (control)', async () => {
    const s = await InferenceSession.create(good);
    const out = await s.run({ x: new Tensor('float32', new Float32Array([-5, 0, 1, 2, -9, 4]), [2, 3]) });
    expect(Array.from(out['y']!.data as Float32Array)).toEqual([0, 2, 4, 3, 0, 7]);
  });

  it('rejects truncated bytes', async () => {
    await expectError(InferenceSession.create(good.subarray(0, Math.floor(good.length / 2))), 'INVALID_MODEL', /not a valid ONNX model|truncated|raw data|no graph/);
  });
  it('rejects non-ONNX bytes', async () => {
    await expectError(InferenceSession.create(new TextEncoder().encode('this is not a model, just some text\n')), 'INVALID_MODEL');
    await expectError(InferenceSession.create(new Uint8Array(0)), 'INVALID_MODEL', /empty/);
    await expectError(InferenceSession.create(new Uint8Array(4096).fill(0xff)), 'INVALID_MODEL');
  });
  it('rejects a graph with a cycle', async () => {
    const g = tinyGraph();
    g.nodes[0]!.inputs = ['x', 'y']; // add reads relu's output, relu reads add's
    g.nodes.push(); g.initializers.delete('b');
    await expectError(InferenceSession.create(exportModel(g)), 'INVALID_MODEL', /cycle/);
  });
  it('rejects an undefined value, naming the node', async () => {
    const g = tinyGraph();
    g.nodes[1]!.inputs = ['nowhere'];
    await expectError(InferenceSession.create(exportModel(g)), 'INVALID_MODEL', /nowhere/, 'relu');
  });
  it('rejects an op outside the set before running, naming the node', async () => {
    const g = tinyGraph();
    g.nodes[1]!.opType = 'FancyNewOp';
    await expectError(InferenceSession.create(exportModel(g)), 'UNSUPPORTED_OP', /FancyNewOp/, 'relu');
    const g2 = tinyGraph();
    g2.nodes[1]!.domain = 'com.example'; g2.opsets['com.example'] = 1;
    await expectError(InferenceSession.create(exportModel(g2)), 'UNSUPPORTED_OP', /com\.example/, 'relu');
  });
  it('rejects an opset newer than supported', async () => {
    await expectError(InferenceSession.create(exportModel(tinyGraph(), { opset: 99 })), 'UNSUPPORTED_OPSET', /opset 99/);
  });
  it('rejects negative and overflowing dims', async () => {
    await expectError(InferenceSession.create(withModel((m) => { m.graph!.initializer![0]!.dims = [-3]; })), 'INVALID_MODEL', /invalid dim -3/);
    await expectError(InferenceSession.create(withModel((m) => { m.graph!.initializer![0]!.dims = [1e9, 1e9, 1e9]; })), 'INVALID_MODEL', /exceeds|invalid dim/);
    await expectError(InferenceSession.create(withModel((m) => { m.graph!.input![0]!.type!.tensorType!.shape!.dim![0]!.dimValue = -2; })), 'INVALID_MODEL', /invalid dim -2/);
  });
  it('rejects tensors whose data does not match their declared size', async () => {
    await expectError(InferenceSession.create(withModel((m) => { m.graph!.initializer![0]!.dims = [4]; })), 'INVALID_MODEL', /raw data has 12 bytes, expected 16/);
    await expectError(InferenceSession.create(withModel((m) => {
      const t = m.graph!.initializer![0]!; t.rawData = new Uint8Array(0); t.floatData = [1, 2];
    })), 'INVALID_MODEL', /3 elements declared, 2 given/);
  });
  it('refuses external data that leaves the model folder, and reports missing files', async () => {
    const dir = makeTmpDir('twinfer-ext');
    try {
      const sub = path.join(dir, 'model'); fs.mkdirSync(sub);
      fs.writeFileSync(path.join(dir, 'secret.bin'), new Uint8Array(12));
      const ext = (location: string) => withModel((m) => {
        const t = m.graph!.initializer![0]!;
        t.rawData = new Uint8Array(0);
        t.dataLocation = pb.TensorProto.DataLocation.EXTERNAL;
        t.externalData = [new pb.StringStringEntryProto({ key: 'location', value: location })];
      });
      for (const [loc, re] of [['../secret.bin', /leaves the model's folder/], [path.join(dir, 'secret.bin'), /must be relative/], ['missing.bin', /not found/]] as const) {
        fs.writeFileSync(path.join(sub, 'm.onnx'), ext(loc));
        await expectError(InferenceSession.create(path.join(sub, 'm.onnx')), 'EXTERNAL_DATA', re);
      }
      // A symlink inside the folder that points outside is refused too.
      fs.symlinkSync(path.join(dir, 'secret.bin'), path.join(sub, 'link.bin'));
      fs.writeFileSync(path.join(sub, 'm.onnx'), ext('link.bin'));
      await expectError(InferenceSession.create(path.join(sub, 'm.onnx')), 'EXTERNAL_DATA', /outside/);
      // And a legal one loads.
      fs.writeFileSync(path.join(sub, 'w.bin'), new Uint8Array(new Float32Array([1, 2, 3]).buffer));
      fs.writeFileSync(path.join(sub, 'm.onnx'), ext('w.bin'));
      await InferenceSession.create(path.join(sub, 'm.onnx'));
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
  it('reports a missing model file as IO', async () => {
    await expectError(InferenceSession.create('test/.tmp/does-not-exist/model.onnx'), 'IO', /cannot read/);
  });
});

describe('bad feeds', () => {
  const x = new Tensor('float32', new Float32Array(6), [2, 3]);
  it('rejects missing, extra, wrong dtype and wrong dims', async () => {
    const s = await InferenceSession.create(exportModel(tinyGraph()));
    await expectError(s.run({}), 'INVALID_ARGUMENT', /missing input 'x'/);
    await expectError(s.run({ x, z: x }), 'INVALID_ARGUMENT', /unknown input 'z'/);
    await expectError(s.run({ x: new Tensor('int32', new Int32Array(6), [2, 3]) }), 'INVALID_ARGUMENT', /must be float32, got int32/);
    await expectError(s.run({ x: new Tensor('float32', new Float32Array(6), [3, 2]) }), 'INVALID_ARGUMENT', /dim 0 must be 2, got 3/);
    await expectError(s.run({ x: new Tensor('float32', new Float32Array(6), [6]) }), 'INVALID_ARGUMENT', /rank 2/);
    await expectError(s.run({ x }, ['nope']), 'INVALID_ARGUMENT', /not an output/);
    await expectError(() => new Tensor('float32', new Float32Array(5), [2, 3]), 'INVALID_ARGUMENT', /need 6 elements/);
    await expectError(() => new Tensor('float32', new Float32Array(6), [-1, -6]), 'INVALID_ARGUMENT', /invalid dim/);
  });
  it('rejects unknown or unavailable backends clearly', async () => {
    await expectError(InferenceSession.create(exportModel(tinyGraph()), { backends: ['metal' as never] }), 'INVALID_ARGUMENT', /unknown backend 'metal'/);
  });
});

describe('CLI on bad input', () => {
  const cli = path.resolve('bin/twinfer.js');
  const run = (args: string[]) => {
    try { execFileSync(process.execPath, [cli, ...args], { encoding: 'utf8', stdio: 'pipe' }); return { code: 0, err: '' }; } catch (e) {
      const x = e as { status: number; stderr: string };
      return { code: x.status, err: x.stderr };
    }
  };
  it('prints one clear line and exits 2', () => {
    const dir = makeTmpDir('twinfer-cli');
    try {
      fs.writeFileSync(path.join(dir, 'bad.onnx'), 'garbage');
      for (const args of [['inspect', path.join(dir, 'bad.onnx')], ['run', path.join(dir, 'bad.onnx')], ['run', path.join(dir, 'none.onnx')], ['frobnicate']]) {
        const r = run(args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.err).toMatch(/^twinfer: [A-Z_]+: /);
        expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
      }
    } finally { fs.rmSync(dir, { recursive: true, force: true }); }
  });
});
