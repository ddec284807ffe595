/**
 * A BERT-base encoder (HF BertModel without the pooler) in the form torch.onnx emits at opset 17:
 * every fused-looking op decomposed, which is what a graph optimizer has to recognise.
 *   embeddings: Gather(word) + Gather(token type, ids from a zero buffer) + Gather(position, ids
 *               from a [1,512] buffer Sliced to the sequence length read with Shape/Gather),
 *               LayerNorm
 *   mask:       Unsqueeze x2, Cast, Sub(1, m), Mul(-10000)          -> [batch,1,1,seq]
 *   layer:      Q/K/V MatMul+Add, Reshape [0,0,12,64], Transpose, MatMul, Div(8), Add(mask),
 *               Softmax, MatMul, Transpose, Reshape [0,0,768], MatMul+Add, Add(residual), LayerNorm,
 *               MatMul+Add, GELU(erf), MatMul+Add, Add(residual), LayerNorm
 *   LayerNorm:  ReduceMean Sub Pow(2) ReduceMean Add(eps) Sqrt Div Mul(gamma) Add(beta)
 * The head reshapes use constant shapes with 0 = copy (as onnxruntime's transformer tools write
 * them) rather than torch's Shape/Gather/Concat chains, so symbolic `batch` and `seq` survive shape
 * inference to the output.
 * Inputs `input_ids`, `attention_mask` int64 [batch,seq]; output `last_hidden_state` [batch,seq,768].
 * Node counts: 24 for embeddings and mask + 50 per layer (624 at 12 layers); see the test.
 */
import { HostTensor } from '../../src/ir/tensor.js';
import { ModelBuilder } from './builder.js';

export interface BertOptions {
  seed?: number;
  /** Encoder layers (default 12); tests use 2. */
  layers?: number;
  /** Vocabulary size (default 30522); the word table dominates the file size. */
  vocab?: number;
}

const HIDDEN = 768, HEADS = 12, HEAD = 64, INTERMEDIATE = 3072, MAX_POS = 512, TYPES = 2;
/** BERT's initializer_range: embeddings are N(0, 0.02) as in the original model. */
const EMB_STD = 0.02;

export function buildBert(opts: BertOptions = {}): Uint8Array {
  const layers = opts.layers ?? 12, vocab = opts.vocab ?? 30522;
  const b = new ModelBuilder('bert', opts.seed ?? 12);
  const ids = b.input('input_ids', 'int64', ['batch', 'seq']);
  const mask = b.input('attention_mask', 'int64', ['batch', 'seq']);

  let h = embeddings(b, ids, vocab);
  const extMask = extendedMask(b, mask);
  for (let l = 0; l < layers; l++) h = encoderLayer(b, h, extMask, `encoder.layer.${l}`);
  b.output(h, 'last_hidden_state', 'float32', ['batch', 'seq', HIDDEN]);
  return b.bytes();
}

function embeddings(b: ModelBuilder, ids: string, vocab: number): string {
  const s = '/embeddings';
  const word = b.normalWeight('embeddings.word_embeddings.weight', [vocab, HIDDEN], EMB_STD);
  const pos = b.normalWeight('embeddings.position_embeddings.weight', [MAX_POS, HIDDEN], EMB_STD);
  const type = b.normalWeight('embeddings.token_type_embeddings.weight', [TYPES, HIDDEN], EMB_STD);
  // HF registers position_ids = arange(512) and token_type_ids = zeros as [1,512] buffers and
  // slices both to [:, :seq]; torch exports the slice end as Shape -> Gather(1) -> Unsqueeze.
  const posIds = b.initializer('embeddings.position_ids', fromInts([1, MAX_POS], Array.from({ length: MAX_POS }, (_, i) => i)));
  const typeIds = b.initializer('embeddings.token_type_ids', fromInts([1, MAX_POS], new Array<number>(MAX_POS).fill(0)));
  const shape = b.op('Shape', [ids], {}, s);
  const seqLen = b.op('Gather', [shape, b.scalar(1, 'int64')], { axis: 0 }, s);
  const end = b.op('Unsqueeze', [seqLen, b.ints('onnx::Unsqueeze_axes0', [0])], {}, s);
  const zero = b.ints('onnx::Slice_starts', [0]), axis1 = b.ints('onnx::Slice_axes', [1]);
  const posSlice = b.op('Slice', [posIds, zero, end, axis1], {}, s);
  const typeSlice = b.op('Slice', [typeIds, zero, end, axis1], {}, s);

  const wordEmb = b.op('Gather', [word, ids], { axis: 0 }, `${s}/word_embeddings`);
  const typeEmb = b.op('Gather', [type, typeSlice], { axis: 0 }, `${s}/token_type_embeddings`);
  const posEmb = b.op('Gather', [pos, posSlice], { axis: 0 }, `${s}/position_embeddings`);
  // HF adds word + type, then + position. The sliced terms' dim 1 is a fresh symbol to shape
  // inference, which keeps the second operand's symbol when two symbolic dims meet; putting the
  // [1,seq',768] terms first keeps `seq` (Add commutes, so the numbers are the same).
  let e = b.op('Add', [typeEmb, wordEmb], {}, s);
  e = b.op('Add', [posEmb, e], {}, s);
  return layerNorm(b, e, 'embeddings.LayerNorm');
}

