// The two functions' code as the package ships it: bundled once at pack time
// (dev/bundle-lambdas.ts, run by `npm run build:package`) into dist/lambda-bundles/<name>/, so a
// consumer of the package needs neither esbuild nor Docker. In a clone there is no such
// directory next to lib/, and ResponderFunction bundles from the TypeScript sources itself.
import * as fs from 'fs';
import * as path from 'path';

/** Each pre-bundled function and the TypeScript entry it is bundled from (relative to the repository root). */
export const PREBUNDLED_FUNCTIONS = {
  responder: 'lambda/handler.ts',
  'index-refresher': 'lambda/index-refresher-handler.ts',
} as const;

export type PrebundledFunction = keyof typeof PREBUNDLED_FUNCTIONS;

/** Where the bundles sit relative to the compiled lib/ (dist/lib -> dist/lambda-bundles). */
export const PREBUNDLED_ROOT = path.join(__dirname, '..', 'lambda-bundles');

/**
 * The directory holding `index.js` (exporting `handler`) and its source map for `name`, or
 * undefined when the code was not pre-bundled (a clone of the repository).
 */
export function prebundledCodeDir(name: PrebundledFunction, root: string = PREBUNDLED_ROOT): string | undefined {
  const dir = path.join(root, name);
  return fs.existsSync(path.join(dir, 'index.js')) ? dir : undefined;
}
