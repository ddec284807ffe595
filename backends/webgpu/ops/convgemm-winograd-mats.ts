/**
 * Winograd transform matrices (Lavin & Gray) and a generator of unrolled WGSL for them: each
 * output of a small constant matrix product becomes one sum of the inputs with non-zero
 * coefficients, so the shaders carry no matrix tables and no multiplications by 0 or +-1.
 */

export interface WinogradMats {
  /** Output tile edge m (2 or 4); the input tile edge is a = m + 2. */
  m: 2 | 4;
  /** B^T, a x a: input transform V = B^T d B. */
  BT: number[][];
  /** G, a x 3: weight transform U = G g G^T. */
  G: number[][];
  /** A^T, m x a: output transform Y = A^T P A. */
  AT: number[][];
}

export const F2: WinogradMats = {
  m: 2,
  BT: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
  G: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]],
  AT: [[1, 1, 1, 0], [0, 1, -1, -1]],
};

export const F4: WinogradMats = {
  m: 4,
  BT: [
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
  ],
  G: [
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
  ],
};

function lit(c: number): string {
  const s = Number.isInteger(c) ? `${c}.0` : `${c}`;
  return s.includes('e') ? c.toExponential() : s;
}

/** `row . vars` as a WGSL expression, skipping zero coefficients ("0.0" when all are zero). */
export function dot(row: readonly number[], vars: readonly string[]): string {
  const terms: string[] = [];
  row.forEach((c, i) => {
    if (c === 0) return;
    const v = vars[i]!;
    const mag = Math.abs(c);
    const t = mag === 1 ? v : `${lit(mag)} * ${v}`;
    terms.push(terms.length === 0 ? (c < 0 ? `-${t}` : t) : (c < 0 ? ` - ${t}` : ` + ${t}`));
  });
  return terms.length ? terms.join('') : '0.0';
}

/**
 * WGSL statements computing `out = L * X * L^T` for an r x r matrix X of WGSL names `x(i, j)` and an
 * n x r matrix L: declares `let` temporaries `${tmp}i_j` and returns the n x n output expressions.
 */
export function sandwich(L: readonly number[][], r: number, x: (i: number, j: number) => string, tmp: string): { code: string; out: (i: number, j: number) => string } {
  const n = L.length;
  const lines: string[] = [];
  // T = L * X (n x r), then out = T * L^T (n x n)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < r; j++) {
      lines.push(`let ${tmp}${i}_${j} = ${dot(L[i]!, Array.from({ length: r }, (_, k) => x(k, j)))};`);
    }
  }
  const out = (i: number, j: number) => `(${dot(L[j]!, Array.from({ length: r }, (_, k) => `${tmp}${i}_${k}`))})`;
  return { code: lines.join('\n  '), out };
}
