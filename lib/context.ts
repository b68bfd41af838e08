// Reads the app's configuration from CDK context (cdk.json, or `cdk synth -c key=value`).
// Values from cdk.json arrive as JSON; values from the command line arrive as strings, so
// every reader accepts both. A bad or unknown key fails synth before any construct exists.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Node } from 'constructs';
import {
  REBALANCE_ACTIONS,
  RESPONSE_MODES,
  TAG_MODES,
  type LogLevel,
  type RebalanceAction,
  type ResponseMode,
  type TagMode,
} from '../lambda/contract';
import { MIN_NODE_MAJOR } from './defaults';
import type { GracefulShutdownProps } from './graceful-shutdown';
import { parseShutdownCommand } from '../lambda/core/shutdown';
import { PERMISSION_SCOPES, type PermissionScope } from './permissions';
import { SpotResponderStackProps } from './spot-responder-stack';
import {
  SpotResponderConfigError,
  checkAccounts,
  checkAutoScalingGroupNames,
  checkEcsClusters,
  checkEmail,
  checkLogLevel,
  checkNodeRuntime,
  checkOneOf,
  checkRegions,
  checkStackId,
  checkTagKey,
  checkTargetGroupNames,
} from './validation';

/**
 * The context keys the app reads. Every key is optional; `null` means "not set".
 */
export const CONTEXT_KEYS = {
  /**
   * Accounts whose warnings the responder acts on: a list of 12-digit ids, or `"*"`.
   * Default: the account the stack is deployed to.
   */
  acceptedAccounts: 'spotResponder:acceptedAccounts',
  /** Regions whose warnings the responder acts on: a list, or `"*"`. Default: the stack's region. */
  acceptedRegions: 'spotResponder:acceptedRegions',
  /** Auto Scaling group names (IAM wildcards allowed) the responder may detach from. Default `["*"]`. */
  autoScalingGroupNames: 'spotResponder:autoScalingGroupNames',
  /** Target group names (IAM wildcards allowed) the responder may deregister from. Default `["*"]`. */
  targetGroupNames: 'spotResponder:targetGroupNames',
  /** `"observe"` (plan and record, change nothing) or `"act"`. Default observe. */
  mode: 'spotResponder:mode',
  /** What a rebalance recommendation triggers: `"record"` or `"replace"`. Default record. */
  rebalanceAction: 'spotResponder:rebalanceAction',
  /** `"opt-out"` (act unless the tag says off) or `"opt-in"` (act only if it says on). Default opt-out. */
  tagMode: 'spotResponder:tagMode',
  /** The tag key tagMode reads, 1 to 128 characters. Default `spot-responder`. */
  tagKey: 'spotResponder:tagKey',
  /** `"names"` or `"tagged"` (mutating IAM actions also need the opt-in tag on the group / target group). Default names. */
  permissionScope: 'spotResponder:permissionScope',
  /** ECS cluster names or ARNs to drain container instances in. Default none: ECS draining off. */
  ecsClusters: 'spotResponder:ecsClusters',
  /** Minutes between index refreshes, 1 to 60. Default 5. */
  indexRefreshMinutes: 'spotResponder:indexRefreshMinutes',
  /** ELBv2 Describe* calls per second the index refresher allows itself, 1 to 10. Default 4. */
  indexDescribeCallsPerSecond: 'spotResponder:indexDescribeCallsPerSecond',
  /** Run the index refresher once on every deployment that changes it. Default true. */
  refreshIndexOnDeploy: 'spotResponder:refreshIndexOnDeploy',
  /** Days an event record is kept before DynamoDB's TTL removes it, 1 to 3650. Default 90. */
  recordRetentionDays: 'spotResponder:recordRetentionDays',
  /** Days the functions' logs are kept; one of CloudWatch Logs' retention values. Default 30. */
  logRetentionDays: 'spotResponder:logRetentionDays',
  /** POWERTOOLS_LOG_LEVEL of both functions: DEBUG, INFO, WARN or ERROR. Default INFO. */
  logLevel: 'spotResponder:logLevel',
  /** `"retain"` or `"destroy"`: what happens to the table and logs when the stack goes. Default retain. */
  removalPolicy: 'spotResponder:removalPolicy',
  /** If set, alarms notify an SNS topic with this email address subscribed. Default: no topic. */
  alarmEmail: 'spotResponder:alarmEmail',
  /** Run the cdk-nag AwsSolutions checks on synth. Default true. */
  nag: 'spotResponder:nag',
  /** Create the CloudWatch dashboard (metrics, alarms, functions). Default true. */
  dashboard: 'spotResponder:dashboard',
  /** Deploy the FIS drill's experiment template with its defaults (lib/drill.ts). Default false. */
  drill: 'spotResponder:drill',
  /**
   * Graceful shutdown (lib/graceful-shutdown.ts): `"unit:<systemd unit>"` or
   * `"script:<absolute path>"` for every warned instance, `true` for tagged instances only,
   * `false` off. Default off.
   */
  gracefulShutdown: 'spotResponder:gracefulShutdown',
  /** Lambda runtime of both functions: `nodejs22.x` or a later Node.js. Default nodejs22.x. */
  runtime: 'spotResponder:runtime',
  /** Memory of both functions in MB, 128 to 10240. Default 512. */
  memorySize: 'spotResponder:memorySize',
  /**
   * The CloudFormation stack name (and construct id) of the app's stack; with `regions`, the
   * prefix of each region's `<stackId>-<region>`. Default `SpotResponder`.
   */
  stackId: 'spotResponder:stackId',
  /**
   * Regions to deploy to, one stack each, in the account of the credentials. Default none: one
   * environment-agnostic stack, deployed wherever the credentials point.
   */
  regions: 'spotResponder:regions',
} as const;

