// Checks shared by the construct (on its props) and the app (on cdk.json context), so a bad
// value fails synth with one clear message whichever way it came in. Each takes a label that
// names where the value came from. Tokens pass unchecked: their value is known only at deploy.
import { Token } from 'aws-cdk-lib';
import { LOG_LEVELS, type LogLevel } from '../lambda/contract';

export class SpotResponderConfigError extends Error {
  override name = 'SpotResponderConfigError';
}

const ACCOUNT_ID = /^\d{12}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
// Target group names: 1-32 letters, digits and hyphens; IAM wildcards * and ? are allowed.
const TARGET_GROUP_NAME_PATTERN = /^[A-Za-z0-9*?-]{1,32}$/;
// Auto Scaling group names: up to 255 characters; a colon or a slash would change the ARN.
const AUTO_SCALING_GROUP_NAME_PATTERN = /^[^:/\s][^:/]{0,254}$/;
const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
// ECS cluster names, or the full ARN of a cluster; the name is group 1 or group 2.
const ECS_CLUSTER = /^(?:([a-zA-Z0-9_-]{1,255})|arn:aws[a-z-]*:ecs:[a-z0-9-]+:\d{12}:cluster\/([a-zA-Z0-9_-]{1,255}))$/;
const TAG_KEY_MAX_LENGTH = 128;

/** `'*'`, or a non-empty list with no duplicates whose items all match `valid`. */
export function checkAllowList(
  label: string,
  value: readonly string[] | '*',
  valid: RegExp,
  what: string,
): void {
  if (value === '*') return;
  if (value.length === 0) {
    throw new SpotResponderConfigError(`${label} must list at least one ${what}, or be "*"`);
  }
  checkEach(label, value, valid, what);
}

export function checkAccounts(label: string, value: readonly string[] | '*'): void {
  checkAllowList(label, value, ACCOUNT_ID, 'AWS account id (12 digits)');
}

export function checkRegions(label: string, value: readonly string[] | '*'): void {
  checkAllowList(label, value, REGION, 'AWS region name (e.g. eu-west-1)');
}

export function checkAutoScalingGroupNames(label: string, value: readonly string[]): void {
  checkNonEmpty(label, value, 'Auto Scaling group name or pattern ("*" for any)');
  checkEach(label, value, AUTO_SCALING_GROUP_NAME_PATTERN, 'Auto Scaling group name or pattern');
}

export function checkTargetGroupNames(label: string, value: readonly string[]): void {
  checkNonEmpty(label, value, 'target group name or pattern ("*" for any)');
  checkEach(label, value, TARGET_GROUP_NAME_PATTERN, 'target group name or pattern (1-32 of A-Z a-z 0-9 - * ?)');
}

/** ECS cluster names or cluster ARNs; an empty list (ECS draining off) is allowed. */
export function checkEcsClusters(label: string, value: readonly string[]): void {
  checkEach(label, value, ECS_CLUSTER, 'ECS cluster name (1-255 of A-Z a-z 0-9 _ -) or cluster ARN');
  const names = value.filter((item) => !Token.isUnresolved(item)).map(ecsClusterName);
  const twice = names.find((name, i) => names.indexOf(name) !== i);
  if (twice !== undefined) {
    throw new SpotResponderConfigError(`${label} names cluster ${JSON.stringify(twice)} twice`);
  }
}

/** The cluster name of a value that passed checkEcsClusters. */
export function ecsClusterName(value: string): string {
  const match = ECS_CLUSTER.exec(value);
  if (!match) throw new SpotResponderConfigError(`${JSON.stringify(value)} is not an ECS cluster name or ARN`);
  return (match[1] ?? match[2])!;
}

/**
 * The tag the responder reads on instances and groups. Keys that EC2 would never let anyone
 * set (empty, too long, `aws:`) and keys with edge whitespace (the function trims them) would
 * make opt-in match nothing and opt-out exclude nothing, silently.
 */
