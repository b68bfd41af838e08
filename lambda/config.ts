// Configuration comes from the environment, read once at cold start. A missing or malformed
// variable throws there, so a misconfigured function fails on its first invocation, loudly,
// instead of half-handling an interruption. The names and defaults are the contract's
// (contract.ts), which the construct sets from.
import type { ResourceScope } from './core/scope';
import type { AcceptedSources } from './events/delivery';
import {
  DEFAULTS,
  INDEX_REFRESHER_ENV,
  REBALANCE_ACTIONS,
  RESPONDER_ENV,
  RESPONSE_MODES,
  SIGNALS_ENV,
  TAG_MODES,
  type RebalanceAction,
  type ResponseMode,
  type TagMode,
} from './contract';
import { parsePacing, type PacingConfig } from './aws/pacing';
import { SHUTDOWN_TAG_SUFFIX, parseShutdownCommand, type ShutdownSettings } from './core/shutdown';

// The responder's behaviour types name these; they are read here, so they are offered here too.
export type { RebalanceAction, ResponseMode, TagMode };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

function pacing(env: Env, name: string): PacingConfig {
  try {
    return parsePacing(env[name] ?? DEFAULTS.apiPacing);
  } catch (err) {
    throw new ConfigError(`environment variable ${name}: ${(err as Error).message}`);
  }
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`environment variable ${name} is required`);
  return value;
}

function positiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`environment variable ${name} must be a positive integer, got "${raw}"`);
  }
  return value;
}

/** A comma-separated allow-list; "*" accepts anything. */
function allowList(env: Env, name: string): string[] | '*' {
  const raw = required(env, name);
  if (raw === '*') return '*';
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new ConfigError(`environment variable ${name} lists nothing`);
  return items;
}

function oneOf<T extends string>(env: Env, name: string, choices: readonly T[], fallback: T): T {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!(choices as readonly string[]).includes(raw)) {
    throw new ConfigError(`environment variable ${name} must be one of ${choices.join(', ')}, got "${raw}"`);
  }
  return raw as T;
}

function list(env: Env, name: string): string[] {
  return (env[name] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** A JSON array of non-empty strings; unset means `["*"]` (everything). */
function patternList(env: Env, name: string): string[] {
  const raw = env[name]?.trim();
  if (!raw) return ['*'];
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new ConfigError(`environment variable ${name} must be a JSON array of name patterns, got "${raw}"`);
  }
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw new ConfigError(`environment variable ${name} must be a non-empty JSON array of name patterns, got ${raw}`);
  }
  return value as string[];
}

/** Which instances the responder may touch, decided by one tag on the instance or its group. */
export interface TagPolicy {
  mode: TagMode;
  /** opt-out: value off/false/disabled excludes; opt-in: value on/true/enabled includes. */
  key: string;
}

export interface ResponderConfig {
  tableName: string;
  /** Accounts whose events we act on; the function's own by default (set by the construct). */
  acceptedAccounts: string[] | '*';
  acceptedRegions: string[] | '*';
  recordRetentionDays: number;
  /** observe: plan and record, change nothing in the fleet; act: act. */
  mode: ResponseMode;
  /** record (default): a rebalance recommendation is only recorded; replace: act on it early. */
  rebalanceAction: RebalanceAction;
  tagPolicy: TagPolicy;
  /** ECS clusters to look for the instance in; empty turns ECS draining off. */
  ecsClusters: string[];
  /** The groups and target groups its IAM policy covers; the plan skips the rest. */
  scope: ResourceScope;
  /** SNS topic for notifications (SIGNALS_ENV.notificationTopicArn); absent: none. */
  notificationTopicArn?: string;
  /** Graceful shutdown (SIGNALS_ENV.shutdownDocument, shutdownCommand); absent: off. */
  shutdown?: ShutdownSettings;
  /** The client-side token buckets of the container's AWS clients. */
  apiPacing: PacingConfig;
  /** The refresher's schedule (minutes): index entries older than three intervals count as expired. */
  indexRefreshMinutes: number;
  /** The queues whose records are answered; absent (variable unset): every source is answered. */
  acceptedSources?: AcceptedSources;
}

/**
 * The responder's configuration from RESPONDER_ENV. Throws ConfigError naming the variable
 * when a required one is missing or any is malformed; unset optional ones take DEFAULTS.
 */
