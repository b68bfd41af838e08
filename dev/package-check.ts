// `npm run package:check` (run by .ci/run): the package as a consumer gets it. Packs it (npm pack
// runs prepack: compiled JS, declarations, the two pre-bundled functions), checks what the
// tarball holds, installs it into a fresh CDK app in a temporary directory (its dependencies
// from npm's cache when it has them, else the registry; aws-cdk-lib and constructs at the
// versions this repository tests), type-checks a TypeScript use of the construct against the
// package's declarations (module resolution node16, so through `exports`), synthesizes a stack
// with `new SpotResponder(...)` with PATH reduced to node itself and no esbuild installed (so
// neither esbuild nor Docker can have bundled anything), checks that both functions' assets are
// the shipped bundles, and runs the compiled CLI. Exit status 0 when all holds, 1 otherwise.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { PREBUNDLED_FUNCTIONS } from '../lib/prebundled';
import { REPO_ROOT } from './emulator';

const exec = promisify(execFile);
const NPM = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** What the tarball must hold, and what it must not (sources, tests, the app's own files). */
const REQUIRED_FILES = [
  'package.json',
  'README.md',
  'bin/spot-responder.js',
  'requirements-emulator.txt',
  'dist/lib/index.js',
  'dist/lib/index.d.ts',
  'dist/bin/spot-responder.js',
  ...Object.keys(PREBUNDLED_FUNCTIONS).flatMap((name) => [`dist/lambda-bundles/${name}/index.js`, `dist/lambda-bundles/${name}/index.js.map`]),
];
const FORBIDDEN = /^(test|bench|cdk\.out|\.venv|\.moto|lib|lambda|cli)\/|^dist\/test\/|(?<!\.d)\.ts$/;

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

function versionOf(dependency: string): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'node_modules', dependency, 'package.json'), 'utf8')) as { version: string }).version;
}

const APP_TS = `import { App, Stack } from 'aws-cdk-lib';
import { SpotResponder, type SpotResponderProps, type ResponseMode } from 'spot-responder';

const mode: ResponseMode = 'act';
const props: SpotResponderProps = { mode, autoScalingGroupNames: ['web-*'], rebalanceAction: 'replace' };
const app = new App();
new SpotResponder(new Stack(app, 'Consumer'), 'Spot', props);
// @ts-expect-error: the props are typed; a mode that does not exist does not compile
new SpotResponder(new Stack(app, 'Wrong'), 'Spot', { mode: 'dry-run' });
`;

const APP_JS = `const { App, Stack } = require('aws-cdk-lib');
const { SpotResponder } = require('spot-responder');
const app = new App({ outdir: 'cdk.out' });
new SpotResponder(new Stack(app, 'Consumer'), 'Spot', { mode: 'act', autoScalingGroupNames: ['web-*'] });
app.synth();
`;

async function main(): Promise<void> {
  const started = Date.now();
  let last = started;
  const lap = (): string => {
    const now = Date.now();
    const text = `${((now - last) / 1000).toFixed(1)} s`;
    last = now;
    return text;
  };
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-package-'));
  try {
    console.log('== npm pack (prepack: build:package)');
    const packed = await exec(NPM, ['pack', '--json', '--pack-destination', work], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
    const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string; version: string; files: Array<{ path: string }> }>;
    check(info, 'npm pack printed no package');
    const files = info.files.map((f) => f.path);
    for (const required of REQUIRED_FILES) check(files.includes(required), `the tarball lacks ${required}`);
    const forbidden = files.filter((f) => FORBIDDEN.test(f));
    check(forbidden.length === 0, `the tarball holds files a consumer must not get: ${forbidden.slice(0, 10).join(', ')}`);
    console.log(`   ${info.filename}: ${files.length} files, the two functions pre-bundled (${lap()})`);

    console.log('== a fresh CDK app installs it');
    const app = path.join(work, 'app');
    fs.mkdirSync(app);
    fs.writeFileSync(
      path.join(app, 'package.json'),
      JSON.stringify({
        name: 'consumer',
        private: true,
        dependencies: {
          'spot-responder': `file:${path.join(work, info.filename)}`,
          'aws-cdk-lib': versionOf('aws-cdk-lib'),
          constructs: versionOf('constructs'),
        },
      }),
    );
    await exec(NPM, ['install', '--prefer-offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], {
      cwd: app,
      maxBuffer: 64 * 1024 * 1024,
    });
    check(!fs.existsSync(path.join(app, 'node_modules', 'esbuild')), 'esbuild was installed with the package; a consumer must not need it');
    console.log(`   installed (${lap()})`);

    console.log('== its declarations type-check a TypeScript use (module resolution node16: through `exports`)');
    fs.writeFileSync(path.join(app, 'app.ts'), APP_TS);
    fs.writeFileSync(
      path.join(app, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { strict: true, module: 'node16', moduleResolution: 'node16', noEmit: true, skipLibCheck: true, types: [] }, files: ['app.ts'] }),
    );
    await exec(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app }).catch(
      (err: { stdout?: string }) => {
        throw new Error(`the consumer's TypeScript does not compile against the package:\n${err.stdout ?? String(err)}`);
      },
    );
    console.log(`   compiles (${lap()})`);

    console.log('== it synthesizes with neither esbuild nor Docker on PATH');
    fs.writeFileSync(path.join(app, 'app.js'), APP_JS);
    await exec(process.execPath, ['app.js'], {
      cwd: app,
      env: { PATH: path.dirname(process.execPath), HOME: work, CDK_DISABLE_VERSION_CHECK: '1' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const out = path.join(app, 'cdk.out');
    const template = JSON.parse(fs.readFileSync(path.join(out, 'Consumer.template.json'), 'utf8')) as {
      Resources: Record<string, { Type: string; Properties: { Code?: { S3Key?: unknown } } }>;
    };
    // Each function's code is the zip of one file asset (S3Key <hash>.zip), staged as cdk.out/asset.<hash>.
    const keys = Object.values(template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::Function')
      .map((r) => r.Properties.Code?.S3Key);
    const ours = keys.filter((k): k is string => typeof k === 'string' && fs.existsSync(path.join(out, `asset.${k.replace(/\.zip$/, '')}`, 'index.js')));
    const bundled = ours.map((k) => fs.readFileSync(path.join(out, `asset.${k.replace(/\.zip$/, '')}`, 'index.js')));
    const shipped = Object.keys(PREBUNDLED_FUNCTIONS).map((name) =>
      fs.readFileSync(path.join(app, 'node_modules', 'spot-responder', 'dist', 'lambda-bundles', name, 'index.js')),
    );
    // The others (the deploy-time Trigger's provider) are aws-cdk-lib's own pre-built handlers.
    for (const code of shipped) check(bundled.some((b) => b.equals(code)), 'a pre-bundled function is not what any synthesized asset holds');
    console.log(`   ${keys.length} functions; the responder and the index refresher are exactly the shipped bundles (${lap()})`);

    console.log('== the compiled CLI runs');
    const bin = path.join(app, 'node_modules', '.bin', 'spot-responder');
    const version = await exec(bin, ['--version'], { cwd: app });
    check(version.stdout.trim() === info.version, `spot-responder --version printed ${version.stdout.trim()}, expected ${info.version}`);
    const help = await exec(bin, ['history', '--help'], { cwd: app });
    check(help.stdout.includes('--stack-name'), 'spot-responder history --help does not describe the command');
    check(!fs.existsSync(path.join(app, 'node_modules', 'tsx')), 'tsx was installed with the package; the compiled CLI must not need it');
    console.log(`package check passed in ${Math.round((Date.now() - started) / 1000)} s`);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`package check FAILED: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
