/** CalibrationTable in JSON and TensorRT's calibration-cache format: both ways, hand-written tables, bad files. */
import { describe, expect, it } from 'vitest';
import { CalibrationTable, hexToScale, scaleToHex } from '../../src/quant/table.js';
import { TwinferError } from '../../src/errors.js';

/** IEEE bits -> float32, independently of the code under test. */
function bitsToFloat(hex: string): number {
  const dv = new DataView(new ArrayBuffer(4));
  dv.setUint32(0, parseInt(hex, 16));
  return dv.getFloat32(0);
}

function sample(): CalibrationTable {
  const t = new CalibrationTable('entropy');
  t.setAmax('input', 2.64, 3.1);
  t.setAmax('/conv1/Conv_output_0', 12.5);
  t.setAmax('x:0', 0.001);
  t.setAmax('(Unnamed Layer* 3) [Activation]_output', 6);
  t.setAmax('zero', 0);
  return t;
}

function errorOf(f: () => unknown): TwinferError {
  try { f(); } catch (e) { expect(e).toBeInstanceOf(TwinferError); return e as TwinferError; }
  throw new Error('expected a TwinferError');
}

describe('CalibrationTable', () => {
  it('scale is float32(amax / 127); the hex is its IEEE bits, 8 lowercase digits', () => {
    const t = sample();
    expect(t.get('/conv1/Conv_output_0')!.scale).toBe(Math.fround(12.5 / 127));
    expect(t.get('/conv1/Conv_output_0')!.amax).toBe(Math.fround(12.5 / 127) * 127);
    expect(scaleToHex(1 / 127)).toBe('3c010204');
    expect(scaleToHex(1)).toBe('3f800000');
    expect(scaleToHex(0)).toBe('00000000');
    expect(scaleToHex(1e-40)).toMatch(/^000[0-9a-f]{5}$/); // subnormal keeps its leading zeros
    expect(hexToScale('3c010204')).toBe(Math.fround(1 / 127));
  });

  it('writes TensorRT format: header, then name: hex per tensor, in order', () => {
    const text = sample().toTensorRT();
    const lines = text.split('\n');
    expect(lines[0]).toBe('TRT-100000-EntropyCalibration2');
    expect(lines[1]).toBe(`input: ${scaleToHex(2.64 / 127)}`);
    expect(lines[3]).toMatch(/^x:0: [0-9a-f]{8}$/);
    expect(lines[5]).toBe('zero: 00000000');
    expect(lines[6]).toBe('');
    expect(new CalibrationTable('minmax').header()).toBe('TRT-100000-MinMaxCalibration');
    expect(new CalibrationTable('percentile').header()).toBe('TRT-100000-PercentileCalibration');
  });

  it('round-trips: table -> TensorRT -> table -> TensorRT, and table -> JSON -> table -> JSON', () => {
    const t = sample();
    const trt = t.toTensorRT();
    const back = CalibrationTable.fromTensorRT(trt);
    expect(back.sameScales(t)).toBe(true);
    expect(back.toTensorRT()).toBe(trt);
    expect(back.algorithm).toBe('entropy');
    const json = t.toJSONString();
    const again = CalibrationTable.fromJSON(json);
    expect(again.toJSONString()).toBe(json);
    expect(again.get('input')!.absMax).toBe(3.1);
    // across formats: JSON -> TRT and TRT -> JSON carry the same scales and header
    expect(CalibrationTable.fromTensorRT(again.toTensorRT()).sameScales(t)).toBe(true);
    expect(CalibrationTable.fromJSON(back.toJSONString()).toTensorRT()).toBe(trt);
    // parse() tells the formats apart
    expect(CalibrationTable.parse(json).sameScales(CalibrationTable.parse(trt))).toBe(true);
    const pct = new CalibrationTable('percentile', { percentile: 99.9 });
    pct.setAmax('a', 1);
    expect(CalibrationTable.fromJSON(pct.toJSONString()).percentile).toBe(99.9);
  });

  it('reads a hand-written TensorRT table (TRT 8.6, CRLF, names with colons and spaces, short or upper-case hex)', () => {
    const text = [
      'TRT-8601-EntropyCalibration2',
      'input.1: 3c010a14',
      '(Unnamed Layer* 0) [Convolution]_output: 3d3a4b0b',
      'conv1/Relu:0: 3C8B1E60',
      'tiny: 1',
      '',
    ].join('\r\n');
    const t = CalibrationTable.fromTensorRT(text, 'hand.cache');
    expect(t.trtVersion).toBe('8601');
    expect(t.calibrator).toBe('EntropyCalibration2');
    expect(t.names).toEqual(['input.1', '(Unnamed Layer* 0) [Convolution]_output', 'conv1/Relu:0', 'tiny']);
    expect(t.get('input.1')!.scale).toBe(bitsToFloat('3c010a14'));
    expect(t.get('input.1')!.amax).toBeCloseTo(127 * bitsToFloat('3c010a14'), 12);
    expect(t.get('conv1/Relu:0')!.scale).toBe(bitsToFloat('3c8b1e60'));
    expect(t.get('tiny')!.scale).toBe(bitsToFloat('00000001'));
    // written back in canonical form: LF, 8 lowercase digits, the table's own header
    expect(t.toTensorRT()).toBe('TRT-8601-EntropyCalibration2\ninput.1: 3c010a14\n(Unnamed Layer* 0) [Convolution]_output: 3d3a4b0b\nconv1/Relu:0: 3c8b1e60\ntiny: 00000001\n');
    // other calibrators' headers are kept as they are
    const legacy = CalibrationTable.fromTensorRT('TRT-7103-LegacyCalibration\nx: 3f800000\n');
    expect(legacy.algorithm).toBe('unknown');
    expect(legacy.toTensorRT()).toBe('TRT-7103-LegacyCalibration\nx: 3f800000\n');
    expect(CalibrationTable.fromTensorRT('TRT-8601-MinMaxCalibration\n').algorithm).toBe('minmax');
  });

  it('reads a hand-written JSON table with amax only or scale only', () => {
    const t = CalibrationTable.fromJSON('{"algorithm": "minmax", "tensors": {"a": {"amax": 12.7}, "b": {"scale": 0.5}}}');
    expect(t.get('a')!.scale).toBe(Math.fround(0.1));
    expect(t.get('b')!.amax).toBe(63.5);
    expect(t.header()).toBe('TRT-100000-MinMaxCalibration');
  });

  it('rejects malformed TensorRT tables naming the line', () => {
    const cases: [string, RegExp][] = [
      ['', /'t.cache': is empty/],
      ['EntropyCalibration2\nx: 3f800000\n', /line 1: expected a header like 'TRT-100000-EntropyCalibration2', got 'EntropyCalibration2'/],
      ['TRT-8601-EntropyCalibration2\nx: 3f800000\ny 3f800000\n', /line 3: expected 'tensor_name: <scale as 8 hex digits>', got 'y 3f800000'/],
      ['TRT-8601-EntropyCalibration2\nx: 3f80000g\n', /line 2: expected 'tensor_name/],
      ['TRT-8601-EntropyCalibration2\nx: 3f8000001\n', /line 2: expected 'tensor_name/],
      ['TRT-8601-EntropyCalibration2\n: 3f800000\n', /line 2/],
      ['TRT-8601-EntropyCalibration2\nx: 3f800000\n\nx: 3f800000\n', /line 4: tensor 'x' appears twice/],
      ['TRT-8601-EntropyCalibration2\nx: 7fc00000\n', /line 2: scale of 'x' is NaN \(bits 7fc00000\)/],
      ['TRT-8601-EntropyCalibration2\nx: 7f800000\n', /line 2: scale of 'x' is Infinity/],
      ['TRT-8601-EntropyCalibration2\nx: bf800000\n', /line 2: scale of 'x' is -1/],
      ['\u0000\u0001binary', /line 1: expected a header/],
    ];
    for (const [text, re] of cases) {
      const e = errorOf(() => CalibrationTable.fromTensorRT(text, 't.cache'));
      expect(e.code).toBe('INVALID_ARGUMENT');
      expect(e.message, JSON.stringify(text)).toMatch(re);
      expect(e.message).toMatch(/calibration table 't.cache'/);
    }
  });

  it('rejects malformed JSON tables naming the line', () => {
    const cases: [string, RegExp][] = [
      ['{\n  "tensors": {\n    "a": {"scale": 1},\n  }\n}', /line 4: is not valid JSON/],
      ['[1, 2]', /must be a JSON object/],
      ['{"format": "other", "tensors": {}}', /line 1: "format" must be "twinfer-calibration"/],
      ['{"version": 9, "tensors": {}}', /"version" 9 is not supported/],
      ['{"algorithm": "kl", "tensors": {}}', /"algorithm" must be entropy, minmax, percentile or unknown/],
      ['{"tensorrt": "TRT-x-y", "tensors": {}}', /"tensorrt" must be a header/],
      ['{"algorithm": "entropy"}', /"tensors" must be an object/],
      ['{\n"tensors": {\n"a": {"scale": 1},\n"b": {"scale": -1}\n}}', /line 4: tensor 'b': "scale" must be a finite number >= 0, got -1/],
      ['{\n"tensors": {\n"a": {}\n}}', /line 3: tensor 'a' needs "scale" or "amax"/],
      ['{\n"tensors": {\n"a": {"scale": 1, "amax": 100}\n}}', /line 3: tensor 'a': "amax" 100 disagrees with "scale" 1 \(amax must be 127 \* scale = 127\)/],
      ['{\n"tensors": {\n"a": {"scale": 1, "zero_point": 3}\n}}', /line 3: tensor 'a' has unknown key "zero_point"/],
      ['{"tensors": {"a": 5}}', /tensor 'a' must be an object/],
    ];
    for (const [text, re] of cases) {
      const e = errorOf(() => CalibrationTable.fromJSON(text, 't.json'));
      expect(e.message, text).toMatch(re);
      expect(e.message).toMatch(/calibration table 't.json'/);
    }
  });
});
