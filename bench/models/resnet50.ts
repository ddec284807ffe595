/**
 * ResNet-50 v1.5 in torchvision's layout (the stride of a downsampling bottleneck sits on its 3x3
 * conv), exported the way torch.onnx writes it in eval mode without Conv+BN folding:
 *   Conv(7x7/2) BN Relu MaxPool(3x3/2 pad 1)
 *   16 bottlenecks (3-4-6-3): Conv1x1 BN Relu, Conv3x3 BN Relu, Conv1x1 BN, [Conv1x1 BN shortcut],
 *                             Add, Relu
 *   GlobalAveragePool Flatten Gemm(2048 -> 1000)
 * Input `input` float32 [batch,3,224,224]; output `output` [batch,1000].
 * Node counts: 53 Conv, 53 BatchNormalization, 49 Relu, 16 Add, 1 each of MaxPool,
 * GlobalAveragePool, Flatten, Gemm (175 in all).
 */
import { ModelBuilder, classifierHead, convBn } from './builder.js';

export interface ResNet50Options { seed?: number }

/** [blocks, width] per stage; a bottleneck's output has 4 * width channels. */
const STAGES: [number, number][] = [[3, 64], [4, 128], [6, 256], [3, 512]];

export function buildResNet50(opts: ResNet50Options = {}): Uint8Array {
  const b = new ModelBuilder('resnet50', opts.seed ?? 50);
  let x = b.input('input', 'float32', ['batch', 3, 224, 224]);
  x = convBn(b, x, 'conv1', 3, 64, 7, 2);
  x = b.op('Relu', [x], {}, '/relu');
  x = b.op('MaxPool', [x], { ceil_mode: 0, kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] }, '/maxpool');
  let cin = 64;
  STAGES.forEach(([blocks, width], s) => {
    for (let i = 0; i < blocks; i++) {
      // Stage 1 keeps the 56x56 resolution of the max pool; later stages halve it in block 0.
      const stride = i === 0 && s > 0 ? 2 : 1;
      x = bottleneck(b, x, `layer${s + 1}.${i}`, cin, width, stride);
      cin = width * 4;
    }
  });
  const logits = classifierHead(b, x, cin, 1000);
  b.output(logits, 'output', 'float32', ['batch', 1000]);
  return b.bytes();
}

function bottleneck(b: ModelBuilder, x: string, prefix: string, cin: number, width: number, stride: number): string {
  const scope = `/${prefix.replace(/\./g, '/')}`;
  const cout = width * 4;
  let y = b.op('Relu', [convBn(b, x, `${prefix}.1`, cin, width, 1, 1)], {}, scope);
  y = b.op('Relu', [convBn(b, y, `${prefix}.2`, width, width, 3, stride)], {}, scope);
  // The branch enters the residual sum with gain 1 and a small BN gamma (torchvision's
  // zero_init_residual idea, but nonzero so the branch still counts): with random BN statistics
  // nothing renormalizes, and full-scale branches would double the activations' variance in
  // each of the 16 blocks (logits ~1e4); this keeps them O(10).
  y = convBn(b, y, `${prefix}.3`, width, cout, 1, 1, { gain: 1, gamma: [0.2, 0.6] });
  // A projection shortcut wherever the shape changes (first block of every stage).
  const identity = stride !== 1 || cin !== cout ? convBn(b, x, `${prefix}.downsample`, cin, cout, 1, stride, { gain: 1 }) : x;
  return b.op('Relu', [b.op('Add', [y, identity], {}, scope)], {}, scope);
}
