"""PyTorch reference for the native backend's benchmark (issue 6), run on the GPU machine where torch,
torchvision and onnx are installed. For each torchvision model, seeded random weights:
  - exports the fp32 model to ONNX (dynamic batch) with a seeded input and torch's output, so twinfer
    runs the same weights and its agreement with torch is checked (bench/native-vs-torch.ts);
  - times PyTorch eager (channels_last, cudnn.benchmark; batch 1 replayed as a CUDA graph) in fp32
    and fp16, and torch.compile fp16 (mode='reduce-overhead') at batch 1 and the large batch.
Writes OUT/torch.json and OUT/<model>.onnx, OUT/<model>.input.npy, OUT/<model>.output.npy.

    python3 bench/torch-baseline.py --out DIR [--models resnet50,mobilenet_v2] [--batch 256] [--no-compile]
"""
import argparse, json, os, time
import numpy as np
import torch, torchvision

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--models', default='resnet50,mobilenet_v2')
p.add_argument('--batch', type=int, default=256)
p.add_argument('--iters', type=int, default=30)
p.add_argument('--no-compile', action='store_true')
a = p.parse_args()
os.makedirs(a.out, exist_ok=True)
torch.backends.cudnn.benchmark = True
dev = torch.device('cuda')
res = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0), 'cudnn': torch.backends.cudnn.version(),
       'tf32_conv': torch.backends.cudnn.allow_tf32, 'models': {}}

def timed(fn, iters):
    for _ in range(5): fn()
    torch.cuda.synchronize()
    ts = []
    for _ in range(iters):
        t0 = time.perf_counter(); fn(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2] * 1e3

def graphed(model, x):
    # Batch 1 is launch-bound: replay the whole forward as one CUDA graph, as the figure does.
    s = torch.cuda.Stream(); s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3): model(x)
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g): y = model(x)
    return lambda: g.replay()

for name in a.models.split(','):
    torch.manual_seed(0)
    m = getattr(torchvision.models, name)(weights=None).eval()
    x1 = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y1 = m(x1)
    onnx_path = os.path.join(a.out, f'{name}.onnx')
    torch.onnx.export(m, x1, onnx_path, input_names=['input'], output_names=['output'], opset_version=17,
                      dynamic_axes={'input': {0: 'batch'}, 'output': {0: 'batch'}}, dynamo=False)
    np.save(os.path.join(a.out, f'{name}.input.npy'), x1.numpy())
    np.save(os.path.join(a.out, f'{name}.output.npy'), y1.numpy())
    r = {}
    for prec, dt in [('fp32', torch.float32), ('fp16', torch.float16)]:
        mm = m.to(dev, dtype=dt).to(memory_format=torch.channels_last)
        with torch.no_grad():
            xb = torch.randn(1, 3, 224, 224, device=dev, dtype=dt).to(memory_format=torch.channels_last)
            r[f'eager_{prec}_b1_ms'] = timed(graphed(mm, xb), a.iters)
            xb = torch.randn(a.batch, 3, 224, 224, device=dev, dtype=dt).to(memory_format=torch.channels_last)
            ms = timed(lambda: mm(xb), max(10, a.iters // 3))
            r[f'eager_{prec}_b{a.batch}_ms'] = ms
            r[f'eager_{prec}_b{a.batch}_ips'] = a.batch / ms * 1e3
        print(name, prec, {k: round(v, 3) for k, v in r.items() if prec in k}, flush=True)
    if not a.no_compile:
        mm = m.to(dev, dtype=torch.float16).to(memory_format=torch.channels_last)
        t0 = time.perf_counter()
        cm = torch.compile(mm, mode='reduce-overhead')
        with torch.no_grad():
            for b in (1, a.batch):
                xb = torch.randn(b, 3, 224, 224, device=dev, dtype=torch.float16).to(memory_format=torch.channels_last)
                ms = timed(lambda: cm(xb), a.iters if b == 1 else max(10, a.iters // 3))
                r[f'compile_fp16_b{b}_ms'] = ms
                if b > 1: r[f'compile_fp16_b{b}_ips'] = b / ms * 1e3
        r['compile_seconds'] = time.perf_counter() - t0
        print(name, 'compile', {k: round(v, 3) for k, v in r.items() if 'compile' in k}, flush=True)
    res['models'][name] = r
    m.cpu()
json.dump(res, open(os.path.join(a.out, 'torch.json'), 'w'), indent=1)
print(json.dumps(res))
