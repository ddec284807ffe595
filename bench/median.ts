/**
 * The benches' timer: `warmup` untimed calls, then the median wall time of `iterations` calls, in ms.
 * One definition so every bench's "median of N (after W warm-up runs)" means the same thing.
 */
export async function medianMs(fn: () => unknown, iterations: number, warmup = 0): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < iterations; i++) { const t0 = performance.now(); await fn(); ts.push(performance.now() - t0); }
  return ts.sort((a, b) => a - b)[Math.floor(ts.length / 2)]!;
}
