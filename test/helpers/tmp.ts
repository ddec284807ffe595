/** Temporary folders for tests, inside the project (test/.tmp, git-ignored): tests never write outside it. */
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve('test/.tmp');

export function makeTmpDir(prefix: string): string {
  fs.mkdirSync(ROOT, { recursive: true });
  return fs.mkdtempSync(path.join(ROOT, `${prefix}-`));
}
