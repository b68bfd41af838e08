// The root of the package this file belongs to: the clone (sources run by tsx, from bin/, cli/,
// dev/) or the installed package (compiled, from dist/bin, dist/cli, dist/dev). Both have the
// package.json and requirements-emulator.txt at their root, one or two levels further up.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The nearest directory at or above `from` holding a package.json; throws when there is none. */
export function packageRoot(from: string): string {
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json at or above ${from}`);
  }
}
