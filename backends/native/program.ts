/**
 * The static program of a CUDA run (issue 6, ../../../shared/DESIGN.md "Lowering"): for one
 * signature of feed dims and dtypes, the launch list the executor computed on its first run (kernel
 * name, ints, floats, bindings as buffer ids + byte offsets), where each feed is uploaded and where
 * each output is read. Later runs with the same signature skip shape inference, kernel lowering and
 * buffer allocation: they upload the feeds, replay the launches (or launch the CUDA graph captured
 * from them) and download the outputs.
 *
 * Why the recorded buffer ids stay valid: activations come from the executor's pool, which never
 * frees a buffer before dispose(), and every activation of a run is written in that run before it is
 * read, so another program may use the same pool buffers between two replays. What must survive
 * from one replay to the next lives in buffers the program alone holds: the feeds (uploaded at the
 * start of a replay, so no earlier launch may reuse their buffer) and the static uploads of the
 * recording (tap tables, shape tensors, CPU-computed constants), uploaded once. Those come from a
 * pool of their own (exec-context.ts fixedPool), never from the activations' free list: a buffer
 * freed by an earlier node of the recording run would be rewritten by that node on every replay.
 */
import type { DType } from '../../src/ir/dtype.js';
import type { HostTensor } from '../../src/ir/tensor.js';
import type { NativeContext } from './addon.js';

export interface LaunchStep {
  kernel: string;
  ints: Float64Array;
  floats: Float32Array;
  /** [buffer, byteOffset] pairs, buffer -1 for an absent optional tensor. */
  bindings: Float64Array;
}

/** A device tensor's place in the program. */
export interface DeviceSlot {
  buffer: number;
  byteOffset: number;
  dtype: DType;
  dims: number[];
  bytes: number;
}

export type ProgramOutput =
  | { name: string; kind: 'device'; slot: DeviceSlot }
  /** A value computed on the host from constants and dims alone (a static CPU node's output). */
  | { name: string; kind: 'host'; value: HostTensor }
  /** A graph input fetched as an output. */
  | { name: string; kind: 'feed'; feed: string };

export interface Program {
  key: string;
  feeds: { name: string; slot: DeviceSlot }[];
  launches: LaunchStep[];
  outputs: ProgramOutput[];
  /** Pool buffers only this program uses (feeds, static uploads): back to the pool when it is dropped. */
  fixed: { buffer: number; bytes: number }[];
  /** Replays so far (the first replay captures the CUDA graph). */
  replays: number;
  /** The instantiated CUDA graph of `launches`. */
  graph?: number;
  /** Why this program replays its launches one by one instead of as a CUDA graph. */
  noGraph?: string;
}

/** The addon's CUDA graph methods (native/src/addon.cc); absent on an addon built before them. */
export interface GraphContext extends NativeContext {
  captureBegin?(): void;
  captureEnd?(): number;
  captureAbort?(): void;
  graphLaunch?(id: number): void;
  graphDestroy?(id: number): void;
}

export function hasGraphs(c: NativeContext): c is GraphContext & Required<Pick<GraphContext, 'captureBegin' | 'captureEnd' | 'captureAbort' | 'graphLaunch' | 'graphDestroy'>> {
  const g = c as GraphContext;
  return typeof g.captureBegin === 'function' && typeof g.captureEnd === 'function' && typeof g.captureAbort === 'function' &&
    typeof g.graphLaunch === 'function' && typeof g.graphDestroy === 'function';
}

/** The signature a program is kept under: fetched names, then each feed's name, dtype and dims. */
export function programKey(feeds: ReadonlyMap<string, { dtype: DType; dims: readonly number[] }>, fetch: readonly string[]): string {
  const parts = [...feeds].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}:${v.dtype}[${v.dims.join(',')}]`);
  return `${fetch.join('\u0001')}\u0002${parts.join('\u0001')}`;
}

/** Ops whose outputs differ from run to run with the same inputs: never static. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Multinomial', 'Bernoulli', 'Dropout']);

/**
 * Values fixed by the feeds' dims alone: initializers that are not graph inputs, outputs of Shape and
 * Size, and outputs of deterministic nodes whose inputs are all static. A run whose host reads
 * (host inputs of CUDA kernels, CPU nodes) touch only these values is the same launch list for the
 * same dims, so it can be recorded and replayed.
 */
export function staticValues(nodes: readonly { opType: string; domain: string; inputs: string[]; outputs: string[] }[], initializers: Iterable<string>, graphInputs: Iterable<string>): Set<string> {
  const inputs = new Set(graphInputs);
  const s = new Set<string>();
  for (const k of initializers) if (!inputs.has(k)) s.add(k);
  for (const n of nodes) {
    const shapeOnly = n.domain === '' && (n.opType === 'Shape' || n.opType === 'Size');
    const ok = !(n.domain === '' && NONDETERMINISTIC.has(n.opType)) && (shapeOnly || n.inputs.every((v) => !v || s.has(v)));
    if (ok) for (const o of n.outputs) if (o) s.add(o);
  }
  return s;
}

type Env = Record<string, string | undefined>;
function env(): Env {
  return (globalThis as { process?: { env?: Env } }).process?.env ?? {};
}

/** TWINFER_CUDA_REPLAY=0 turns the static program off (every run infers, allocates and lowers). */
export function replayFromEnv(): boolean {
  return env()['TWINFER_CUDA_REPLAY'] !== '0';
}

/** TWINFER_CUDA_GRAPHS=0 replays launch by launch instead of capturing a CUDA graph. */
export function graphsFromEnv(): boolean {
  return env()['TWINFER_CUDA_GRAPHS'] !== '0';
}
