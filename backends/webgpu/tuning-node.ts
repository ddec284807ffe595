/** Node: the tuning cache as a JSON file (imported by src/node.ts; browsers keep it in memory). */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { setTuningFileIo } from './tuning.js';

setTuningFileIo({
  async read(file) {
    try { return await fs.readFile(file, 'utf8'); } catch { return undefined; }
  },
  async write(file, text) {
    await fs.mkdir(path.dirname(path.resolve(file)), { recursive: true });
    // Through a temporary file and a rename, so a concurrent reader never sees half a file.
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.writeFile(tmp, text);
    await fs.rename(tmp, file);
  },
  defaultPath: () => process.env.TWINFER_TUNING_CACHE || undefined,
});
