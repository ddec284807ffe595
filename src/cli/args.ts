/** A small argv parser: positional args, `--flag value`, repeated flags, boolean flags. */
import { TwinferError } from '../errors.js';

export interface ParsedArgs {
  positional: string[];
  values: Map<string, string[]>;
  flags: Set<string>;
}

export function parseArgs(argv: readonly string[], valueOpts: readonly string[], boolOpts: readonly string[]): ParsedArgs {
  const res: ParsedArgs = { positional: [], values: new Map(), flags: new Set() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) { res.positional.push(a); continue; }
    let key = a.slice(2), val: string | undefined;
    const eq = key.indexOf('=');
    if (eq >= 0) { val = key.slice(eq + 1); key = key.slice(0, eq); }
    if (boolOpts.includes(key)) { res.flags.add(key); continue; }
    if (!valueOpts.includes(key)) throw new TwinferError('INVALID_ARGUMENT', `unknown option --${key}`);
    if (val === undefined) {
      val = argv[++i];
      if (val === undefined) throw new TwinferError('INVALID_ARGUMENT', `--${key} needs a value`);
    }
    res.values.set(key, [...(res.values.get(key) ?? []), val]);
  }
  return res;
}

export function one(a: ParsedArgs, key: string): string | undefined {
  const v = a.values.get(key);
  return v ? v[v.length - 1] : undefined;
}

export function num(a: ParsedArgs, key: string, def: number, { min = -Infinity, integer = false } = {}): number {
  const s = one(a, key);
  if (s === undefined) return def;
  const n = Number(s);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new TwinferError('INVALID_ARGUMENT', `--${key} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got '${s}'`);
  return n;
}