/** The stack id when `spotResponder:stackId` is not set. */
export const DEFAULT_STACK_ID = 'SpotResponder';

const PREFIX = 'spotResponder:';

export interface SpotResponderAppConfig {
  readonly stackProps: SpotResponderStackProps;
  /** The stack id and name, or with `regions` the prefix of each stack's. */
  readonly stackId: string;
  /** One stack per region when set (non-empty, no duplicates); else one environment-agnostic stack. */
  readonly regions?: string[];
  /** Whether bin/app.ts applies the cdk-nag AwsSolutions checks. */
  readonly nag: boolean;
}

/**
 * Read and validate every `spotResponder:*` context key. Throws SpotResponderConfigError,
 * naming the key, on the first bad value, and on any unknown `spotResponder:` key (a typo
 * would otherwise be ignored silently).
 */
export function readSpotResponderContext(node: Node): SpotResponderAppConfig {
  const known = new Set<string>(Object.values(CONTEXT_KEYS));
  for (const key of Object.keys(node.getAllContext())) {
    if (key.startsWith(PREFIX) && !known.has(key)) {
      throw new SpotResponderConfigError(
        `unknown context key "${key}"; known keys: ${[...known].sort().join(', ')}`,
      );
    }
  }
  const get = (key: string): unknown => {
    const value: unknown = node.tryGetContext(key);
    return value === null || value === '' ? undefined : value;
  };

  const acceptedAccounts = allowList(CONTEXT_KEYS.acceptedAccounts, get(CONTEXT_KEYS.acceptedAccounts));
  if (acceptedAccounts) checkAccounts(label(CONTEXT_KEYS.acceptedAccounts), acceptedAccounts);
  const acceptedRegions = allowList(CONTEXT_KEYS.acceptedRegions, get(CONTEXT_KEYS.acceptedRegions));
  if (acceptedRegions) checkRegions(label(CONTEXT_KEYS.acceptedRegions), acceptedRegions);

  const autoScalingGroupNames = list(CONTEXT_KEYS.autoScalingGroupNames, get(CONTEXT_KEYS.autoScalingGroupNames));
  if (autoScalingGroupNames) checkAutoScalingGroupNames(label(CONTEXT_KEYS.autoScalingGroupNames), autoScalingGroupNames);
  const targetGroupNames = list(CONTEXT_KEYS.targetGroupNames, get(CONTEXT_KEYS.targetGroupNames));
  if (targetGroupNames) checkTargetGroupNames(label(CONTEXT_KEYS.targetGroupNames), targetGroupNames);

  const indexRefreshMinutes = integer(CONTEXT_KEYS.indexRefreshMinutes, get(CONTEXT_KEYS.indexRefreshMinutes), 1, 60);
  const indexDescribeCallsPerSecond = integer(
    CONTEXT_KEYS.indexDescribeCallsPerSecond,
    get(CONTEXT_KEYS.indexDescribeCallsPerSecond),
    1,
    10,
  );
  const recordRetentionDays = integer(CONTEXT_KEYS.recordRetentionDays, get(CONTEXT_KEYS.recordRetentionDays), 1, 3650);
  const logRetention = retentionDays(CONTEXT_KEYS.logRetentionDays, get(CONTEXT_KEYS.logRetentionDays));
  const logLevel = level(CONTEXT_KEYS.logLevel, get(CONTEXT_KEYS.logLevel));
  const removalPolicy = removal(CONTEXT_KEYS.removalPolicy, get(CONTEXT_KEYS.removalPolicy));
  const refreshIndexOnDeploy = bool(CONTEXT_KEYS.refreshIndexOnDeploy, get(CONTEXT_KEYS.refreshIndexOnDeploy));
  const alarmEmail = str(CONTEXT_KEYS.alarmEmail, get(CONTEXT_KEYS.alarmEmail));
  if (alarmEmail !== undefined) checkEmail(label(CONTEXT_KEYS.alarmEmail), alarmEmail);

  const rebalanceAction = oneOf<RebalanceAction>(
    CONTEXT_KEYS.rebalanceAction,
    get(CONTEXT_KEYS.rebalanceAction),
    REBALANCE_ACTIONS,
  );
  const mode = oneOf<ResponseMode>(CONTEXT_KEYS.mode, get(CONTEXT_KEYS.mode), RESPONSE_MODES);
  const tagMode = oneOf<TagMode>(CONTEXT_KEYS.tagMode, get(CONTEXT_KEYS.tagMode), TAG_MODES);
  const permissionScope = oneOf<PermissionScope>(CONTEXT_KEYS.permissionScope, get(CONTEXT_KEYS.permissionScope), PERMISSION_SCOPES);
  // Not get(): an empty tag key is a mistake to report, not "unset".
  const tagKey = rawStr(CONTEXT_KEYS.tagKey, node.tryGetContext(CONTEXT_KEYS.tagKey));
  if (tagKey !== undefined) checkTagKey(label(CONTEXT_KEYS.tagKey), tagKey);
  const ecsClusters = list(CONTEXT_KEYS.ecsClusters, get(CONTEXT_KEYS.ecsClusters));
  if (ecsClusters) checkEcsClusters(label(CONTEXT_KEYS.ecsClusters), ecsClusters);

  const runtimeName = str(CONTEXT_KEYS.runtime, get(CONTEXT_KEYS.runtime))?.toLowerCase();
  if (runtimeName !== undefined) checkNodeRuntime(label(CONTEXT_KEYS.runtime), runtimeName, MIN_NODE_MAJOR);
  const memorySize = integer(CONTEXT_KEYS.memorySize, get(CONTEXT_KEYS.memorySize), 128, 10240);
  const stackId = str(CONTEXT_KEYS.stackId, get(CONTEXT_KEYS.stackId)) ?? DEFAULT_STACK_ID;
  checkStackId(label(CONTEXT_KEYS.stackId), stackId);
  const regions = list(CONTEXT_KEYS.regions, get(CONTEXT_KEYS.regions));
  if (regions) {
    if (regions.length === 0) fail(CONTEXT_KEYS.regions, 'a non-empty list of regions (or unset)', regions);
    checkRegions(label(CONTEXT_KEYS.regions), regions);
    for (const region of regions) checkStackId(`${label(CONTEXT_KEYS.stackId)} with region ${region}`, `${stackId}-${region}`);
  }

  return {
    nag: bool(CONTEXT_KEYS.nag, get(CONTEXT_KEYS.nag)) ?? true,
    stackId,
    ...(regions ? { regions } : {}),
    stackProps: {
      alarmEmail,
      responder: {
        mode,
        acceptedAccounts,
        acceptedRegions,
        autoScalingGroupNames,
        targetGroupNames,
        rebalanceAction,
        tagMode,
        tagKey,
        permissionScope,
        ecsClusters,
        indexRefreshInterval: indexRefreshMinutes === undefined ? undefined : Duration.minutes(indexRefreshMinutes),
        indexDescribeCallsPerSecond,
        refreshIndexOnDeploy,
        recordRetentionDays,
        logRetention,
        logLevel,
        removalPolicy,
        runtime: runtimeName === undefined ? undefined : nodeRuntime(runtimeName),
        dashboard: bool(CONTEXT_KEYS.dashboard, get(CONTEXT_KEYS.dashboard)),
        drill: bool(CONTEXT_KEYS.drill, get(CONTEXT_KEYS.drill)) ? true : undefined,
        gracefulShutdown: gracefulShutdown(CONTEXT_KEYS.gracefulShutdown, get(CONTEXT_KEYS.gracefulShutdown)),
        memorySize,
      },
    },
  };
}

