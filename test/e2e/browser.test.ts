/**
 * The browser path end to end: Vite builds the demo, a loopback server serves it, headless Chromium
 * (Debian's, through playwright-core; WebGPU on the machine's Vulkan driver) runs the PP-OCR
 * classifier through twinfer on WebGPU with CPU fallback, and its output must match twinfer's CPU
 * result computed here in Node. Tolerance rtol 1e-3 / atol 1e-4: float32 on both sides, the GPU
 * sums in another order. Skips (with the reason) only where Chromium is not installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import type { AddressInfo } from 'node:net';
import { build } from 'vite';
import { chromium, type Browser } from 'playwright-core';
import { InferenceSession, Tensor } from '../../src/node.js';
import { ppocrModels } from '../../src/testing/ppocr.js';
import { DEMO_DIMS, textLine } from '../../demo/input.js';
import { makeTmpDir } from '../helpers/tmp.js';

const CHROMIUM = '/usr/bin/chromium';
const haveChromium = fs.existsSync(CHROMIUM);
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.onnx': 'application/octet-stream' };

describe.skipIf(!haveChromium)('browser (headless Chromium, WebGPU)', () => {
  let dir = '', server: http.Server, browser: Browser, url = '';

  beforeAll(async () => {
    dir = makeTmpDir('e2e');
    await build({ configFile: path.resolve('vite.config.ts'), logLevel: 'silent', build: { outDir: dir, emptyOutDir: true } });
    server = http.createServer((req, res) => {
      const p = path.join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      const file = p.endsWith('/') ? path.join(p, 'index.html') : p;
      if (!file.startsWith(dir) || !fs.existsSync(file)) { res.statusCode = 404; res.end(); return; }
      res.setHeader('content-type', TYPES[path.extname(file)] ?? 'application/octet-stream');
      res.end(fs.readFileSync(file));
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless=new', '--enable-unsafe-webgpu', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    server?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs the PP-OCR classifier on WebGPU in the page and matches the CPU backend in Node', async () => {
    const page = await browser.newPage();
    await page.goto(`${url}?auto=1`);
    await page.waitForFunction(() => (window as unknown as { __twinfer?: unknown }).__twinfer !== undefined, undefined, { timeout: 120_000 });
    const r = await page.evaluate(() => (window as unknown as { __twinfer: { values?: number[]; dims?: number[]; backends?: string[]; onGpu?: number; error?: string; logs?: string[] } }).__twinfer);
    expect(r.error, 'page error').toBeUndefined();
    expect(r.backends).toContain('webgpu');
    expect(r.onGpu!).toBeGreaterThan(0);

    const cpu = await InferenceSession.create(ppocrModels()[0]!.file, { backends: ['cpu'] });
    const ref = await cpu.run({ x: new Tensor('float32', textLine(DEMO_DIMS), DEMO_DIMS) });
    const want = Array.from(ref[cpu.outputNames[0]!]!.data as Float32Array);
    expect(r.dims).toEqual([1, 2]);
    r.values!.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-4 + 1e-3 * Math.abs(want[i]!)));
  }, 180_000);
});
