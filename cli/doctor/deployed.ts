// What the deployed responder is configured to do, read from the stack it runs in, so `doctor`
// checks the scope the function really has instead of one retyped by hand:
//
//   --stack-name (default SpotResponder) -> DescribeStacks: ResponderFunctionName output
//     -> Lambda GetFunctionConfiguration: its environment -> loadResponderConfig (the function's
//        own loader, lambda/config.ts: same names, same defaults, same errors)
//
// Read-only. A stack that is not there (not deployed yet, another region) or that the caller may
// not read is "not checked", with the reason: the rest of the preflight does not need it.
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { AWS_CALL_POLICY } from '../../lambda/aws/clients';
import { ConfigError, loadResponderConfig, type ResponseMode } from '../../lambda/config';
import type { ResourceScope } from '../../lambda/core/scope';
import { clientOptionsFor, isEmulator, type AwsTarget } from '../aws-target';
import { DEFAULT_STACK_NAME, STACK_OUTPUT, StackNotDeployedError, cloudFormationFor, readStack } from '../stack-target';

/** The deployed responder's settings the doctor checks against the fleet. */
export interface DeployedConfig {
  stackName: string;
  functionName: string;
  /** RESPONDER_ENV.autoScalingGroupNames / targetGroupNames as the function reads them (unset: `["*"]`). */
  scope: ResourceScope;
  /** observe: the function records what it would do and changes nothing. */
  mode: ResponseMode;
  /** SIGNALS_ENV.shutdownDocument when graceful shutdown is on; absent: off. */
  shutdownDocument?: string;
}

/**
 * The outcome of looking for the deployed responder: `found`; `invalid` (its environment does
 * not load: the function fails at cold start on every event); or `not-checked`, with why.
 */
export type DeployedLookup =
  | { status: 'found'; config: DeployedConfig }
  | { status: 'invalid'; stackName: string; functionName: string; problem: string }
  | { status: 'not-checked'; reason: string };

export interface DeployedClients {
  cloudFormation: () => CloudFormationClient;
  lambda: () => LambdaClient;
}

/** A Lambda client for this target, with the CLI's retry settings. */
export function lambdaFor(target: AwsTarget): LambdaClient {
  return new LambdaClient({ ...clientOptionsFor(target), maxAttempts: AWS_CALL_POLICY.maxAttempts });
}

/** The error names AWS gives a caller without the permission (IAM: query and JSON protocols). */
const ACCESS_DENIED = new Set(['AccessDenied', 'AccessDeniedException']);

function isAccessDenied(err: unknown): err is Error {
  return err instanceof Error && ACCESS_DENIED.has(err.name);
}

/**
 * Reads the configuration of the responder deployed as `stackName` (default SpotResponder): the
 * stack's ResponderFunctionName output (CloudFormation DescribeStacks), the function's
 * environment (Lambda GetFunctionConfiguration), parsed by the function's own loader. An
 * emulator without a stack name has no deployed responder to read (as for the other commands)
 * and makes no call. Answers `not-checked` when the stack or function does not exist, lacks the
 * output, or the caller is denied either read; raises any other AWS error (throttling after the
 * retries, no credentials) as it is.
 * https://docs.aws.amazon.com/lambda/latest/api/API_GetFunctionConfiguration.html
 */
