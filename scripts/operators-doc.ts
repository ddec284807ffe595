/**
 * Writes docs/operators.md, the support matrix: one row per op of ../shared/ops.txt, one column
 * per backend, from the registries themselves (so the table cannot drift: a test compares it).
 *   node dist/scripts/operators-doc.js [--check]
 */
import * as fs from 'node:fs';
import { renderOperatorsDoc } from '../src/testing/operators-doc.js';

const file = 'docs/operators.md';
const text = renderOperatorsDoc();
if (process.argv.includes('--check')) {
  if (fs.readFileSync(file, 'utf8') !== text) { console.error(`${file} is stale: run node dist/scripts/operators-doc.js`); process.exit(1); }
} else {
  fs.writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
