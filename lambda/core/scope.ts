// Which Auto Scaling groups and target groups the responder may act on: the same name patterns
// the construct turns into IAM resource ARNs (lib/permissions.ts), matched here the way IAM
// matches those ARNs, so the plan skips exactly what IAM would refuse.
//
// Written by hand: IAM's wildcards are not a glob dialect any library implements (minimatch and
// micromatch give `/` and leading dots a meaning; IAM gives them none). In an IAM resource ARN,
// `*` matches any run of characters, empty included, `?` exactly one, everything else itself,
// case-sensitively (IAM User Guide, "IAM JSON policy elements: Resource", wildcards in ARNs).

/**
 * Name patterns of the resources the responder may mutate. `*` and `?` as in IAM ARNs;
 * `['*']` is everything (the construct's default).
 */
export interface ResourceScope {
  autoScalingGroupNames: readonly string[];
  targetGroupNames: readonly string[];
}

export const UNSCOPED: ResourceScope = { autoScalingGroupNames: ['*'], targetGroupNames: ['*'] };

/** True when `value` matches the IAM wildcard `pattern` as a whole (not as a substring). */
export function iamPatternMatches(pattern: string, value: string): boolean {
  return new RegExp(`^${pattern.split('').map(patternChar).join('')}$`, 's').test(value);
}

function patternChar(c: string): string {
  if (c === '*') return '.*';
  if (c === '?') return '.';
  return c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
}

/** True when `name` matches one of `patterns`. */
export function matchesAny(patterns: readonly string[], name: string): boolean {
  return patterns.some((p) => iamPatternMatches(p, name));
}

/**
 * The resource part the construct's DetachInstances / TerminateInstanceInAutoScalingGroup
 * statements name for a group name pattern: `autoScalingGroup:<uuid>:autoScalingGroupName/<name>`,
 * the uuid a wildcard (it is generated).
 */
export function autoScalingGroupResourceName(namePattern: string): string {
  return `*:autoScalingGroupName/${namePattern}`;
}

/** The resource part of the DeregisterTargets statement: `targetgroup/<name>/<generated id>`. */
export function targetGroupResourceName(namePattern: string): string {
  return `${namePattern}/*`;
}

/**
 * The name in a target group ARN (`arn:<partition>:elasticloadbalancing:<region>:<account>:
 * targetgroup/<name>/<id>`); null when `arn` is not one.
 */
export function targetGroupNameOf(arn: string): string | null {
  return /:targetgroup\/([^/]+)\/[^/]+$/.exec(arn)?.[1] ?? null;
}

/** Why a group is out of scope, or null when the responder may act on it. */
export function groupOutOfScope(scope: ResourceScope, groupName: string): string | null {
  if (matchesAny(scope.autoScalingGroupNames, groupName)) return null;
  return `Auto Scaling group ${groupName} is out of scope (autoScalingGroupNames: ${scope.autoScalingGroupNames.join(', ')})`;
}

/** Why a target group is out of scope, or null when the responder may deregister from it. */
export function targetGroupOutOfScope(scope: ResourceScope, targetGroupArn: string): string | null {
  const name = targetGroupNameOf(targetGroupArn);
  // An ARN that names no target group can only match IAM's bare `*`.
  if (name === null ? scope.targetGroupNames.includes('*') : matchesAny(scope.targetGroupNames, name)) return null;
  return `target group ${name ?? targetGroupArn} is out of scope (targetGroupNames: ${scope.targetGroupNames.join(', ')})`;
}
