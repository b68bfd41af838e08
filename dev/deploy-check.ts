// `npm run deploy:check`: the README's Deploy section, run for real against moto's CloudFormation.
//
//   bootstrap -> deploy -> outputs and every resource -> replay + history through the outputs
//   -> update one setting and redeploy -> destroy (the table and the log groups are retained)
//
// It fails on any false green. `cdk deploy` prints ✅ whenever CloudFormation says
// CREATE_COMPLETE, and moto says so even for resource types it skips: so every resource of the
// synthesized template must be listed by DescribeStackResources, except exactly the types of
// MOTO_SKIPPED_RESOURCE_TYPES (a new skip fails, and so does a type moto has started to create),
// and the resources we rely on are looked at in their own service, not only in CloudFormation.
//
// Why these flags (each one a moto limit, measured with moto 5.2.5; docs/deploy.md):
//   - AWS_ENDPOINT_URL is http://localhost:PORT: moto resolves the template URL the CDK uploads
//     to its own S3 only for that host;
//   - --method=direct: ExecuteChangeSet fails on our template (500 from its change-set path);
//   - -c spotResponder:refreshIndexOnDeploy=false: the CDK Trigger's provider makes moto's
//     CloudFormation fail ("LambdaVersion is not JSON serializable"), and moto runs no Lambda
//     code anyway;
//   - -c spotResponder:dashboard=false: the dashboard's alarm widgets take the alarms' ARNs
//     (Fn::GetAtt), and moto creates no alarms, so the deployment fails ("Fn::GetAtt references
//     undefined resource");
//   - --no-previous-parameters on the update: moto keeps no parameter values to reuse.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  type Stack as CfnStack,
} from '@aws-sdk/client-cloudformation';
import { CloudWatchLogsClient, DescribeLogGroupsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeTableCommand, DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { EMULATOR_ACCOUNT, EMULATOR_CREDENTIALS, EMULATOR_REGION } from '../cli/emulator-target';
import { REPO_ROOT, emulatorClientConfig, startEmulator, type Emulator } from './emulator';
import { buildDemoFleet } from './fleet';
import { MOTO_SKIPPED_RESOURCE_TYPES } from './moto-cloudformation-gaps';
import { RESPONDER_ENV } from '../lambda/contract';

const run = promisify(execFile);

export class DeployCheckError extends Error {
  override name = 'DeployCheckError';
}

/** The outputs every deployed stack must have (lib/spot-responder-stack.ts). */
const EXPECTED_OUTPUTS = [
  'TableName',
  'DeadLetterQueueUrl',
  'ResponderFunctionName',
  'WarningQueueUrl',
  'WarningDeadLetterQueueUrl',
  'StateChangeQueueUrl',
  'StateChangeDeadLetterQueueUrl',
] as const;
/**
 * The setting the update changes, seen in both functions' configuration. Not the log retention:
 * moto cannot update an AWS::Logs::LogGroup (it drops it from the stack instead), nor a table.
 */
const UPDATED_LOG_LEVEL = 'DEBUG';
const FIXTURE = path.join(REPO_ROOT, 'test/fixtures/events/spot-interruption-warning/terminate.json');

interface Context {
  endpoint: string;
  stackName: string;
  outDir: string;
  env: NodeJS.ProcessEnv;
  cfn: CloudFormationClient;
  dynamo: DynamoDBClient;
  logs: CloudWatchLogsClient;
  lambda: LambdaClient;
}

const step = (title: string) => process.stdout.write(`\n== ${title}\n`);
const ok = (line: string) => process.stdout.write(`   ✓ ${line}\n`);

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new DeployCheckError(message);
}