/** CDK's Runtime object for a checked `nodejs<major>.x`; one CDK does not know yet is made. */
function nodeRuntime(name: string): lambda.Runtime {
  return (
    lambda.Runtime.ALL.find((r) => r.name === name && !r.isVariable) ??
    new lambda.Runtime(name, lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true })
  );
}

function label(key: string): string {
  return `context "${key}"`;
}

function fail(key: string, expected: string, value: unknown): never {
  throw new SpotResponderConfigError(`${label(key)} must be ${expected}, got ${JSON.stringify(value)}`);
}

function str(key: string, value: unknown): string | undefined {
  return rawStr(key, value)?.trim();
}

/** A string as given: for values whose edge whitespace is itself worth reporting. */
function rawStr(key: string, value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') fail(key, 'a string', value);
  return value;
}

function oneOf<T extends string>(key: string, value: unknown, choices: readonly T[]): T | undefined {
  const text = str(key, value)?.toLowerCase();
  if (text === undefined) return undefined;
  checkOneOf(label(key), text, choices);
  return text;
}

/** A JSON array of strings, a JSON array in a string, or a comma-separated string. */
function list(key: string, value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  let items: unknown = value;
  if (typeof value === 'string') {
    const text = value.trim();
    if (text.startsWith('[')) {
      try {
        items = JSON.parse(text);
      } catch {
        fail(key, 'a list of strings', value);
      }
    } else {
      items = text.split(',').map((s) => s.trim()).filter(Boolean);
    }
  }
  if (!Array.isArray(items) || !items.every((item) => typeof item === 'string')) {
    fail(key, 'a list of strings', value);
  }
  return items.map((item: string) => item.trim());
}

