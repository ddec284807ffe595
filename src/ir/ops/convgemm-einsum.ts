/**
 * Einsum equation parsing, shared by the schema (output shape) and the CPU kernel (loop plan).
 * Every axis of every operand gets a label; ellipsis axes get synthetic labels (one per
 * broadcast position, right-aligned across operands as numpy does), so the rest of the code
 * treats them as ordinary letters. Repeated labels within one operand denote a diagonal.
 */
import type { Dim } from '../graph.js';
import { InferError } from '../schema.js';

export interface EinsumPlan {
  /** Labels of each operand's axes, in axis order (length = operand rank). */
  inputs: string[][];
  /** Labels of the output axes (distinct). */
  output: string[];
}

/** Synthetic label of ellipsis position j (0 = outermost of the broadcast dims). */
const ellLabel = (j: number): string => String.fromCharCode(0x100 + j);

function parseTerm(term: string, what: string): { letters: string[]; ellipsisAt: number } {
  const letters: string[] = [];
  let ellipsisAt = -1;
  for (let i = 0; i < term.length; i++) {
    const ch = term[i]!;
    if (ch === '.') {
      if (term.slice(i, i + 3) !== '...' || ellipsisAt >= 0) throw new InferError(`Einsum: bad ellipsis in ${what} '${term}'`);
      ellipsisAt = letters.length;
      i += 2;
    } else if (/[A-Za-z]/.test(ch)) letters.push(ch);
    else if (ch !== ' ') throw new InferError(`Einsum: invalid character '${ch}' in ${what} '${term}'`);
  }
  return { letters, ellipsisAt };
}

/** Parses `equation` for operands of the given ranks (undefined rank: unknown, returns undefined). */
export function parseEinsum(equation: string, ranks: readonly (number | undefined)[]): EinsumPlan | undefined {
  const [lhs, rhs] = equation.split('->') as [string, string | undefined];
  if (equation.split('->').length > 2) throw new InferError(`Einsum: more than one '->' in '${equation}'`);
  const terms = lhs.split(',');
  if (terms.length !== ranks.length) throw new InferError(`Einsum: equation has ${terms.length} operands, node has ${ranks.length} inputs`);
  const parsed = terms.map((t, i) => parseTerm(t, `operand ${i}`));
  if (ranks.some((r) => r === undefined)) return undefined;
  let ellRank = 0;
  const inputs = parsed.map((p, i) => {
    const rank = ranks[i]!;
    const e = rank - p.letters.length;
    if (p.ellipsisAt < 0 ? e !== 0 : e < 0) {
      throw new InferError(`Einsum: operand ${i} has rank ${rank} but its term '${terms[i]}' names ${p.letters.length} axes`);
    }
    ellRank = Math.max(ellRank, e);
    return { p, e };
  });
  const labels = inputs.map(({ p, e }) => {
    if (p.ellipsisAt < 0) return p.letters;
    const ell: string[] = [];
    for (let j = 0; j < e; j++) ell.push(ellLabel(ellRank - e + j));
    return [...p.letters.slice(0, p.ellipsisAt), ...ell, ...p.letters.slice(p.ellipsisAt)];
  });
  const allEll: string[] = [];
  for (let j = 0; j < ellRank; j++) allEll.push(ellLabel(j));
  let output: string[];
  if (rhs === undefined) {
    // Implicit mode: broadcast dims, then the letters seen exactly once, in alphabetical order.
    const count = new Map<string, number>();
    for (const { p } of inputs) for (const l of p.letters) count.set(l, (count.get(l) ?? 0) + 1);
    const once = [...count].filter(([, n]) => n === 1).map(([l]) => l).sort();
    output = [...allEll, ...once];
  } else {
    const o = parseTerm(rhs, 'output');
    const seen = new Set<string>();
    for (const l of o.letters) {
      if (seen.has(l)) throw new InferError(`Einsum: output label '${l}' repeated`);
      seen.add(l);
      if (!inputs.some(({ p }) => p.letters.includes(l))) throw new InferError(`Einsum: output label '${l}' not in any input`);
    }
    output = o.ellipsisAt < 0 ? o.letters : [...o.letters.slice(0, o.ellipsisAt), ...allEll, ...o.letters.slice(o.ellipsisAt)];
  }
  return { inputs: labels, output };
}

/** Size of every label, checking agreement (size 1 broadcasts, as numpy does). */
export function einsumLabelSizes(plan: EinsumPlan, shapes: readonly (readonly Dim[])[]): Map<string, Dim> {
  const sizes = new Map<string, Dim>();
  plan.inputs.forEach((labels, i) => {
    labels.forEach((l, ax) => {
      const d = shapes[i]![ax]!;
      const cur = sizes.get(l);
      if (cur === undefined || cur === 1) sizes.set(l, d);
      else if (d !== 1 && d !== cur && typeof d === 'number' && typeof cur === 'number') {
        throw new InferError(`Einsum: label sizes disagree (${cur} vs ${d}) for operand ${i} axis ${ax}`);
      }
    });
  });
  return sizes;
}
