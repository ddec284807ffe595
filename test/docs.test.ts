/** docs/operators.md is generated from the registries; it must be current. */
import { expect, it } from 'vitest';
import * as fs from 'node:fs';
import { renderOperatorsDoc } from '../src/testing/operators-doc.js';

it('docs/operators.md matches the registries (regenerate: node dist/scripts/operators-doc.js)', () => {
  expect(fs.readFileSync('docs/operators.md', 'utf8')).toBe(renderOperatorsDoc());
});
