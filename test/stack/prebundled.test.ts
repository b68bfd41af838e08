// The construct uses the functions' pre-bundled code when the package ships it (lib/prebundled.ts),
// and bundles from the sources in a clone. npm run package:check shows the whole path from a
// packed tarball; this pins the lookup itself.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { PREBUNDLED_FUNCTIONS, PREBUNDLED_ROOT, prebundledCodeDir } from '../../lib/prebundled';

let root: string;
beforeEach(() => (root = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-prebundled-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

test('finds a bundle directory only when it holds index.js', () => {
  fs.mkdirSync(path.join(root, 'responder'));
  expect(prebundledCodeDir('responder', root)).toBeUndefined();
  fs.writeFileSync(path.join(root, 'responder', 'index.js'), 'exports.handler = async () => null;');
  expect(prebundledCodeDir('responder', root)).toBe(path.join(root, 'responder'));
  expect(prebundledCodeDir('index-refresher', root)).toBeUndefined();
});

test('in a clone there are no bundles beside lib/, so the functions are bundled from their sources', () => {
  expect(PREBUNDLED_ROOT).toBe(path.join(__dirname, '..', '..', 'lambda-bundles'));
  for (const name of Object.keys(PREBUNDLED_FUNCTIONS) as Array<keyof typeof PREBUNDLED_FUNCTIONS>) {
    expect(prebundledCodeDir(name)).toBeUndefined();
    expect(fs.existsSync(path.join(__dirname, '..', '..', PREBUNDLED_FUNCTIONS[name]))).toBe(true);
  }
});