/** attention_mask [batch,seq] (1 = attend) -> additive mask [batch,1,1,seq]: 0 or -10000. */
function extendedMask(b: ModelBuilder, mask: string): string {
  const s = '';
  let m = b.op('Unsqueeze', [mask, b.ints('onnx::Unsqueeze_axes1', [1])], {}, s);
  m = b.op('Unsqueeze', [m, b.ints('onnx::Unsqueeze_axes2', [2])], {}, s);
  m = b.op('Cast', [m], { to: 1 }, s); // 1 = FLOAT
  m = b.op('Sub', [b.scalar(1), m], {}, s);
  return b.op('Mul', [m, b.scalar(-10000)], {}, s);
}

/** torch's Linear on a 3-D input: MatMul by the transposed weight [in,out], then Add bias. */
function linear(b: ModelBuilder, x: string, prefix: string, cin: number, cout: number, gain: number): string {
  const scope = `/${prefix.replace(/\./g, '/')}`;
  const w = b.heWeight(`onnx::MatMul_${prefix}`, [cin, cout], cin, gain);
  const bias = b.uniform(`${prefix}.bias`, [cout], -0.1, 0.1);
  return b.op('Add', [bias, b.op('MatMul', [x, w], {}, scope)], {}, scope);
}

function encoderLayer(b: ModelBuilder, x: string, mask: string, prefix: string): string {
  const scope = `/${prefix.replace(/\./g, '/')}/attention/self`;
  const headShape = b.ints(`${prefix}.head_shape`, [0, 0, HEADS, HEAD]);
  const mergedShape = b.ints(`${prefix}.merged_shape`, [0, 0, HIDDEN]);
  // gain 1: the inputs are LayerNorm outputs (unit variance) and no ReLU follows, so LeCun
  // scaling keeps q.k / 8 near unit variance and the softmax away from one-hot saturation.
  const heads = (name: string, perm: number[]) => {
    const y = linear(b, x, `${prefix}.attention.self.${name}`, HIDDEN, HIDDEN, 1);
    return b.op('Transpose', [b.op('Reshape', [y, headShape], {}, scope)], { perm }, scope);
  };
  const q = heads('query', [0, 2, 1, 3]);
  // K^T directly: torch folds transpose_for_scores and .transpose(-1,-2) into one perm.
  const kT = heads('key', [0, 2, 3, 1]);
  const v = heads('value', [0, 2, 1, 3]);
  let scores = b.op('MatMul', [q, kT], {}, scope);
  scores = b.op('Div', [scores, b.scalar(Math.sqrt(HEAD))], {}, scope);
  scores = b.op('Add', [scores, mask], {}, scope);
  const probs = b.op('Softmax', [scores], { axis: -1 }, scope);
  let ctx = b.op('MatMul', [probs, v], {}, scope);
  ctx = b.op('Transpose', [ctx], { perm: [0, 2, 1, 3] }, scope);
  ctx = b.op('Reshape', [ctx, mergedShape], {}, scope);

  let a = linear(b, ctx, `${prefix}.attention.output.dense`, HIDDEN, HIDDEN, 1);
  a = b.op('Add', [a, x], {}, `/${prefix.replace(/\./g, '/')}/attention/output`);
  a = layerNorm(b, a, `${prefix}.attention.output.LayerNorm`);

  let f = linear(b, a, `${prefix}.intermediate.dense`, HIDDEN, INTERMEDIATE, 1);
  f = gelu(b, f, `/${prefix.replace(/\./g, '/')}/intermediate/intermediate_act_fn`);
  f = linear(b, f, `${prefix}.output.dense`, INTERMEDIATE, HIDDEN, 2);
  f = b.op('Add', [f, a], {}, `/${prefix.replace(/\./g, '/')}/output`);
  return layerNorm(b, f, `${prefix}.output.LayerNorm`);
}

/**
 * LayerNorm over the last axis, decomposed as torch.onnx writes it below opset 17 (and as most
 * published BERT exports carry it): the pattern an optimizer has to fuse back.
 */
function layerNorm(b: ModelBuilder, x: string, prefix: string): string {
  const s = `/${prefix.replace(/\./g, '/')}`;
  const gamma = b.uniform(`${prefix}.weight`, [HIDDEN], 0.8, 1.2);
  const beta = b.uniform(`${prefix}.bias`, [HIDDEN], -0.1, 0.1);
  // opset 17: ReduceMean still takes axes as an attribute (it became an input at 18).
  const mean = b.op('ReduceMean', [x], { axes: [-1], keepdims: 1 }, s);
  const d = b.op('Sub', [x, mean], {}, s);
  const sq = b.op('Pow', [d, b.scalar(2)], {}, s);
  const variance = b.op('ReduceMean', [sq], { axes: [-1], keepdims: 1 }, s);
  const std = b.op('Sqrt', [b.op('Add', [variance, b.scalar(1e-12)], {}, s)], {}, s);
  const n = b.op('Div', [d, std], {}, s);
  return b.op('Add', [b.op('Mul', [n, gamma], {}, s), beta], {}, s);
}

/** Exact (erf) GELU: x * 0.5 * (1 + erf(x / sqrt 2)), in torch's node order. */
function gelu(b: ModelBuilder, x: string, scope: string): string {
  const e = b.op('Erf', [b.op('Div', [x, b.scalar(1.4142135381698608)], {}, scope)], {}, scope);
  const y = b.op('Mul', [x, b.op('Add', [e, b.scalar(1)], {}, scope)], {}, scope);
  return b.op('Mul', [y, b.scalar(0.5)], {}, scope);
}

function fromInts(dims: number[], values: number[]): HostTensor {
  return HostTensor.fromNumbers('int64', dims, values);
}