/** `npx cdk <args>` in the repo against the emulator; its output is shown only when it fails. */
async function cdk(ctx: Context, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run('npx', ['cdk', ...args], {
      cwd: REPO_ROOT,
      env: ctx.env,
      maxBuffer: 64 * 1024 * 1024,
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new DeployCheckError(`cdk ${args[0]} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** The `spot-responder` CLI against the emulator; stdout. */
async function cli(ctx: Context, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(process.execPath, [path.join(REPO_ROOT, 'bin/spot-responder.js'), ...args], {
      cwd: REPO_ROOT,
      env: ctx.env,
    });
    return stdout;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new DeployCheckError(`spot-responder ${args[0]} failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

function deployArgs(ctx: Context, extra: string[]): string[] {
  return [
    'deploy',
    ctx.stackName,
    '--method=direct',
    '--require-approval=never',
    '--output',
    ctx.outDir,
    '-c',
    'spotResponder:refreshIndexOnDeploy=false',
    '-c',
    'spotResponder:dashboard=false',
    ...extra,
  ];
}

async function describeStack(ctx: Context): Promise<CfnStack | undefined> {
  try {
    const { Stacks } = await ctx.cfn.send(new DescribeStacksCommand({ StackName: ctx.stackName }));
    return Stacks?.[0];
  } catch (err) {
    if (/does not exist/.test((err as Error).message)) return undefined;
    throw err;
  }
}

function outputsOf(stack: CfnStack): Record<string, string> {
  return Object.fromEntries((stack.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
}

interface Deployed {
  table: string;
  logGroups: string[];
  functions: string[];
}

interface TemplateResource {
  Type: string;
}

/** The deployed stack's resources against the synthesized template; returns the log group names. */
async function checkResources(ctx: Context, expectedStatus: string): Promise<Deployed> {
  const templateFile = path.join(ctx.outDir, `${ctx.stackName}.template.json`);
  const template = JSON.parse(fs.readFileSync(templateFile, 'utf8')) as { Resources: Record<string, TemplateResource> };
  const { StackResources = [] } = await ctx.cfn.send(new DescribeStackResourcesCommand({ StackName: ctx.stackName }));
  // moto also lists a few rows with no logical id, type or physical id (objects it creates
  // beside a resource, not template resources): they cannot stand for any resource of ours.
  const named = StackResources.filter((r) => r.LogicalResourceId);
  const deployed = new Map(named.map((r) => [r.LogicalResourceId ?? '', r]));

  const missingTypes = new Set<string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const found = deployed.get(logicalId);
    if (!found) {
      missingTypes.add(resource.Type);
      continue;
    }
    check(
      found.ResourceStatus === expectedStatus,
      `${logicalId} (${resource.Type}) is ${found.ResourceStatus}, expected ${expectedStatus}`,
    );
  }
  for (const logicalId of deployed.keys()) {
    check(logicalId in template.Resources, `the stack has ${logicalId}, which the template does not`);
  }
  const known = new Set(MOTO_SKIPPED_RESOURCE_TYPES.map((g) => g.type));
  const newSkips = [...missingTypes].filter((t) => !known.has(t)).sort();
  const nowCreated = [...known].filter((t) => !missingTypes.has(t)).sort();
  check(
    newSkips.length === 0 && nowCreated.length === 0,
    'the resource types moto skips differ from dev/moto-cloudformation-gaps.ts: ' +
      `newly skipped ${JSON.stringify(newSkips)}, now created ${JSON.stringify(nowCreated)}. ` +
      'A new skip needs a stack test and an entry; a type now created should leave the list.',
  );
  const skipped = Object.keys(template.Resources).length - deployed.size;
  ok(`${deployed.size} resources ${expectedStatus}; ${skipped} skipped by moto, exactly the known types: ${[...known].sort().join(', ')}`);

  const physical = (type: string) =>
    Object.entries(template.Resources)
      .filter(([, r]) => r.Type === type)
      .map(([id]) => deployed.get(id)?.PhysicalResourceId ?? '');
  const tables = physical('AWS::DynamoDB::Table');
  const logGroups = physical('AWS::Logs::LogGroup');
  check(tables.length === 1 && tables[0], `expected one table, found ${JSON.stringify(tables)}`);
  const functions = physical('AWS::Lambda::Function');
  check(logGroups.length === 2 && logGroups.every(Boolean), `expected two log groups, found ${JSON.stringify(logGroups)}`);
  check(functions.length === 2 && functions.every(Boolean), `expected two functions, found ${JSON.stringify(functions)}`);
  return { table: tables[0], logGroups, functions };
}

async function tableStatus(ctx: Context, table: string): Promise<string | undefined> {
  const { Table } = await ctx.dynamo.send(new DescribeTableCommand({ TableName: table }));
  return Table?.TableStatus;
}

async function logGroupRetention(ctx: Context, names: string[]): Promise<Map<string, number | undefined>> {
  const found = new Map<string, number | undefined>();
  for (const name of names) {
    const { logGroups = [] } = await ctx.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name }));
    const group = logGroups.find((g) => g.logGroupName === name);
    if (group) found.set(name, group.retentionInDays);
  }
  return found;
}

/** POWERTOOLS_LOG_LEVEL of each function, as Lambda reports its configuration. */
async function logLevels(ctx: Context, functions: string[]): Promise<(string | undefined)[]> {
  return Promise.all(functions.map((name) => variableOf(ctx, name, 'POWERTOOLS_LOG_LEVEL')));
}

async function variableOf(ctx: Context, functionName: string, variable: string): Promise<string | undefined> {
  const config = await ctx.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }));
  return config.Environment?.Variables?.[variable];
}

