// Shared by the stack tests: an App configured like `cdk synth` configures ours, and small
// readers for the IAM policies of a synthesized template.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';

export const CDK_JSON = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'cdk.json'), 'utf8')) as {
  app: string;
  context: Record<string, unknown>;
};

/** The feature flags of cdk.json, so the tests synthesize the templates `cdk synth` does. */
export const FEATURE_FLAGS = Object.fromEntries(
  Object.entries(CDK_JSON.context).filter(([key]) => key.startsWith('@aws-cdk')),
);

// Every App writes to a fresh temporary directory; keep them all under one root that the
// test file removes when it is done (bundles and source maps run to megabytes).
const outdirRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-stack-test-'));
afterAll(() => fs.rmSync(outdirRoot, { recursive: true, force: true }));

/**
 * An App with our feature flags. Bundling is skipped unless asked for: esbuild adds seconds
 * per function and only the bundling test looks at the bundles.
 */
export function testApp(options: { bundle?: boolean; context?: Record<string, unknown> } = {}): App {
  return new App({
    outdir: fs.mkdtempSync(path.join(outdirRoot, 'app-')),
    context: {
      ...FEATURE_FLAGS,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
}

export interface Statement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

export function asArray<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Every statement of every identity policy in the template, inline role policies included. */
export function allStatements(template: Template): Statement[] {
  const fromPolicies = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
    (policy) => policy.Properties.PolicyDocument.Statement as Statement[],
  );
  const fromRoles = Object.values(template.findResources('AWS::IAM::Role')).flatMap((role) =>
    ((role.Properties.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[]).flatMap(
      (policy) => policy.PolicyDocument.Statement,
    ),
  );
  return [...fromPolicies, ...fromRoles];
}

/** The statements of the policies attached to one role. */
export function statementsOf(template: Template, role: iam.IRole): Statement[] {
  const ref = Stack.of(role).resolve(role.roleName);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) => (policy.Properties.Roles as unknown[]).some((r) => JSON.stringify(r) === JSON.stringify(ref)))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

/** The statement with this Sid; fails the test when there is not exactly one. */
export function statementWithSid(statements: Statement[], sid: string): Statement {
  const found = statements.filter((s) => s.Sid === sid);
  if (found.length !== 1) throw new Error(`expected one statement with Sid ${sid}, found ${found.length}`);
  return found[0]!;
}

/**
 * An ARN expression as a readable string: literals kept, `{ Ref: X }` as `<X>`,
 * `{ Fn::GetAtt: [X, Y] }` as `<X.Y>`, Fn::Join joined.
 */
export function arnText(value: unknown): string {
  if (typeof value === 'string') return value;
  const fn = value as Record<string, unknown>;
  if (Array.isArray(fn['Fn::Join'])) {
    const [delimiter, parts] = fn['Fn::Join'] as [string, unknown[]];
    return parts.map(arnText).join(delimiter);
  }
  if (fn.Ref !== undefined) return `<${String(fn.Ref)}>`;
  if (Array.isArray(fn['Fn::GetAtt'])) return `<${(fn['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`unexpected ARN expression ${JSON.stringify(value)}`);
}
