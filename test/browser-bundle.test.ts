/**
 * The core runs in browsers: the Vite demo bundles src/index.ts (the browser entry point) without
 * any Node built-in. A Node import sneaking into a core module fails this test.
 */
import { expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { makeTmpDir } from './helpers/tmp.js';
import { build } from 'vite';

it('the browser demo bundles with no Node built-ins', async () => {
  const outDir = makeTmpDir('twinfer-demo');
  const warnings: string[] = [];
  try {
    await build({
      configFile: path.resolve('vite.config.ts'), logLevel: 'silent', build: { outDir, emptyOutDir: true },
      customLogger: { info() {}, warn: (m: string) => { warnings.push(m); }, warnOnce: (m: string) => { warnings.push(m); }, error: (m: string) => { warnings.push(m); }, clearScreen() {}, hasErrorLogged: () => false, hasWarned: false },
    });
    const js = fs.readdirSync(path.join(outDir, 'assets')).filter((f) => f.endsWith('.js'));
    expect(js.length).toBeGreaterThan(0);
    for (const f of js) {
      const code = fs.readFileSync(path.join(outDir, 'assets', f), 'utf8');
      // Booleans, not the code itself, so a failure does not print a megabyte of bundle.
      expect(/from\s*["']node:|require\(["'](node:)?(fs|path|os|child_process)["']\)/.test(code), `${f} imports a Node built-in`).toBe(false);
      expect(code.includes('UNSUPPORTED_OP'), `${f} holds the runtime`).toBe(true);
    }
    expect(warnings.filter((w) => /externalized for browser compatibility|node:/.test(w))).toEqual([]);
  } finally { fs.rmSync(outDir, { recursive: true, force: true }); }
});
