/** Memory plan of a graph at concrete input dims (symbolic dims from `shapes`, else 1). */
import type { Graph } from '../ir/graph.js';
import { inferGraph, type Evaluate } from '../ir/infer.js';
import { planMemory, type MemoryPlan } from './memory-plan.js';

export function planForShapes(g: Graph, shapes: Map<string, number[]>, evaluate: Evaluate): MemoryPlan {
  const c = g.clone();
  for (const i of c.feedInputs) {
    const given = shapes.get(i.name);
    i.shape = given ? given.slice() : i.shape?.map((d) => (typeof d === 'number' ? d : 1));
  }
  inferGraph(c, evaluate);
  return planMemory(c);
}