export function checkTagKey(label: string, value: string): void {
  if (Token.isUnresolved(value)) return;
  const problem =
    value.length === 0
      ? 'must not be empty'
      : value.length > TAG_KEY_MAX_LENGTH
        ? `must be at most ${TAG_KEY_MAX_LENGTH} characters, got ${value.length}`
        : value !== value.trim()
          ? `must not start or end with whitespace, got ${JSON.stringify(value)}`
          : value.toLowerCase().startsWith('aws:')
            ? `must not start with "aws:" (reserved for AWS), got ${JSON.stringify(value)}`
            : undefined;
  if (problem) throw new SpotResponderConfigError(`${label} ${problem}`);
}

export function checkOneOf<T extends string>(label: string, value: string, choices: readonly T[]): asserts value is T {
  if (!(choices as readonly string[]).includes(value)) {
    throw new SpotResponderConfigError(
      `${label} must be one of ${choices.map((c) => JSON.stringify(c)).join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
}

export function checkEmail(label: string, value: string): void {
  if (!Token.isUnresolved(value) && !EMAIL.test(value)) {
    throw new SpotResponderConfigError(`${label} must be an email address, got ${JSON.stringify(value)}`);
  }
}

export function checkIntegerInRange(label: string, value: number, min: number, max: number): void {
  if (Token.isUnresolved(value)) return;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new SpotResponderConfigError(
      `${label} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
}

export function checkLogLevel(label: string, value: string): asserts value is LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) {
    throw new SpotResponderConfigError(
      `${label} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`,
    );
  }
}

/**
 * A Lambda Node.js runtime name (`nodejs22.x`, `nodejs24.x` ...) of major version 22 or later:
 * the code and its bundle target Node.js 22 features; older runtimes are deprecated or near it.
 */
export function checkNodeRuntime(label: string, runtimeName: string, minMajor = 22): void {
  const match = /^nodejs(\d+)\.x$/.exec(runtimeName);
  const major = match ? Number(match[1]) : undefined;
  if (major === undefined || major < minMajor) {
    throw new SpotResponderConfigError(
      `${label} must be a Lambda Node.js runtime of version ${minMajor} or later (nodejs${minMajor}.x, ` +
        `nodejs24.x ...), got ${JSON.stringify(runtimeName)}`,
    );
  }
}

// CloudFormation stack names: a letter, then letters, digits and hyphens, 128 at most.
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** A CloudFormation stack name, which the app also uses as the stack's construct id. */
export function checkStackId(label: string, value: string): void {
  if (!STACK_NAME.test(value)) {
    throw new SpotResponderConfigError(
      `${label} must be a CloudFormation stack name (a letter, then letters, digits and hyphens, 128 at most), got ${JSON.stringify(value)}`,
    );
  }
}

/** Lambda function memory: whole MB from 128 to 10240. */
export function checkMemorySize(label: string, value: number): void {
  checkIntegerInRange(label, value, 128, 10240);
}

function checkNonEmpty(label: string, value: readonly string[], what: string): void {
  if (value.length === 0) throw new SpotResponderConfigError(`${label} must list at least one ${what}`);
}

function checkEach(label: string, value: readonly string[], valid: RegExp, what: string): void {
  const seen = new Set<string>();
  for (const item of value) {
    if (Token.isUnresolved(item)) continue;
    if (!valid.test(item)) {
      throw new SpotResponderConfigError(`${label}: ${JSON.stringify(item)} is not a valid ${what}`);
    }
    if (seen.has(item)) throw new SpotResponderConfigError(`${label} lists ${JSON.stringify(item)} twice`);
    seen.add(item);
  }
}

/** A literal cluster ARN; anything else, tokens included, is a cluster name. */
export function isClusterArn(cluster: string): boolean {
  return !Token.isUnresolved(cluster) && cluster.startsWith('arn:');
}
