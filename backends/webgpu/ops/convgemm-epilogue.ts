/**
 * Shared pieces of the WebGPU conv / GEMM / pool kernels: a parameter-block builder (run-time
 * sizes as `let` names in WGSL, so the layout and the values can never disagree) and the fused
 * epilogue  y = post_activation(activation(acc [+ bias]) [+ Z])  of the optimizer's fused ops
 * (src/ir/ops/fused.ts; CPU reference in backends/cpu/epilogue.ts), applied in each kernel's store.
 */
import type { Node } from '../../../src/ir/graph.js';
import { f32Bits } from '../program.js';

/**
 * Builds the `params` array and the WGSL that names its entries. Which entries exist must depend
 * only on compile-time facts (the program's cache key), so every run lays them out alike.
 */
export class Params {
  readonly values: number[] = [];
  private readonly lines: string[] = [];
  u(name: string, v: number): this {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`param ${name}=${v} does not fit in u32`);
    this.lines.push(`let ${name} = params[${this.values.length}u];`);
    this.values.push(v);
    return this;
  }
  i(name: string, v: number): this {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`param ${name}=${v} does not fit in i32`);
    this.lines.push(`let ${name} = bitcast<i32>(params[${this.values.length}u]);`);
    this.values.push(v >>> 0);
    return this;
  }
  f(name: string, v: number): this {
    this.lines.push(`let ${name} = bitcast<f32>(params[${this.values.length}u]);`);
    this.values.push(f32Bits(v));
    return this;
  }
  /**
   * A run-time array at the end of the block: `name` is its first index. Nothing may follow it
   * (its length is a run-time fact, the offsets before it are not).
   */
  tail(name: string, vs: readonly number[]): this {
    this.lines.push(`let ${name} = ${this.values.length}u;`);
    for (const v of vs) this.values.push(v >>> 0);
    return this;
  }
  /** WGSL `let` declarations for the start of main(). */
  get wgsl(): string { return this.lines.join('\n  '); }
}

/** A fused activation: its name (as in FUSABLE_ACTIVATIONS) and parameters. */
export interface Act { name: string; p: number[] }

export interface Epilogue { act?: Act; post?: Act }

function readAct(node: Node, name: string, params: string): Act | undefined {
  const a = node.attrs[name];
  if (typeof a !== 'string' || a === '') return undefined;
  const p = node.attrs[params];
  return { name: a, p: Array.isArray(p) ? (p as number[]).slice() : [] };
}

/** The epilogue of a twinfer.Fused* node (empty for the plain ops). */
export function readEpilogue(node: Node): Epilogue {
  const e: Epilogue = {};
  const act = readAct(node, 'activation', 'activation_params');
  const post = readAct(node, 'post_activation', 'post_activation_params');
  if (act) e.act = act;
  if (post) e.post = post;
  return e;
}

/** Whether the WebGPU epilogue knows this activation. */
export function actSupported(a: Act | undefined): boolean {
  return !a || a.name in ACT_BODIES;
}

const SIGMOID = 'select(exp(x) / (1.0 + exp(x)), 1.0 / (1.0 + exp(-x)), x >= 0.0)';
/** tanh through exp of a clamped argument (the builtin can return NaN for large |x| on some drivers). */
const TANH = (v: string) => `(1.0 - 2.0 / (exp(2.0 * clamp(${v}, -15.0, 15.0)) + 1.0))`;

/** Bodies of `fn(x, a, b) -> f32`, `a`/`b` the activation's parameters (run-time). */
const ACT_BODIES: Record<string, (gelu: number) => string> = {
  Relu: () => 'return max(x, 0.0);',
  Sigmoid: () => `return ${SIGMOID};`,
  Tanh: () => `return ${TANH('x')};`,
  HardSwish: () => 'return x * clamp(x / 6.0 + 0.5, 0.0, 1.0);',
  Silu: () => `return x * ${SIGMOID};`,
  LeakyRelu: () => 'return select(a * x, x, x >= 0.0);',
  Elu: () => 'return select(a * (exp(x) - 1.0), x, x >= 0.0);',
  Gelu: (g) => (g === 1
    ? `return 0.5 * x * (1.0 + ${TANH('0.7978845608028654 * (x + 0.044715 * x * x * x)')});`
    // erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7)
    : `let z = abs(x) * 0.7071067811865476;
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let e = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * exp(-z * z);
  return 0.5 * x * (1.0 + select(-e, e, x >= 0.0));`),
  Clip: () => 'return min(max(x, a), b);',
  HardSigmoid: () => 'return clamp(a * x + b, 0.0, 1.0);',
  Affine: () => 'return a * x + b;',
};

function actKey(a: Act | undefined): string {
  if (!a) return '-';
  return a.name === 'Gelu' ? `Gelu${a.p[0] ?? 0}` : a.name;
}

function actFn(fn: string, a: Act | undefined): string {
  if (!a) return '';
  const body = ACT_BODIES[a.name];
  if (!body) throw new Error(`WebGPU epilogue: unknown activation ${a.name}`);
  return `fn ${fn}(x: f32, a: f32, b: f32) -> f32 {\n  ${body(a.p[0] ?? 0)}\n}`;
}

/** Parameter defaults as in the ONNX ops (the optimizer always writes them; this is a safety net). */
function actParams(a: Act): [number, number] {
  const d: Record<string, [number, number]> = {
    LeakyRelu: [0.01, 0], Elu: [1, 0], Clip: [-3.4028234663852886e38, 3.4028234663852886e38], HardSigmoid: [0.2, 0.5], Affine: [1, 0],
  };
  const [d0, d1] = d[a.name] ?? [0, 0];
  return [a.p[0] ?? d0, a.name === 'Gelu' ? 0 : a.p[1] ?? d1];
}

/** Cache-key part of an epilogue (activation names only; their parameters are run-time). */
export function epilogueKey(e: Epilogue, residual: boolean): string {
  return `${actKey(e.act)}|${residual ? 'Z' : ''}|${actKey(e.post)}`;
}

/** Module-scope WGSL of an epilogue's activation functions. */
export function epilogueDecls(e: Epilogue): string {
  return [actFn('act0_', e.act), actFn('act1_', e.post)].filter(Boolean).join('\n');
}

/** Adds the activation parameters to the params block (named ea0, ea1, ep0, ep1). */
export function epilogueParams(p: Params, e: Epilogue): void {
  if (e.act) { const [a, b] = actParams(e.act); p.f('ea0', a).f('ea1', b); }
  if (e.post) { const [a, b] = actParams(e.post); p.f('ep0', a).f('ep1', b); }
}

/**
 * WGSL statements turning `v` (a `var` holding op(...) + bias) into the stored value:
 * activation, residual `z` (a WGSL expression, read only when there is one), post-activation.
 */
export function epilogueApply(e: Epilogue, z: string | undefined): string {
  const s: string[] = [];
  if (e.act) s.push('v = act0_(v, ea0, ea1);');
  if (z) s.push(`v += ${z};`);
  if (e.post) s.push('v = act1_(v, ep0, ep1);');
  return s.join(' ');
}
