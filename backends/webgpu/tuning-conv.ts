/**
 * Tactics of the general convolution (convgemm-conv.ts recordConv, after the pointwise and
 * depthwise paths): implicit GEMM with the split-K policy, implicit GEMM unsplit (when the policy
 * splits), and Winograd F(2x2,3x3) wherever the shape allows it (3x3, stride 1, undilated, 2-D).
 * With a tuning session the fastest is timed at build / taken from the cache; without one (or past
 * the timing budget) the fixed policies decide (winogradApplies, splitK).
 */
import type { GpuKernelContext } from './kernel.js';
import type { ConvJob } from './ops/convgemm-conv.js';
import { pickConvTile, splitK, tileM, tileN } from './ops/convgemm-tile.js';
import { winogradFits, winogradPolicy } from './ops/convgemm-winograd.js';
import { chooseTactic, type Candidate } from './tuning.js';

export interface ConvAlternatives {
  /** Records through Winograd; `force` skips the policy (shape permitting). False when it does not apply. */
  winograd(force: boolean): Promise<boolean>;
  /** Records the implicit GEMM; `split` false disables split-K (undefined: policy). */
  gemm(split?: boolean): Promise<void>;
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
  if (winogradFits(job, ctx.gpu.ctx.caps.maxStorageBufferBindingSize)) cands.push({ name: 'winograd2', run: async () => { await alt.winograd(true); } });
  const choice = cands.length > 1 ? await chooseTactic(ctx.gpu, convSignature(job), cands) : undefined;
  if (choice === 'gemm') return alt.gemm();
  if (choice === 'gemm-nosplit') return alt.gemm(false);
  if (choice === 'winograd2' && (await alt.winograd(true))) return;
  if (await alt.winograd(false)) return;
  return alt.gemm();
}
