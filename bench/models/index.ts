/**
 * Standard architectures built in code with seeded random weights, as ONNX bytes at opset 17 in
 * their usual exported forms: fixtures for the graph optimizer, backends and benchmarks.
 */
export { buildResNet50, type ResNet50Options } from './resnet50.js';
export { buildMobileNetV2, type MobileNetV2Options } from './mobilenetv2.js';
export { buildBert, type BertOptions } from './bert.js';
export { ModelBuilder, OPSET } from './builder.js';
