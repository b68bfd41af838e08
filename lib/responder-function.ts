import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { acknowledge } from './nag';
import { prebundledCodeDir, type PrebundledFunction } from './prebundled';

/**
 * How the functions are bundled: by NodejsFunction from the sources in a clone, and the same
 * way by dev/bundle-lambdas.ts when the package is built, so both deliver the same code.
 */
export const BUNDLING = {
  minify: true,
  sourceMap: true,
  // Stack traces need the mappings only; leaving the sources out keeps the zip small.
  sourcesContent: false,
  format: OutputFormat.CJS,
  // Bundle the SDK too: the function then runs the SDK version we tested, not
  // whatever the Lambda runtime happens to ship this month.
  externalModules: [] as string[],
} as const;

export interface ResponderFunctionProps
  extends Omit<
    NodejsFunctionProps,
    | 'entry'
    | 'architecture'
    | 'role'
    | 'logGroup'
    | 'logRetention'
    | 'logRetentionRole'
    | 'logRetentionRetryOptions'
    | 'logRemovalPolicy'
  > {
  /** The TypeScript file that exports the handler. */
  readonly entry: string;
  /**
   * The pre-bundled code of `entry` the package ships (lib/prebundled.ts); used instead of
   * bundling when it is there, so an installed package needs neither esbuild nor Docker.
   * @default - always bundle `entry`
   */
  readonly prebundled?: PrebundledFunction;
  /**
   * A Node.js runtime (`nodejs<major>.x`); the bundle targets the same major version.
   * @default lambda.Runtime.NODEJS_22_X
   */
  readonly runtime?: lambda.Runtime;
  /**
   * How long the function's own log group keeps its logs.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logGroupRetention?: logs.RetentionDays;
  /**
   * What happens to the log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly logGroupRemovalPolicy?: RemovalPolicy;
}

/**
 * A Node.js function with this project's defaults set once: Node 22 on arm64, a minified
 * bundle that carries its own AWS SDK and source maps, active tracing, and its own log group.
 *
 * It also brings its own role, so that no AWS managed policy is attached: the default role
 * of `lambda.Function` carries AWSLambdaBasicExecutionRole (logs on every log group in the
 * account); this one may only write to the function's own log group. Callers grant the rest.
 */
export class ResponderFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ResponderFunctionProps) {
    const {
      logGroupRetention,
      logGroupRemovalPolicy,
      bundling,
      environment,
      prebundled,
      runtime = lambda.Runtime.NODEJS_22_X,
      ...rest
    } = props;
    const prebundledDir = prebundled ? prebundledCodeDir(prebundled) : undefined;
    // Both must exist before super() runs, so they sit beside the function, named after it.
    const logGroup = new logs.LogGroup(scope, `${id}LogGroup`, {
      retention: logGroupRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: logGroupRemovalPolicy ?? RemovalPolicy.RETAIN,
    });
    const role = new iam.Role(scope, `${id}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${scope.node.path}/${id}`,
    });

    super(scope, id, {
      memorySize: 512,
      timeout: Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      ...rest,
      runtime,
      architecture: lambda.Architecture.ARM_64,
      role,
      logGroup,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...environment },
      // NodejsFunction ignores `entry` and `bundling` when `code` is given.
      ...(prebundledDir ? { code: lambda.Code.fromAsset(prebundledDir), handler: 'index.handler' } : {}),
      bundling: { ...BUNDLING, externalModules: [...BUNDLING.externalModules], target: esbuildTarget(runtime), ...bundling },
    });

    logGroup.grantWrite(role);
    acknowledge(
      this,
      'The runtime is pinned on purpose (SpotResponderProps.runtime, default Node.js 22), together with the ' +
        'matching esbuild target of the bundle; both move deliberately, after testing, not whenever Lambda ships a newer runtime.',
      'AwsSolutions-L1',
    );
  }
}

/** `nodejs24.x` -> `node24`: esbuild emits code for the runtime the function runs on. */
function esbuildTarget(runtime: lambda.Runtime): string {
  const major = /^nodejs(\d+)\.x$/.exec(runtime.name)?.[1];
  if (!major) throw new Error(`ResponderFunction needs a nodejs<major>.x runtime, got ${runtime.name}`);
  return `node${major}`;
}
