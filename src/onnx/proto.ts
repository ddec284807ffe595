/**
 * The onnx-proto runtime. The package is CommonJS, so Node's ESM loader only offers its default
 * export; types come from `import type { onnx } from 'onnx-proto'` in each module.
 */
import pkg from 'onnx-proto';
import type { onnx } from 'onnx-proto';

export const pb: typeof onnx = (pkg as unknown as { onnx: typeof onnx }).onnx;
