/**
 * The compact network description the TensorRT addon builds an `nvinfer1::INetworkDefinition` from
 * (native/src/trt/network.cc). Browser-safe and free of TensorRT: plain data, written by
 * serialize.ts from twinfer's optimized graph, sent to C++ as JSON text plus the weight buffers.
 *
 * - Tensors are named strings. A layer input names a network input, an earlier layer's output, or
 *   a weight; the C++ side turns a weight used as a tensor into one IConstantLayer (made once).
 * - Weights are by reference: `weights[i].buffer` indexes the array of byte buffers passed beside
 *   the JSON, so the description stays small and two entries (e.g. the same data seen with another
 *   rank) share one buffer. Element types are TensorRT's storage: float16 as IEEE half bits, int64
 *   as 8-byte integers, bool as one byte.
 * - Layers follow TensorRT's layer set one for one (`kind` names the INetworkDefinition::add*
 *   call), with attributes in TensorRT's terms (pre/post padding, bit masks of axes, enum names in
 *   lower case), so the C++ side only translates and never re-derives ONNX semantics.
 * - Dims are those of TensorRT: -1 marks a dimension known only at run time; profiles give its
 *   min / opt / max per input.
 */

export const TRT_NETWORK_FORMAT = 'twinfer-trt-network';
export const TRT_NETWORK_VERSION = 1;

/** TensorRT DataType names (nvinfer1::DataType) the description uses. */
export type TrtDType = 'float' | 'half' | 'bf16' | 'int8' | 'uint8' | 'int32' | 'int64' | 'bool';

export interface TrtTensorDecl { name: string; dtype: TrtDType; dims: number[] }

export interface TrtWeight {
  name: string;
  dtype: TrtDType;
  dims: number[];
  /** Index into the buffers passed with the description. */
  buffer: number;
}

export type TrtAttr = number | string | number[];

export interface TrtLayer {
  /** The twinfer node this layer comes from (several layers may share one), for messages. */
  node: string;
  name: string;
  kind: TrtLayerKind;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, TrtAttr>;
}

/**
 * Layer kinds and their attributes (all optional unless said):
 *  convolution   inputs [x, kernel, bias?] (kernel/bias: weights, or tensors for Q/DQ weights)
 *                outMaps, kernel[], stride[], prePad[], postPad[], dilation[], groups
 *  deconvolution the same, for ConvTranspose
 *  activation    type (relu|sigmoid|tanh|leaky_relu|elu|selu|softsign|softplus|clip|hard_sigmoid|
 *                scaled_tanh|thresholded_relu|gelu_erf|gelu_tanh), alpha, beta
 *  elementwise   op (sum|prod|max|min|sub|div|pow|floor_div|and|or|xor|equal|greater|less); inputs of one rank
 *  unary         op (exp|log|sqrt|recip|abs|neg|sin|cos|tan|sinh|cosh|asin|acos|atan|asinh|acosh|atanh|
 *                ceil|floor|erf|not|sign|round|isinf|isnan)
 *  matmul        inputs [a, b]; opA, opB (none|transpose|vector)
 *  pooling       type (max|average), window[], stride[], prePad[], postPad[], excludePadding (0|1),
 *                roundUp (0|1: ceil_mode)
 *  reduce        op (sum|prod|max|min|avg), axes (bit mask), keepDims (0|1)
 *  softmax       axes (bit mask of one axis)
 *  concatenation axis
 *  shuffle       first[] (transpose before), reshape[] (0 copies the input's dim, -1 inferred),
 *                second[] (transpose after)
 *  slice         start[], size[] (-1: the input's extent on that axis), stride[], mode
 *                (strict|wrap|clamp|fill|reflect); inputs [x, fillValue?]
 *  resize        mode (nearest|linear|cubic), coordinate (align_corners|asymmetric|half_pixel),
 *                nearestRounding (half_up|half_down|floor|ceil), cubicCoeff, excludeOutside,
 *                scales[] or outDims[]
 *  normalization inputs [x, scale, bias]; axes (bit mask), epsilon, groups
 *  scale         inputs [x, shift, scale, power?] (weights, per channel); mode (channel); channelAxis
 *  cast          to (TrtDType)
 *  quantize      inputs [x, scale]; axis (-1 per tensor), to (int8)
 *  dequantize    inputs [x, scale]; axis (-1 per tensor), to (float|half)
 *  gather        inputs [data, indices]; axis
 *  select        inputs [condition, then, else]
 *  prelu         inputs [x, slope]
 *  identity      -
 *  shape         - (output int64)
 */
export type TrtLayerKind =
  | 'convolution' | 'deconvolution' | 'activation' | 'elementwise' | 'unary' | 'matmul' | 'pooling'
  | 'reduce' | 'softmax' | 'concatenation' | 'shuffle' | 'slice' | 'resize' | 'normalization'
  | 'scale' | 'cast' | 'quantize' | 'dequantize' | 'gather' | 'select' | 'prelu' | 'identity' | 'shape';

export const TRT_LAYER_KINDS: readonly TrtLayerKind[] = [
  'convolution', 'deconvolution', 'activation', 'elementwise', 'unary', 'matmul', 'pooling', 'reduce', 'softmax',
  'concatenation', 'shuffle', 'slice', 'resize', 'normalization', 'scale', 'cast', 'quantize', 'dequantize',
  'gather', 'select', 'prelu', 'identity', 'shape',
];

/** min / opt / max dims of one input in one optimization profile. */
export interface TrtProfileDims { min: number[]; opt: number[]; max: number[] }

export interface TrtNetwork {
  format: typeof TRT_NETWORK_FORMAT;
  version: typeof TRT_NETWORK_VERSION;
  name: string;
  inputs: TrtTensorDecl[];
  /** Marked as network outputs, in this order. */
  outputs: string[];
  weights: TrtWeight[];
  layers: TrtLayer[];
  /** One entry per optimization profile: input name -> its dims range. Empty when every input is static. */
  profiles: Record<string, TrtProfileDims>[];
}

/** Bytes per element of each TensorRT type as stored in a weight buffer. */
export const TRT_DTYPE_BYTES: Readonly<Record<TrtDType, number>> = {
  float: 4, half: 2, bf16: 2, int8: 1, uint8: 1, int32: 4, int64: 8, bool: 1,
};
