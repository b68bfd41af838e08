// `npm run build:package` (prepack), second half: bundles each Lambda function into
// dist/lambda-bundles/<name>/index.js (+ source map) with esbuild, as ResponderFunction's
// NodejsFunction bundles them in a clone (lib/responder-function.ts BUNDLING), for the oldest
// runtime the construct accepts. The construct uses these when they are there
// (lib/prebundled.ts), so the package's consumers need neither esbuild nor Docker.
//
// Usage: tsx dev/bundle-lambdas.ts [outDir]   (default dist/lambda-bundles)
import * as path from 'node:path';
import { build } from 'esbuild';
import { MIN_NODE_MAJOR } from '../lib/defaults';
import { PREBUNDLED_FUNCTIONS, type PrebundledFunction } from '../lib/prebundled';
import { BUNDLING } from '../lib/responder-function';
import { REPO_ROOT } from './emulator';

/** Bundles every function into `outRoot`/<name>/index.js; resolves with the files written. */
export async function bundleLambdas(outRoot: string): Promise<string[]> {
  const written: string[] = [];
  for (const [name, entry] of Object.entries(PREBUNDLED_FUNCTIONS) as Array<[PrebundledFunction, string]>) {
    const outfile = path.join(outRoot, name, 'index.js');
    await build({
      entryPoints: [path.join(REPO_ROOT, entry)],
      outfile,
      bundle: true,
      platform: 'node',
      target: `node${MIN_NODE_MAJOR}`,
      format: BUNDLING.format,
      minify: BUNDLING.minify,
      sourcemap: BUNDLING.sourceMap,
      sourcesContent: BUNDLING.sourcesContent,
      external: [...BUNDLING.externalModules],
      logLevel: 'warning',
    });
    written.push(outfile, `${outfile}.map`);
  }
  return written;
}

if (require.main === module) {
  const outRoot = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'dist', 'lambda-bundles'));
  bundleLambdas(outRoot).then(
    (files) => console.log(`bundled ${files.filter((f) => f.endsWith('.js')).map((f) => path.relative(REPO_ROOT, f)).join(', ')}`),
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : err);
      process.exit(1);
    },
  );
}
