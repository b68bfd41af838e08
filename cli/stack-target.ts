// Which deployed spot-responder the CLI works with: the stack's outputs name the records table,
// the dead-letter queues, the event queue and the responder function, so nobody has to copy a
// generated name. `--table` still overrides; a local emulator without --stack-name uses the
// CLI's own table (created on first replay).
import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import { AWS_CALL_POLICY } from '../lambda/aws/clients';
import { CLI_ENV, DEFAULTS } from '../lambda/contract';
import { clientOptionsFor, isEmulator, regionOf, type AwsTarget } from './aws-target';

/** The stack id bin/app.ts deploys (`new SpotResponderStack(app, 'SpotResponder')`). */
export const DEFAULT_STACK_NAME = 'SpotResponder';

/**
 * Output keys of SpotResponderStack (lib/spot-responder-stack.ts) the CLI reads. Dead-letter
 * queues are every output whose key ends in `DeadLetterQueueUrl`: the rules' DLQ and each
 * queue's own.
 */
export const STACK_OUTPUT = {
  tableName: 'TableName',
  responderFunctionName: 'ResponderFunctionName',
  warningQueueUrl: 'WarningQueueUrl',
  stateChangeQueueUrl: 'StateChangeQueueUrl',
  drillExperimentTemplateId: 'DrillExperimentTemplateId',
  deadLetterQueueSuffix: 'DeadLetterQueueUrl',
} as const;

export interface StackOutputs {
  stackName: string;
  tableName?: string;
  responderFunctionName?: string;
  /** The queue the warning and rebalance-recommendation rules feed (absent on a stack deployed before it was an output). */
  warningQueueUrl?: string;
  /** The queue the state-change rules feed. */
  stateChangeQueueUrl?: string;
  /** The drill's FIS experiment template, when the stack has one (SpotResponderProps.drill). */
  drillExperimentTemplateId?: string;
  /** Every dead-letter queue, by output key. */
  deadLetterQueues: { outputKey: string; url: string }[];
}

/**
 * DescribeStacks found no such stack in this account and region. `instead` names the flags that
 * would let the command do without the stack (what it would have read from the outputs);
 * `--table` by default, the one most commands read it for.
 */
export class StackNotDeployedError extends Error {
  override name = 'StackNotDeployedError';
  constructor(
    readonly stackName: string,
    readonly region: string,
    readonly instead: readonly string[] = ['--table'],
  ) {
    super(
      `stack ${stackName} is not deployed in ${region} (CloudFormation DescribeStacks: does not exist); ` +
        'deploy it (npx cdk deploy), or pass --stack-name, --region / --profile, or name what the command ' +
        `reads directly (${joinFlags(instead)})`,
    );
  }

  /** The same error, naming exactly the flags this command was missing. */
  naming(flags: readonly string[]): StackNotDeployedError {
    return new StackNotDeployedError(this.stackName, this.region, flags);
  }
}

/** `--a`, `--a and --b`, `--a, --b and --c`. */
function joinFlags(flags: readonly string[]): string {
  return flags.length <= 1 ? (flags[0] ?? '') : `${flags.slice(0, -1).join(', ')} and ${flags[flags.length - 1]}`;
}

/** The stack exists but lacks an output the command needs (an older or foreign stack). */
export class StackOutputMissingError extends Error {
  override name = 'StackOutputMissingError';
}

/** A CloudFormation client for this target, with the CLI's retry settings. */
export function cloudFormationFor(target: AwsTarget): CloudFormationClient {
  return new CloudFormationClient({ ...clientOptionsFor(target), maxAttempts: AWS_CALL_POLICY.maxAttempts });
}

/**
 * The stack's outputs (CloudFormation DescribeStacks). Raises StackNotDeployedError when the
 * stack does not exist (CloudFormation answers ValidationError "Stack with id X does not exist"),
 * any other AWS error as it is.
 */
export async function readStackOutputs(cfn: CloudFormationClient, stackName: string, region: string): Promise<StackOutputs> {
  let outputs: Output[];
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stackName }));
    outputs = out.Stacks?.[0]?.Outputs ?? [];
  } catch (err) {
    if (err instanceof Error && err.name === 'ValidationError' && /does not exist/i.test(err.message)) {
      throw new StackNotDeployedError(stackName, region);
    }
    throw err;
  }
  const value = (key: string) => outputs.find((o) => o.OutputKey === key)?.OutputValue;
  return {
    stackName,
    tableName: value(STACK_OUTPUT.tableName),
    responderFunctionName: value(STACK_OUTPUT.responderFunctionName),
    warningQueueUrl: value(STACK_OUTPUT.warningQueueUrl),
    stateChangeQueueUrl: value(STACK_OUTPUT.stateChangeQueueUrl),
    drillExperimentTemplateId: value(STACK_OUTPUT.drillExperimentTemplateId),
    deadLetterQueues: outputs.flatMap((o) =>
      o.OutputKey?.endsWith(STACK_OUTPUT.deadLetterQueueSuffix) && o.OutputValue
        ? [{ outputKey: o.OutputKey, url: o.OutputValue }]
        : [],
    ),
  };
}

export interface TableChoice {
  table: string;
  /** Where the name came from, for messages. */
  from: '--table' | typeof CLI_ENV.tableName | 'stack' | 'emulator default';
  /** Set when read from the stack. */
  stack?: StackOutputs;
}

export interface StackSelection extends AwsTarget {
  /** --table, when given. */
  table?: string;
  /** --stack-name, when given explicitly. */
  stackName?: string;
}

/**
 * The records table: --table, else SPOT_RESPONDER_TABLE, else (an emulator without --stack-name)
 * the CLI's local table, else the `TableName` output of --stack-name (default SpotResponder).
 * Raises StackNotDeployedError or StackOutputMissingError.
 */
export async function chooseTable(
  sel: StackSelection,
  cfn: () => CloudFormationClient = () => cloudFormationFor(sel),
  env: NodeJS.ProcessEnv = process.env,
): Promise<TableChoice> {
  if (sel.table) return { table: sel.table, from: '--table' };
  const fromEnv = env[CLI_ENV.tableName];
  if (fromEnv) return { table: fromEnv, from: CLI_ENV.tableName };
  if (isEmulator(sel) && !sel.stackName) return { table: DEFAULTS.cliTableName, from: 'emulator default' };
  let stack: StackOutputs;
  try {
    stack = await readStack(sel, cfn);
  } catch (err) {
    throw err instanceof StackNotDeployedError ? err.naming(['--table']) : err;
  }
  if (!stack.tableName) {
    throw new StackOutputMissingError(`stack ${stack.stackName} has no ${STACK_OUTPUT.tableName} output; pass --table`);
  }
  return { table: stack.tableName, from: 'stack', stack };
}

/** The outputs of --stack-name (default SpotResponder), with a client made for the call. */
export async function readStack(sel: StackSelection, cfn: () => CloudFormationClient = () => cloudFormationFor(sel)): Promise<StackOutputs> {
  const client = cfn();
  try {
    return await readStackOutputs(client, sel.stackName ?? DEFAULT_STACK_NAME, regionOf(sel));
  } finally {
    client.destroy();
  }
}
