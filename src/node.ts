/** twinfer's Node entry point: everything in the core, plus models loaded from file paths. */
import { setModelLoader } from './api/loader.js';
import { loadModelFile } from './node-fs.js';
import { setCalibrationTableLoader } from './quant/precision-table.js';
import { readCalibrationTable } from './quant/node-data.js';
import './node-gpu.js';
import '../backends/webgpu/tuning-node.js';
import './node-native.js';
import '../backends/tensorrt/node.js';
import './node-threads.js';

setModelLoader(loadModelFile);
// SessionOptions.calibrationTable given as a path: read from the file system (either format).
setCalibrationTableLoader(async (file) => readCalibrationTable(file));

export * from './index.js';
export { loadModelFile } from './node-fs.js';
export { calibrationFeedsFromDir, readCalibrationTable, writeCalibrationTable, decodeImage, type DirFeeds, type DirFeedsOptions } from './quant/node-data.js';
