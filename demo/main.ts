// Browser demo: the PP-OCR orientation classifier fetched by URL (Vite serves the asset), run
// through the browser-safe entry point on WebGPU with CPU fallback (or ?backend=cpu), with its
// output, latency and where each node ran shown on the page. ?auto=1 runs on load and leaves the
// result in window.__twinfer (the Playwright test reads it).
import { InferenceSession, Tensor } from '../src/index.js';
import type { BackendName } from '../src/engine/plan.js';
import modelUrl from '@ocr-models/ch_ppocr_mobile_v2.0_cls_infer.onnx?url';
import { DEMO_DIMS, textLine } from './input.js';

const out = document.getElementById('out')!;
const query = new URLSearchParams(location.search);
const backends: BackendName[] = query.get('backend') === 'cpu' ? ['cpu'] : ['webgpu', 'cpu'];

async function run(): Promise<void> {
  try {
    out.textContent = 'loading model...';
    const logs: string[] = [];
    const session = await InferenceSession.create(modelUrl, { backends, log: (m) => logs.push(m) });
    const x = new Tensor('float32', textLine(DEMO_DIMS), DEMO_DIMS);
    await session.run({ [session.inputNames[0]!]: x }); // warm-up: compiles pipelines
    const t0 = performance.now();
    const res = await session.run({ [session.inputNames[0]!]: x });
    const ms = performance.now() - t0;
    const y = res[session.outputNames[0]!]!;
    const values = Array.from(y.data as Float32Array);
    const onGpu = [...session.plan.partition.assignment.values()].filter((b) => b === 'webgpu').length;
    (window as unknown as { __twinfer: unknown }).__twinfer = { values, dims: y.dims, backends: session.plan.backends, onGpu, nodes: session.graph.nodes.length, ms, logs };
    out.textContent = `backends: ${session.plan.backends.join(' + ')} (${onGpu}/${session.graph.nodes.length} nodes on webgpu)\n` +
      `output ${session.outputNames[0]} [${y.dims.join('x')}]: ${values.map((v) => v.toFixed(4)).join(', ')}\nlatency: ${ms.toFixed(1)} ms\n${logs.join('\n')}`;
  } catch (e) {
    (window as unknown as { __twinfer: unknown }).__twinfer = { error: (e as Error).message };
    out.textContent = `error: ${(e as Error).message}`;
  }
}

document.getElementById('run')!.addEventListener('click', () => void run());
if (query.get('auto') === '1') void run();