/** The mode as the stack's ResponseMode output and the responder's RESPONSE_MODE say; both must agree with `expected`. */
async function checkMode(ctx: Context, expected: 'observe' | 'act'): Promise<void> {
  const stack = await describeStack(ctx);
  const output = stack ? outputsOf(stack) : {};
  const responder = output.ResponderFunctionName;
  check(output.ResponseMode === expected, `ResponseMode output is ${output.ResponseMode ?? 'absent'}, expected ${expected}`);
  const variable = responder ? await variableOf(ctx, responder, RESPONDER_ENV.mode) : undefined;
  check(variable === expected, `the responder's ${RESPONDER_ENV.mode} is ${variable ?? 'unset'}, expected ${expected}`);
}

async function deployAndCheck(ctx: Context): Promise<Deployed> {
  step('cdk bootstrap (README: once per account and region)');
  await cdk(ctx, ['bootstrap', `aws://${EMULATOR_ACCOUNT}/${EMULATOR_REGION}`]);
  ok('CDKToolkit bootstrapped');

  step(`cdk deploy ${ctx.stackName}`);
  const outputsFile = path.join(ctx.outDir, 'outputs.json');
  await cdk(ctx, deployArgs(ctx, ['--outputs-file', outputsFile]));
  const stack = await describeStack(ctx);
  check(stack?.StackStatus === 'CREATE_COMPLETE', `stack status ${stack?.StackStatus ?? 'absent'}, expected CREATE_COMPLETE`);
  const outputs = outputsOf(stack);
  for (const key of EXPECTED_OUTPUTS) check(outputs[key], `output ${key} is missing: ${JSON.stringify(outputs)}`);
  const printed = (JSON.parse(fs.readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>)[ctx.stackName];
  check(
    EXPECTED_OUTPUTS.every((k) => printed?.[k] === outputs[k]),
    `cdk's outputs file ${JSON.stringify(printed)} differs from DescribeStacks ${JSON.stringify(outputs)}`,
  );
  ok(`CREATE_COMPLETE with outputs ${EXPECTED_OUTPUTS.join(', ')}`);

  const deployed = await checkResources(ctx, 'CREATE_COMPLETE');
  const { table, logGroups, functions } = deployed;
  check(outputs.TableName === table, `TableName output ${outputs.TableName} is not the stack's table ${table}`);
  check((await tableStatus(ctx, table)) === 'ACTIVE', `table ${table} is not ACTIVE`);
  const retention = await logGroupRetention(ctx, logGroups);
  check(retention.size === 2, `log groups missing in CloudWatch Logs: ${JSON.stringify(logGroups)}`);
  const levels = await logLevels(ctx, functions);
  check(levels.every((l) => l === 'INFO'), `the functions' log levels are ${JSON.stringify(levels)}, expected INFO`);
  await checkMode(ctx, 'observe');
  check(outputs.ResponderFunctionName && functions.includes(outputs.ResponderFunctionName), 'ResponderFunctionName is not a function of the stack');
  ok(`table ${table} ACTIVE in DynamoDB; both log groups in CloudWatch Logs; both functions in Lambda; mode observe`);
  return deployed;
}

async function replayThroughOutputs(ctx: Context): Promise<void> {
  step(`replay + history --stack-name ${ctx.stackName}: the deployed table, through the stack's outputs`);
  const stack = await describeStack(ctx);
  check(stack, 'the stack vanished');
  const table = outputsOf(stack).TableName;
  check(table, 'no TableName output');
  const clients = {
    ec2: new EC2Client(emulatorClientConfig(ctx.endpoint)),
    autoScaling: new AutoScalingClient(emulatorClientConfig(ctx.endpoint)),
    elbv2: new ElasticLoadBalancingV2Client(emulatorClientConfig(ctx.endpoint)),
  };
  const fleet = await buildDemoFleet(clients, { prefix: 'deploycheck' });
  const instanceId = fleet.shared.instanceId;
  // The CLI finds the table through the stack's TableName output, as it does after a real deploy.
  const target = ['--endpoint-url', ctx.endpoint, '--stack-name', ctx.stackName];
  const replayed = (await cli(ctx, ['replay', ...target, '--instance-id', instanceId, '--json', FIXTURE]))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { eventId: string; outcome: string; detached: boolean; actions: unknown[] });
  check(replayed.length === 1, `replay printed ${replayed.length} records, expected 1`);
  const [record] = replayed;
  check(record?.outcome === 'handled' && record.detached, `replay did not handle the warning: ${JSON.stringify(record)}`);
  ok(`replay: ${instanceId} handled, detached, ${record.actions.length} actions`);

  const history = (await cli(ctx, ['history', ...target, '--since', '3650d', '--json']))
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { eventId: string; instanceId: string });
  check(
    history.some((h) => h.eventId === record.eventId && h.instanceId === instanceId),
    `history does not show the replayed event ${record.eventId}: ${JSON.stringify(history)}`,
  );
  // The CLI creates a missing table on an emulator: a wrong name would have "worked" in a new one.
  const { TableNames = [] } = await ctx.dynamo.send(new ListTablesCommand({}));
  check(
    TableNames.length === 1 && TableNames[0] === table,
    `expected only the stack's table, found ${JSON.stringify(TableNames)}`,
  );
  ok(`history: the record is in ${table}, the only table`);
}

