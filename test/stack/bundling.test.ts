// The one test that runs esbuild: the bundles are what Lambda will run, so check that
// they carry their own SDK, their source maps, and load with the handler exported.
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { Template } from 'aws-cdk-lib/assertions';
import { SpotResponderStack } from '../../lib/spot-responder-stack';
import { testApp } from './helpers';

let bundles: { name: string; dir: string }[];

beforeAll(() => {
  const app = testApp({ bundle: true });
  const stack = new SpotResponderStack(app, 'Bundled');
  const assembly = app.synth();
  const template = Template.fromStack(stack);
  const { responderFunction, indexRefresherFunction } = stack.responder;
  bundles = [
    { name: 'responder', fn: responderFunction },
    { name: 'index refresher', fn: indexRefresherFunction },
  ].map(({ name, fn }) => {
    const role = stack.resolve(fn.role!.roleArn);
    const [resource] = Object.values(
      template.findResources('AWS::Lambda::Function', { Properties: { Role: role } }),
    );
    const key = resource!.Properties.Code.S3Key as string;
    return { name, dir: path.join(assembly.directory, `asset.${key.replace(/\.zip$/, '')}`) };
  });
}, 180_000);

test('each function has a minified CommonJS bundle with an external source map and nothing else', () => {
  for (const { dir } of bundles) {
    expect(fs.readdirSync(dir).sort()).toEqual(['index.js', 'index.js.map']);
    const code = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
    expect(code.trimEnd().endsWith('//# sourceMappingURL=index.js.map')).toBe(true);
    const map = JSON.parse(fs.readFileSync(path.join(dir, 'index.js.map'), 'utf8'));
    expect(map.sourcesContent).toBeUndefined();
  }
});

test('the AWS SDK is bundled, not taken from the runtime', () => {
  // A call, not the SDK's own error messages that quote `[require("@aws-sdk/...")]`.
  const externalSdk = /[=(,;]require\(["']@(aws-sdk|smithy)\/[^"']+/;
  for (const { dir } of bundles) {
    const code = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
    expect(code.match(externalSdk)?.[0] ?? null).toBeNull();
  }
});

test.each(['responder', 'index refresher'])('the %s bundle loads and exports handler', (name) => {
  const { dir } = bundles.find((b) => b.name === name)!;
  const result = spawnSync(
    process.execPath,
    ['-e', 'process.stdout.write(typeof require(process.argv[1]).handler)', path.join(dir, 'index.js')],
    {
      encoding: 'utf8',
      timeout: 30_000,
      env: {
        PATH: process.env.PATH,
        AWS_REGION: 'eu-west-1',
        TABLE_NAME: 'spot-responder',
        ACCEPTED_ACCOUNTS: '111111111111',
        ACCEPTED_REGIONS: 'eu-west-1',
      },
    },
  );
  expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 0, stdout: 'function' });
});
