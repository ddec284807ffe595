/**
 * The conformance set: ONNX node-test cases whose model uses only ops of ../shared/ops.txt.
 * Shared by the vitest suite and scripts/conformance.ts (which rewrites the expectations file).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { decodeModelProto } from '../onnx/import.js';
import { listCases, runCase, type CaseResult } from '../cli/onnx-test.js';
import type { OptLevel } from '../passes/index.js';

export const SHARED = path.resolve(process.env['TWINFER_SHARED'] ?? '../shared');
export const NODE_TESTS = path.join(SHARED, 'onnx-backend-tests', 'node');

export function targetOps(): Set<string> {
  const txt = fs.readFileSync(path.join(SHARED, 'ops.txt'), 'utf8');
  return new Set(txt.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
}

/** Case folders whose every node is a default-domain op of the target set. */
export function targetCases(): string[] {
  const ops = targetOps();
  return listCases([NODE_TESTS]).filter((dir) => {
    const m = decodeModelProto(new Uint8Array(fs.readFileSync(path.join(dir, 'model.onnx'))));
    return (m.graph?.node ?? []).every((n) => (!n.domain || n.domain === 'ai.onnx') && ops.has(n.opType ?? ''));
  });
}

export type Expectations = Record<string, string>;

export async function runTargetCases(backend: string, onCase?: (r: CaseResult) => void, optLevel: OptLevel = 2, all = false): Promise<CaseResult[]> {
  const out: CaseResult[] = [];
  for (const dir of all ? listCases([NODE_TESTS]) : targetCases()) {
    const r = await runCase(dir, { backend, rtol: 1e-3, atol: 1e-5, optLevel });
    onCase?.(r);
    out.push(r);
  }
  return out;
}
