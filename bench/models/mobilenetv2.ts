/**
 * MobileNetV2 (width 1.0) in torchvision's layout, exported the way torch.onnx writes it in eval
 * mode at opset 11+ without Conv+BN folding: ReLU6 is Clip(x, 0, 6) with min/max as inputs.
 *   Conv(3x3/2, 3 -> 32) BN Clip
 *   17 inverted residuals: [Conv1x1 BN Clip (expansion, absent when t = 1)], depthwise
 *   Conv3x3 (group = channels) BN Clip, Conv1x1 BN, Add where stride 1 and in == out
 *   Conv1x1 (320 -> 1280) BN Clip, GlobalAveragePool Flatten Gemm(1280 -> 1000)
 * Input `input` float32 [batch,3,224,224]; output `output` [batch,1000].
 * Node counts: 52 Conv, 52 BatchNormalization, 35 Clip, 10 Add, 1 each of GlobalAveragePool,
 * Flatten, Gemm (152 in all). (Dropout before the classifier vanishes in eval-mode export.)
 */
import { ModelBuilder, classifierHead, convBn } from './builder.js';

export interface MobileNetV2Options { seed?: number }

/** torchvision's inverted_residual_setting: expansion t, channels c, repeats n, first stride s. */
const SETTINGS: [number, number, number, number][] = [
  [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
];

export function buildMobileNetV2(opts: MobileNetV2Options = {}): Uint8Array {
  const b = new ModelBuilder('mobilenetv2', opts.seed ?? 2);
  // One pair of Clip bounds shared by every ReLU6 (torch emits them as constants).
  const relu6 = (x: string, scope: string) => b.op('Clip', [x, b.scalar(0), b.scalar(6)], {}, scope);
  let x = b.input('input', 'float32', ['batch', 3, 224, 224]);
  x = relu6(convBn(b, x, 'features.0', 3, 32, 3, 2), '/features/0');
  let cin = 32;
  let idx = 1;
  for (const [t, c, n, s] of SETTINGS) {
    for (let i = 0; i < n; i++) {
      const prefix = `features.${idx++}`;
      const scope = `/${prefix.replace(/\./g, '/')}`;
      const stride = i === 0 ? s : 1;
      const hidden = cin * t;
      let y = x;
      if (t !== 1) y = relu6(convBn(b, y, `${prefix}.expand`, cin, hidden, 1, 1), scope);
      y = relu6(convBn(b, y, `${prefix}.dw`, hidden, hidden, 3, stride, { group: hidden }), scope);
      // The projection is linear (no ReLU6 follows): gain 1 keeps the residual stream's scale.
      y = convBn(b, y, `${prefix}.project`, hidden, c, 1, 1, { gain: 1 });
      x = stride === 1 && cin === c ? b.op('Add', [x, y], {}, scope) : y;
      cin = c;
    }
  }
  x = relu6(convBn(b, x, `features.${idx}`, cin, 1280, 1, 1), `/features/${idx}`);
  const logits = classifierHead(b, x, 1280, 1000);
  b.output(logits, 'output', 'float32', ['batch', 1000]);
  return b.bytes();
}