function allowList(key: string, value: unknown): string[] | '*' | undefined {
  if (typeof value === 'string' && value.trim() === '*') return '*';
  return list(key, value);
}

function integer(key: string, value: unknown, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value.trim()) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    fail(key, `a whole number from ${min} to ${max}`, value);
  }
  return n;
}

function bool(key: string, value: unknown): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  if (value === 'true') return true;
  if (value === 'false') return false;
  fail(key, 'true or false', value);
}

/** true / false, or a command in the text form the tag and the responder's SHUTDOWN_COMMAND use. */
function gracefulShutdown(key: string, value: unknown): true | GracefulShutdownProps | undefined {
  if (value === undefined || value === false || value === 'false') return undefined;
  if (value === true || value === 'true') return true;
  if (typeof value !== 'string') fail(key, 'true, false, "unit:<systemd unit>" or "script:<absolute path>"', value);
  const parsed = parseShutdownCommand(value);
  if ('problem' in parsed) fail(key, `true, false, "unit:<systemd unit>" or "script:<absolute path>" (${parsed.problem})`, value);
  return 'systemdUnit' in parsed.command ? { systemdUnit: parsed.command.systemdUnit } : { script: parsed.command.script };
}

function level(key: string, value: unknown): LogLevel | undefined {
  const text = str(key, value)?.toUpperCase();
  if (text === undefined) return undefined;
  checkLogLevel(label(key), text);
  return text;
}

function removal(key: string, value: unknown): RemovalPolicy | undefined {
  const text = str(key, value)?.toLowerCase();
  if (text === undefined) return undefined;
  if (text === 'retain') return RemovalPolicy.RETAIN;
  if (text === 'destroy') return RemovalPolicy.DESTROY;
  fail(key, '"retain" or "destroy"', value);
}

const RETENTION_VALUES = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');

function retentionDays(key: string, value: unknown): logs.RetentionDays | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' ? Number(value) : value;
  if (typeof n !== 'number' || !RETENTION_VALUES.includes(n)) {
    fail(key, `one of ${RETENTION_VALUES.join(', ')}`, value);
  }
  return n as logs.RetentionDays;
}
