/**
 * Worker threads for the CPU backend's heavy kernels in Node (backends/cpu/convgemm-threads.ts
 * holds the protocol; this file only supplies what needs Node built-ins). Threads: a session's
 * `cpuThreads`, else TWINFER_CPU_THREADS, else min(os.availableParallelism(), 8). Workers are
 * unref'd, so they never keep a process alive.
 */
import * as os from 'node:os';
import { Worker } from 'node:worker_threads';
import { setCpuThreadHost, type CpuThreadHost } from '../backends/cpu/convgemm-threads.js';

function defaultThreads(): number {
  const env = process.env.TWINFER_CPU_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (Number.isInteger(n) && n >= 1) return n;
  }
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return Math.max(1, Math.min(cores, 8));
}

/** The Node host (installed on import; exported for tests that swap hosts). */
export const nodeThreadHost: CpuThreadHost = {
  defaultThreads,
  spawn(source, data, onExit) {
    const w = new Worker(`'use strict';\nconst { workerData } = require('node:worker_threads');\n${source}`, { eval: true, workerData: data });
    let stopping = false;
    w.unref();
    w.on('error', (e) => { if (!stopping) onExit(`error: ${e.message}`); });
    w.on('exit', (code) => { if (!stopping) onExit(`exit code ${code}`); });
    return {
      terminate() {
        stopping = true;
        void w.terminate();
      },
    };
  },
};

setCpuThreadHost(nodeThreadHost);
