/** twinfer's Node entry point: everything in the core, plus models loaded from file paths. */
import { setModelLoader } from './api/loader.js';
import { loadModelFile } from './node-fs.js';
import './node-gpu.js';
import './node-native.js';
import './node-threads.js';

setModelLoader(loadModelFile);

export * from './index.js';
export { loadModelFile } from './node-fs.js';
export { calibrationFeedsFromDir, readCalibrationTable, writeCalibrationTable, decodeImage, type DirFeeds, type DirFeedsOptions } from './quant/node-data.js';
