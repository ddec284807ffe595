/** protobufjs gives int64 fields as number or Long (when the `long` package is present). */
export type LongLike = number | { toNumber(): number; low: number; high: number; unsigned?: boolean } | string | bigint;

export function toNum(v: LongLike | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  return v.toNumber();
}
