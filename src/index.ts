/** twinfer's browser-safe entry point. Node users import 'twinfer/node' to load models from files. */
export { InferenceSession, type SessionOptions, type BackendName, type FeedsType } from './api/session.js';
export { Tensor, type TensorType, type TensorData, type TensorLocation, type GpuBufferTensorOptions, type CudaBufferRef, type CudaBufferTensorOptions } from './api/tensor.js';
export { webgpuDevice } from './api/session-webgpu.js';
export { cudaTensor } from './api/cuda-tensor.js';
export { setModelLoader, type ModelLoader, type LoadedModel } from './api/loader.js';
export { TwinferError, type TwinferErrorCode } from './errors.js';
export { importModel } from './onnx/import.js';
export { exportModel } from './onnx/export.js';
export { Graph } from './ir/graph.js';
export { calibrate, type CalibrateOptions, type CalibrationProgress, type CalibrationFeeds, type CalibrationBatch } from './quant/calibrate.js';
export { CalibrationTable, type CalibrationEntry } from './quant/table.js';
export type { CalibrationAlgo } from './quant/calibrators.js';
export { parsePreprocessSpec, resolvePreprocess, imagesToTensor, type PreprocessSpec, type ResolvedPreprocess, type RgbaImage } from './quant/preprocess.js';
export { assignPrecision, parseConstraints, type Precision, type PrecisionReport, type PrecisionOptions } from './quant/precision.js';