async function updateAndCheck(ctx: Context, functions: string[]): Promise<void> {
  step(`update: -c spotResponder:mode=act -c spotResponder:logLevel=${UPDATED_LOG_LEVEL}, cdk deploy again`);
  await cdk(
    ctx,
    deployArgs(ctx, ['--no-previous-parameters', '-c', 'spotResponder:mode=act', '-c', `spotResponder:logLevel=${UPDATED_LOG_LEVEL}`]),
  );
  const stack = await describeStack(ctx);
  check(stack?.StackStatus === 'UPDATE_COMPLETE', `stack status ${stack?.StackStatus ?? 'absent'}, expected UPDATE_COMPLETE`);
  const after = await checkResources(ctx, 'UPDATE_COMPLETE');
  check(
    JSON.stringify(after.functions) === JSON.stringify(functions),
    `the update replaced the functions: ${JSON.stringify(functions)} -> ${JSON.stringify(after.functions)}`,
  );
  const levels = await logLevels(ctx, functions);
  check(
    levels.every((l) => l === UPDATED_LOG_LEVEL),
    `the functions' log levels after the update are ${JSON.stringify(levels)}, expected ${UPDATED_LOG_LEVEL}`,
  );
  await checkMode(ctx, 'act');
  ok(`UPDATE_COMPLETE; both functions now log at ${UPDATED_LOG_LEVEL}; mode act`);
}

async function destroyAndCheck(ctx: Context, table: string, logGroups: string[]): Promise<void> {
  step(`cdk destroy ${ctx.stackName}`);
  await cdk(ctx, ['destroy', ctx.stackName, '--force', '--output', ctx.outDir]);
  const stack = await describeStack(ctx);
  check(!stack || stack.StackStatus === 'DELETE_COMPLETE', `stack status ${stack?.StackStatus}, expected it gone`);
  check((await tableStatus(ctx, table)) === 'ACTIVE', `the table ${table} was not retained`);
  const retained = await logGroupRetention(ctx, logGroups);
  check(retained.size === 2, `log groups not retained: ${JSON.stringify(logGroups)} vs ${JSON.stringify([...retained.keys()])}`);
  ok('stack deleted; the table and both log groups are retained');
}

/** Run the whole check against a fresh emulator; throws DeployCheckError on the first failure. */
export async function deployCheck(stackName = 'SpotResponder'): Promise<void> {
  const emulator: Emulator = await startEmulator({ keepLog: true });
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'spot-responder-deploy-check-'));
  // moto serves the bootstrap bucket's objects to CloudFormation only at "localhost".
  const endpoint = `http://localhost:${emulator.port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    AWS_REGION: EMULATOR_REGION,
    AWS_DEFAULT_REGION: EMULATOR_REGION,
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_VERSION_CHECK: '1',
  };
  delete env.AWS_PROFILE;
  delete env.AWS_SESSION_TOKEN;
  const ctx: Context = {
    endpoint,
    stackName,
    outDir,
    env,
    cfn: new CloudFormationClient(emulatorClientConfig(endpoint)),
    dynamo: new DynamoDBClient(emulatorClientConfig(endpoint)),
    logs: new CloudWatchLogsClient(emulatorClientConfig(endpoint)),
    lambda: new LambdaClient(emulatorClientConfig(endpoint)),
  };
  const started = Date.now();
  try {
    const { table, logGroups, functions } = await deployAndCheck(ctx);
    await replayThroughOutputs(ctx);
    await updateAndCheck(ctx, functions);
    await destroyAndCheck(ctx, table, logGroups);
    process.stdout.write(`\ndeploy check passed in ${Math.round((Date.now() - started) / 1000)} s\n`);
  } catch (err) {
    process.stderr.write(`moto's log: ${emulator.logFile}\n`);
    throw err;
  } finally {
    // The emulator's process is unref'd: without a handle of our own, a stop that waits for its
    // exit would let node leave early, with status 0, before the failure is reported.
    const keepAlive = setInterval(() => undefined, 1_000);
    await emulator.stop();
    clearInterval(keepAlive);
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  process.exitCode = 1; // until the check has passed
  deployCheck(process.argv[2])
    .then(() => {
      process.exitCode = 0;
    })
    .catch((err: unknown) => {
      process.stderr.write(`\ndeploy check FAILED: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    });
}