export function loadResponderConfig(env: Env = process.env): ResponderConfig {
  const tagKey = env[RESPONDER_ENV.tagKey]?.trim() || DEFAULTS.tagKey;
  return {
    tableName: required(env, RESPONDER_ENV.tableName),
    acceptedAccounts: allowList(env, RESPONDER_ENV.acceptedAccounts),
    acceptedRegions: allowList(env, RESPONDER_ENV.acceptedRegions),
    recordRetentionDays: positiveInt(env, RESPONDER_ENV.recordRetentionDays, DEFAULTS.recordRetentionDays),
    mode: oneOf(env, RESPONDER_ENV.mode, RESPONSE_MODES, DEFAULTS.mode),
    rebalanceAction: oneOf(env, RESPONDER_ENV.rebalanceAction, REBALANCE_ACTIONS, DEFAULTS.rebalanceAction),
    tagPolicy: {
      mode: oneOf(env, RESPONDER_ENV.tagMode, TAG_MODES, DEFAULTS.tagMode),
      key: tagKey,
    },
    ecsClusters: list(env, RESPONDER_ENV.ecsClusters),
    scope: {
      autoScalingGroupNames: patternList(env, RESPONDER_ENV.autoScalingGroupNames),
      targetGroupNames: patternList(env, RESPONDER_ENV.targetGroupNames),
    },
    ...topicArn(env, SIGNALS_ENV.notificationTopicArn),
    ...shutdown(env, tagKey),
    apiPacing: pacing(env, RESPONDER_ENV.apiPacing),
    indexRefreshMinutes: positiveInt(env, RESPONDER_ENV.indexRefreshMinutes, DEFAULTS.indexRefreshMinutes),
    ...acceptedSources(env, RESPONDER_ENV.acceptedQueueArns),
  };
}

/** SQS queue ARNs, comma-separated; nothing when the variable is unset or empty; a malformed one throws. */
function acceptedSources(env: Env, name: string): { acceptedSources?: AcceptedSources } {
  const queueArns = list(env, name);
  if (queueArns.length === 0) return {};
  const bad = queueArns.find((arn) => !/^arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(arn));
  if (bad !== undefined) throw new ConfigError(`environment variable ${name} must list SQS queue ARNs, got "${bad}"`);
  return { acceptedSources: { queueArns } };
}

/** An SNS topic ARN, or nothing when the variable is unset or empty; a malformed one throws. */
function topicArn(env: Env, name: string): { notificationTopicArn?: string } {
  const raw = env[name]?.trim();
  if (!raw) return {};
  if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/.test(raw)) {
    throw new ConfigError(`environment variable ${name} must be an SNS topic ARN, got "${raw}"`);
  }
  return { notificationTopicArn: raw };
}

/** SSM document names: 3 to 128 of letters, digits, _-. (SSM API reference, CreateDocument Name). */
const DOCUMENT_NAME = /^[a-zA-Z0-9_.-]{3,128}$/;

/**
 * Graceful shutdown when SIGNALS_ENV.shutdownDocument names a document: its default command from
 * SIGNALS_ENV.shutdownCommand (none when unset), the per-instance tag `<tagKey>:shutdown`. Throws
 * ConfigError for a malformed name or command.
 */
function shutdown(env: Env, tagKey: string): { shutdown?: ShutdownSettings } {
  const documentName = env[SIGNALS_ENV.shutdownDocument]?.trim();
  if (!documentName) return {};
  if (!DOCUMENT_NAME.test(documentName)) {
    throw new ConfigError(`environment variable ${SIGNALS_ENV.shutdownDocument} must be an SSM document name, got "${documentName}"`);
  }
  const text = env[SIGNALS_ENV.shutdownCommand]?.trim();
  const settings: ShutdownSettings = { documentName, tagKey: `${tagKey}${SHUTDOWN_TAG_SUFFIX}` };
  if (!text) return { shutdown: settings };
  const parsed = parseShutdownCommand(text);
  if ('problem' in parsed) throw new ConfigError(`environment variable ${SIGNALS_ENV.shutdownCommand}: ${parsed.problem}`);
  return { shutdown: { ...settings, defaultCommand: parsed.command } };
}

export interface IndexRefresherConfig {
  tableName: string;
  /** How often the schedule runs; index entries outlive three refreshes, then expire. */
  refreshIntervalMinutes: number;
  /** ELBv2 Describe* calls per second the refresher allows itself (the account bucket refills at ~10/s). */
  describeCallsPerSecond: number;
}

/** The index refresher's configuration from INDEX_REFRESHER_ENV; errors and defaults as loadResponderConfig. */
export function loadIndexRefresherConfig(env: Env = process.env): IndexRefresherConfig {
  return {
    tableName: required(env, INDEX_REFRESHER_ENV.tableName),
    refreshIntervalMinutes: positiveInt(env, INDEX_REFRESHER_ENV.refreshMinutes, DEFAULTS.indexRefreshMinutes),
    describeCallsPerSecond: positiveInt(
      env,
      INDEX_REFRESHER_ENV.describeCallsPerSecond,
      DEFAULTS.indexDescribeCallsPerSecond,
    ),
  };
}
