/**
 * Runs the conformance set on a backend and prints (or, with --write, writes) the expectations
 * file: every case that does not pass, with its current reason. Reasons are then edited by hand
 * into explanations; --write keeps an existing hand-written reason for a case that still fails.
 *   node dist/scripts/conformance.js [--backend cpu] [--write]
 */
import * as fs from 'node:fs';
import { runTargetCases, type Expectations } from '../src/testing/conformance.js';

const args = process.argv.slice(2);
const backend = args.includes('--backend') ? args[args.indexOf('--backend') + 1]! : 'cpu';
const file = `test/conformance-expectations.${backend.replace(/,/g, '-')}.json`;
const old: Expectations = fs.existsSync(file) ? JSON.parse(fs.readFileSync(file, 'utf8')) : {};
const results = await runTargetCases(backend);
const exp: Expectations = {};
for (const r of results) if (r.status !== 'pass') exp[r.name] = old[r.name] ?? `${r.status}: ${r.reason ?? ''}`.slice(0, 300);
const passed = results.filter((r) => r.status === 'pass').length;
console.log(`${backend}: ${passed}/${results.length} target cases pass (${((100 * passed) / results.length).toFixed(1)}%)`);
for (const [k, v] of Object.entries(exp)) console.log(`  ${k}: ${v}`);
if (args.includes('--write')) { fs.writeFileSync(file, JSON.stringify(exp, null, 2) + '\n'); console.log(`wrote ${file}`); }
