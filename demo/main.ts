// Browser demo: the model is fetched by URL (Vite serves the asset), run through the browser-safe
// entry point 'src/index.ts', and its output and latency are shown on the page.
import { InferenceSession, Tensor } from '../src/index.js';
import modelUrl from '@ocr-models/ch_ppocr_mobile_v2.0_cls_infer.onnx?url';

const out = document.getElementById('out')!;
const dims = [1, 3, 48, 192];

function textLine(): Float32Array {
  const d = new Float32Array(dims.reduce((a, b) => a * b, 1));
  let i = 0;
  for (let c = 0; c < 3; c++) for (let y = 0; y < 48; y++) for (let x = 0; x < 192; x++) {
    d[i++] = Math.sin(y * 0.35) > 0.6 && Math.sin(x * 0.9) > -0.2 ? -0.8 : 0.85;
  }
  return d;
}

document.getElementById('run')!.addEventListener('click', async () => {
  try {
    out.textContent = 'loading model...';
    const session = await InferenceSession.create(modelUrl, { backends: ['cpu'] });
    const x = new Tensor('float32', textLine(), dims);
    const t0 = performance.now();
    const res = await session.run({ [session.inputNames[0]!]: x });
    const ms = performance.now() - t0;
    const y = res[session.outputNames[0]!]!;
    out.textContent = `backend: ${session.backend}\noutput ${session.outputNames[0]} [${y.dims.join('x')}]: ${Array.from(y.data as Float32Array).map((v) => v.toFixed(4)).join(', ')}\nlatency: ${ms.toFixed(1)} ms`;
  } catch (e) {
    out.textContent = `error: ${(e as Error).message}`;
  }
});
