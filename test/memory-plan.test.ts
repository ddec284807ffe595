/** The memory planner on hand-built graphs: liveness, reuse, in-place, views, and its own checker. */
import { describe, expect, it } from 'vitest';
import { ModelBuilder } from '../bench/models/builder.js';
import { buildGraph } from '../src/api/session.js';
import { checkPlan, planMemory } from '../src/engine/memory-plan.js';

describe('memory planner', () => {
  it('reuses dead buffers along a chain, works in place for element-wise ops, aliases views', () => {
    const b = new ModelBuilder('m', 1);
    const x = b.input('x', 'float32', [1, 1024]); // 4 KiB per activation
    const a = b.op('Exp', [x]);              // step 0: a
    const c = b.op('Relu', [a]);             // step 1: in place on a
    const r = b.op('Reshape', [c, b.ints('s', [32, 32])]); // step 2: view of c
    const d = b.op('Neg', [r]);               // step 3: in place
    const e = b.op('Concat', [d, d], { axis: 0 }); // step 4: 8 KiB, d still live
    b.output(b.op('Sigmoid', [e]), 'y', 'float32', [64, 32]);
    const g = buildGraph(b.bytes());
    const plan = planMemory(g);
    checkPlan(plan);
    expect(plan.naiveBytes).toBe(4096 * 4 + 8192 * 2);
    // a, c, r, d share one 4 KiB buffer; e and y share an 8 KiB one; both live at step 4.
    expect(plan.lowerBoundBytes).toBe(4096 + 8192);
    expect(plan.arenaBytes).toBe(4096 + 8192);
    const off = (v: string) => plan.offsets.get(v)!.offset;
    expect(new Set([off(a), off(c), off(r), off(d)]).size).toBe(1);
    expect(off(e)).not.toBe(off(d));
  });

  it('does not write in place over a value that is still read later', () => {
    const b = new ModelBuilder('m', 1);
    const x = b.input('x', 'float32', [256]);
    const a = b.op('Exp', [x]);
    const c = b.op('Relu', [a]);              // a is read again below: no in-place
    b.output(b.op('Add', [a, c]), 'y', 'float32', [256]);
    const plan = planMemory(buildGraph(b.bytes()));
    checkPlan(plan);
    expect(plan.offsets.get(a)!.offset).not.toBe(plan.offsets.get(c)!.offset);
  });

  it('checkPlan catches overlapping live buffers', () => {
    const b = new ModelBuilder('m', 1);
    const x = b.input('x', 'float32', [64]);
    const a = b.op('Exp', [x]);
    b.output(b.op('Add', [a, b.op('Neg', [a])]), 'y', 'float32', [64]);
    const plan = planMemory(buildGraph(b.bytes()));
    checkPlan(plan);
    for (const buf of plan.buffers) buf.offset = 0; // corrupt it
    expect(() => checkPlan(plan)).toThrow(/overlap/);
  });
});
