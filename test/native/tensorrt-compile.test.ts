/**
 * The TensorRT sources (native/src/trt/*.cc) compile against TensorRT's public headers of 10.16 and
 * 11.1, through scripts/trt-compile-check.sh (object files, no link: no machine here has
 * libnvinfer). The headers live outside the repository, in ../shared/tensorrt-headers/<version>
 * (unpacked from github:NVIDIA/TensorRT: include/ at HEAD is 11.1, at commit 5302b288 it is 10.16;
 * see native/README.md). Where that folder is absent (CI), each case is skipped and says so.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const HEADERS = path.resolve('..', 'shared', 'tensorrt-headers');
const hasCxx = spawnSync('g++', ['--version']).status === 0;

describe('the TensorRT sources compile against both header versions', () => {
  for (const v of ['10.16', '11.1']) {
    const dir = path.join(HEADERS, v);
    const have = fs.existsSync(path.join(dir, 'include', 'NvInfer.h')) && hasCxx;
    it.skipIf(!have)(have ? `TensorRT ${v} headers (${dir})` : `skipped: no TensorRT ${v} headers in ${dir}${hasCxx ? '' : ' (and no g++)'}`, () => {
      const r = spawnSync('bash', ['scripts/trt-compile-check.sh', dir], { encoding: 'utf8' });
      expect(r.stdout + r.stderr, r.stdout + r.stderr).not.toMatch(/FAILED/);
      expect(r.status).toBe(0);
      expect(r.stdout.trim().split('\n').map((l) => l.split(' ').pop())).toEqual(['addon_trt.cc', 'engine.cc', 'json.cc', 'network.cc']);
      expect(r.stdout).toContain(`TensorRT ${v}`);
    }, 180_000);
  }
});
