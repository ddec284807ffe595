/**
 * Tactics of the general convolution (convgemm-conv.ts recordConv, after the pointwise and
 * depthwise paths): implicit GEMM with the split-K policy, implicit GEMM unsplit (when the policy
 * splits), the implicit GEMM with each other tile config of TILE_CANDIDATES, and Winograd F(2x2,3x3)
 * wherever the shape allows it (3x3, stride 1, undilated, 2-D). Pointwise convolutions (a batched
 * GEMM) choose among the same tile configs.
 * With a tuning session the fastest is timed at build / taken from the cache; without one (or past
 * the timing budget) the fixed policies decide (winogradApplies, splitK).
 */
import type { GpuKernelContext } from './kernel.js';
import type { ConvJob } from './ops/convgemm-conv.js';
import { cfgKey, pickConvTile, pickTile, splitK, tileM, tileN, type TileCfg } from './ops/convgemm-tile.js';
import { winogradFits, winogradPolicy } from './ops/convgemm-winograd.js';
import { chooseTactic, type Candidate } from './tuning.js';

export interface ConvAlternatives {
  /** Records through Winograd; `force` skips the policy (shape permitting). False when it does not apply. */
  winograd(force: boolean): Promise<boolean>;
  /** Records the implicit GEMM; `split` false disables split-K (undefined: policy); `cfg` overrides the tile policy. */
  gemm(split?: boolean, cfg?: TileCfg): Promise<void>;
}

/**
 * Tile configs worth timing besides the policy's: the first session's 64x64 tiles of 4x4, and the
 * register-blocked 8x4 ones that won the H100 sweeps (bench/webgpu-gemm.js --sweep) on large GEMMs.
 */
export const TILE_CANDIDATES: readonly TileCfg[] = [
  { wx: 16, wy: 16, tk: 16 },
  { wx: 16, wy: 16, tk: 16, rm: 8, rn: 4 },
  { wx: 16, wy: 8, tk: 8, rm: 8, rn: 4 },
];

/** Candidate tile configs other than `policy` that suit M rows (the im2col loader needs TN <= threads). */
function otherTiles(policy: TileCfg, M: number, conv: boolean): TileCfg[] {
  return TILE_CANDIDATES.filter((c) => cfgKey(c) !== cfgKey(policy) && tileM(c) <= Math.max(64, M * 2) && (!conv || c.wx * c.wy >= tileN(c)));
}

/** Pointwise convolutions: the batched GEMM with the policy's tile or another candidate. */
export async function tunedPointwise(ctx: GpuKernelContext, job: ConvJob, run: (cfg?: TileCfg) => Promise<void>): Promise<void> {
  const Mg = job.Mtot / job.group, OS = job.g.o.reduce((p, x) => p * x, 1);
  const policy = pickTile(Mg, OS);
  const cands: Candidate[] = [{ name: 'gemm', run: () => run() }];
  for (const c of otherTiles(policy, Mg, false)) cands.push({ name: `gemm@${cfgKey(c)}`, run: () => run(c) });
  const choice = await chooseTactic(ctx.gpu, `pw:${convSignature(job)}`, cands);
  const tile = choice?.startsWith('gemm@') ? TILE_CANDIDATES.find((c) => `gemm@${cfgKey(c)}` === choice) : undefined;
  return run(tile);
}

/** Everything the tactic timing depends on (not the epilogue, which costs the same in each). */
export function convSignature(job: ConvJob): string {
  const g = job.g;
  return `conv:n${job.batch}c${job.C}m${job.Mtot}g${job.group}:i${g.i.join('x')}:k${g.k.join('x')}:s${g.s.join('x')}:d${g.d.join('x')}:p${g.p.join('x')}-${g.q.join('x')}`;
}

/** Whether the implicit GEMM's split-K policy splits this convolution. */
function policySplits(job: ConvJob): boolean {
  const Mg = job.Mtot / job.group, Cg = job.C / job.group;
  const KS = job.g.k.reduce((p, x) => p * x, 1), OS = job.g.o.reduce((p, x) => p * x, 1);
  const cfg = pickConvTile(Mg);
  const tiles = Math.ceil((job.batch * OS) / tileN(cfg)) * Math.ceil(Mg / tileM(cfg)) * job.group;
  return splitK(tiles, cfg.wx * cfg.wy, Cg * KS, cfg.tk).S > 1;
}

export async function tunedConv(ctx: GpuKernelContext, job: ConvJob, alt: ConvAlternatives): Promise<void> {
  // A forced policy (tests, benchmarks) beats tuning.
  if (winogradPolicy() === 'force' && (await alt.winograd(false))) return;
  const cands: Candidate[] = [{ name: 'gemm', run: () => alt.gemm() }];
  if (policySplits(job)) cands.push({ name: 'gemm-nosplit', run: () => alt.gemm(false) });
  for (const c of otherTiles(pickConvTile(job.Mtot / job.group), job.Mtot / job.group, true)) cands.push({ name: `gemm@${cfgKey(c)}`, run: () => alt.gemm(undefined, c) });
  if (winogradFits(job, ctx.gpu.ctx.caps.maxStorageBufferBindingSize)) cands.push({ name: 'winograd2', run: async () => { await alt.winograd(true); } });
  const choice = cands.length > 1 ? await chooseTactic(ctx.gpu, convSignature(job), cands) : undefined;
  if (choice === 'gemm') return alt.gemm();
  if (choice === 'gemm-nosplit') return alt.gemm(false);
  const tile = choice?.startsWith('gemm@') ? TILE_CANDIDATES.find((c) => `gemm@${cfgKey(c)}` === choice) : undefined;
  if (tile) return alt.gemm(undefined, tile);
  if (choice === 'winograd2' && (await alt.winograd(true))) return;
  if (await alt.winograd(false)) return;
  return alt.gemm();
}