export async function readDeployedConfig(
  target: AwsTarget & { region: string },
  stackName: string | undefined,
  clients: DeployedClients = { cloudFormation: () => cloudFormationFor(target), lambda: () => lambdaFor(target) },
): Promise<DeployedLookup> {
  if (isEmulator(target) && !stackName) {
    return { status: 'not-checked', reason: 'on an emulator the deployed scope is read only with --stack-name' };
  }
  const name = stackName ?? DEFAULT_STACK_NAME;
  let functionName: string | undefined;
  try {
    functionName = (await readStack({ ...target, stackName: name }, clients.cloudFormation)).responderFunctionName;
  } catch (err) {
    if (err instanceof StackNotDeployedError) {
      return { status: 'not-checked', reason: `stack ${name} is not deployed in ${target.region} (not deployed yet, or pass --stack-name / --region)` };
    }
    if (isAccessDenied(err)) {
      return { status: 'not-checked', reason: `cloudformation:DescribeStacks on stack ${name} was denied (${err.name})` };
    }
    throw err;
  }
  if (!functionName) {
    return { status: 'not-checked', reason: `stack ${name} has no ${STACK_OUTPUT.responderFunctionName} output (deployed by an older version)` };
  }
  const lambda = clients.lambda();
  let env: Record<string, string>;
  try {
    env = (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: functionName }))).Environment?.Variables ?? {};
  } catch (err) {
    if (err instanceof Error && err.name === 'ResourceNotFoundException') {
      return { status: 'not-checked', reason: `function ${functionName} of stack ${name} does not exist` };
    }
    if (isAccessDenied(err)) {
      return { status: 'not-checked', reason: `lambda:GetFunctionConfiguration on ${functionName} was denied (${err.name})` };
    }
    throw err;
  } finally {
    lambda.destroy();
  }
  try {
    const config = loadResponderConfig(env);
    return {
      status: 'found',
      config: {
        stackName: name,
        functionName,
        scope: config.scope,
        mode: config.mode,
        ...(config.shutdown ? { shutdownDocument: config.shutdown.documentName } : {}),
      },
    };
  } catch (err) {
    if (err instanceof ConfigError) return { status: 'invalid', stackName: name, functionName, problem: err.message };
    throw err;
  }
}

/** Where the checked scope came from, as `doctor` reports it. */
export type ScopeSource = 'stack' | 'flags' | 'stack+flags' | 'none';

/** The flags `doctor` was given; each one set overrides the deployed value. */
export interface ScopeFlags {
  autoScalingGroupNames?: string[];
  targetGroupNames?: string[];
  /** --graceful-shutdown (true) / --no-graceful-shutdown (false); unset: the stack's. */
  gracefulShutdown?: boolean;
}

/** The scope and graceful-shutdown setting the doctor checks, and where each came from. */
export interface CheckedScope {
  from: ScopeSource;
  /** Absent: the scope is not checked (no flag and no deployed responder). */
  scope?: ResourceScope;
  gracefulShutdown: boolean;
  /** The deployed responder read, when one was. */
  deployed?: DeployedConfig;
  /** Why the deployed configuration was not read or not usable; absent when it was, or was not needed. */
  notChecked?: string;
}

/** All three settings were given as flags: the deployed configuration is not needed. */
export function flagsCoverEverything(flags: ScopeFlags): boolean {
  return flags.autoScalingGroupNames !== undefined && flags.targetGroupNames !== undefined && flags.gracefulShutdown !== undefined;
}

/**
 * Merges the flags over the deployed configuration (pure). A scope flag given alone keeps the
 * other list from the stack, or `["*"]` (everything, the function's default) without one.
 */
export function checkedScope(flags: ScopeFlags, lookup: DeployedLookup | undefined): CheckedScope {
  const deployed = lookup?.status === 'found' ? lookup.config : undefined;
  const flagged = [flags.autoScalingGroupNames, flags.targetGroupNames].filter((v) => v !== undefined).length;
  const from: ScopeSource = deployed ? (flagged > 0 ? 'stack+flags' : 'stack') : flagged > 0 ? 'flags' : 'none';
  const scope =
    from === 'none'
      ? undefined
      : {
          autoScalingGroupNames: flags.autoScalingGroupNames ?? deployed?.scope.autoScalingGroupNames ?? ['*'],
          targetGroupNames: flags.targetGroupNames ?? deployed?.scope.targetGroupNames ?? ['*'],
        };
  const notChecked =
    lookup?.status === 'not-checked'
      ? lookup.reason
      : lookup?.status === 'invalid'
        ? `the environment of function ${lookup.functionName} does not load: ${lookup.problem}`
        : undefined;
  return {
    from,
    ...(scope ? { scope } : {}),
    gracefulShutdown: flags.gracefulShutdown ?? (deployed?.shutdownDocument !== undefined),
    ...(deployed ? { deployed } : {}),
    ...(notChecked ? { notChecked } : {}),
  };
}
