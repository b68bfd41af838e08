// The two functions, each with the environment of the contract (lambda/contract.ts). Every
// variable is set, defaults included, so a function never falls back on a default of its own
// that could drift from the construct's.
import * as path from 'path';
import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULTS, INDEX_REFRESHER_ENV, METRICS, POWERTOOLS_ENV, RESPONDER_ENV } from '../lambda/contract';
import { RESPONDER_TIMEOUT, indexRefresherTimeout } from './defaults';
import { ResponderFunction } from './responder-function';
import type { ResolvedSpotResponderProps } from './spot-responder-props';

const LAMBDA_DIR = path.join(__dirname, '..', 'lambda');

/** The environment of the responder function: every RESPONDER_ENV and POWERTOOLS_ENV variable. */
export function responderEnvironment(config: ResolvedSpotResponderProps, tableName: string): Record<string, string> {
  return {
    ...powertoolsEnvironment(config),
    [RESPONDER_ENV.tableName]: tableName,
    [RESPONDER_ENV.acceptedAccounts]: allowListEnv(config.acceptedAccounts),
    [RESPONDER_ENV.acceptedRegions]: allowListEnv(config.acceptedRegions),
    [RESPONDER_ENV.recordRetentionDays]: String(config.recordRetentionDays),
    [RESPONDER_ENV.mode]: config.mode,
    [RESPONDER_ENV.rebalanceAction]: config.rebalanceAction,
    [RESPONDER_ENV.tagMode]: config.tagMode,
    [RESPONDER_ENV.tagKey]: config.tagKey,
    [RESPONDER_ENV.ecsClusters]: config.ecsClusters.join(','),
    // The same patterns the IAM statements are built from (permissions.ts), so the plan skips
    // exactly what IAM would refuse.
    [RESPONDER_ENV.autoScalingGroupNames]: JSON.stringify(config.autoScalingGroupNames),
    [RESPONDER_ENV.targetGroupNames]: JSON.stringify(config.targetGroupNames),
    [RESPONDER_ENV.apiPacing]: DEFAULTS.apiPacing,
    // The same interval as the refresher's: the responder judges index entries by it.
    [RESPONDER_ENV.indexRefreshMinutes]: String(config.indexRefreshMinutes),
  };
}

/**
 * Names the queues the responder answers (RESPONDER_ENV.acceptedQueueArns), once they exist: the
 * function refuses input from anywhere else (lambda/events/delivery.ts). No cycle: the queues do
 * not refer to the function (its event source mappings do).
 */
export function acceptQueues(responder: ResponderFunction, queues: readonly sqs.IQueue[]): void {
  responder.addEnvironment(RESPONDER_ENV.acceptedQueueArns, Fn.join(',', queues.map((q) => q.queueArn)));
}

/** The environment of the index refresher: every INDEX_REFRESHER_ENV and POWERTOOLS_ENV variable. */
export function indexRefresherEnvironment(config: ResolvedSpotResponderProps, tableName: string): Record<string, string> {
  return {
    ...powertoolsEnvironment(config),
    [INDEX_REFRESHER_ENV.tableName]: tableName,
    [INDEX_REFRESHER_ENV.refreshMinutes]: String(config.indexRefreshMinutes),
    [INDEX_REFRESHER_ENV.describeCallsPerSecond]: String(config.indexDescribeCallsPerSecond),
  };
}

/**
 * The function `Responder` in `scope`. Only its event source mappings invoke it (batches of
 * SQS messages, lib/delivery.ts); what it fails to handle returns to the queue and, after the
 * queue's receive count, goes to that queue's dead-letter queue.
 */
export function createResponderFunction(
  scope: Construct,
  config: ResolvedSpotResponderProps,
  table: dynamodb.ITable,
): ResponderFunction {
  return new ResponderFunction(scope, 'Responder', {
    ...logGroupSettings(config),
    ...sizing(config),
    entry: path.join(LAMBDA_DIR, 'handler.ts'),
    prebundled: 'responder',
    description: 'Drains, replaces and records EC2 Spot instances through their interruption lifecycle',
    timeout: RESPONDER_TIMEOUT,
    environment: responderEnvironment(config, table.tableName),
  });
}

/** The function `IndexRefresher` in `scope`, run by the schedule (and once on deploy). */
export function createIndexRefresherFunction(
  scope: Construct,
  config: ResolvedSpotResponderProps,
  table: dynamodb.ITable,
): ResponderFunction {
  return new ResponderFunction(scope, 'IndexRefresher', {
    ...logGroupSettings(config),
    ...sizing(config),
    entry: path.join(LAMBDA_DIR, 'index-refresher-handler.ts'),
    prebundled: 'index-refresher',
    description: 'Rebuilds the instance-to-target-group index the spot-responder reads',
    timeout: indexRefresherTimeout(config.indexRefreshMinutes),
    // No reserved concurrency: on a new account it would lower the unreserved pool below its
    // minimum of 10 and fail the deploy. Refreshes are single-flight by a lease item in the
    // table instead (INDEX#LEASE, aws/target-index.ts). A failed or late refresh is superseded by the next
    // scheduled one, which resumes from its checkpoint.
    retryAttempts: 0,
    maxEventAge: Duration.minutes(config.indexRefreshMinutes),
    // Old versions serve only the deploy-time trigger; nothing else calls them.
    currentVersionOptions: { removalPolicy: RemovalPolicy.DESTROY },
    environment: indexRefresherEnvironment(config, table.tableName),
  });
}

function powertoolsEnvironment(config: ResolvedSpotResponderProps): Record<string, string> {
  return {
    [POWERTOOLS_ENV.serviceName]: DEFAULTS.serviceName,
    [POWERTOOLS_ENV.logLevel]: config.logLevel,
    [POWERTOOLS_ENV.metricsNamespace]: METRICS.namespace,
  };
}

function logGroupSettings(config: ResolvedSpotResponderProps) {
  return { logGroupRetention: config.logRetention, logGroupRemovalPolicy: config.removalPolicy };
}

function sizing(config: ResolvedSpotResponderProps) {
  return { runtime: config.runtime, memorySize: config.memorySize };
}

function allowListEnv(value: readonly string[] | '*'): string {
  return value === '*' ? '*' : value.join(',');
}
