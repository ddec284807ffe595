/** The demo's synthetic text line (shared with the browser test, which recomputes it in Node). */
export const DEMO_DIMS = [1, 3, 48, 192];

export function textLine(dims: readonly number[] = DEMO_DIMS): Float32Array {
  const [, c, h, w] = dims as [number, number, number, number];
  const d = new Float32Array(c * h * w);
  let i = 0;
  for (let ch = 0; ch < c; ch++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    d[i++] = Math.sin(y * 0.35) > 0.6 && Math.sin(x * 0.9) > -0.2 ? -0.8 : 0.85;
  }
  return d;
}
