// Configuration comes from the environment, read once at cold start. A missing or malformed
// variable throws there, so a misconfigured function fails on its first invocation, loudly,
// instead of half-handling an interruption.

export class ConfigError extends Error {
  override name = 'ConfigError';
}

type Env = Record<string, string | undefined>;

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

export const REBALANCE_ACTIONS = ['record', 'replace'] as const;
export type RebalanceAction = (typeof REBALANCE_ACTIONS)[number];
export const TAG_MODES = ['opt-out', 'opt-in'] as const;
export type TagMode = (typeof TAG_MODES)[number];

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
  /** record (default): a rebalance recommendation is only recorded; replace: act on it early. */
  rebalanceAction: RebalanceAction;
  tagPolicy: TagPolicy;
  /** ECS clusters to look for the instance in; empty turns ECS draining off. */
  ecsClusters: string[];
}

export function loadResponderConfig(env: Env = process.env): ResponderConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    acceptedAccounts: allowList(env, 'ACCEPTED_ACCOUNTS'),
    acceptedRegions: allowList(env, 'ACCEPTED_REGIONS'),
    recordRetentionDays: positiveInt(env, 'RECORD_RETENTION_DAYS', 90),
    rebalanceAction: oneOf(env, 'REBALANCE_ACTION', REBALANCE_ACTIONS, 'record'),
    tagPolicy: {
      mode: oneOf(env, 'TAG_MODE', TAG_MODES, 'opt-out'),
      key: env.TAG_KEY?.trim() || 'spot-responder',
    },
    ecsClusters: list(env, 'ECS_CLUSTERS'),
  };
}

export interface IndexRefresherConfig {
  tableName: string;
  /** How often the schedule runs; index entries outlive three refreshes, then expire. */
  refreshIntervalMinutes: number;
  /** ELBv2 Describe* calls per second the refresher allows itself (the account bucket refills at ~10/s). */
  describeCallsPerSecond: number;
}

export function loadIndexRefresherConfig(env: Env = process.env): IndexRefresherConfig {
  return {
    tableName: required(env, 'TABLE_NAME'),
    refreshIntervalMinutes: positiveInt(env, 'INDEX_REFRESH_MINUTES', 5),
    describeCallsPerSecond: positiveInt(env, 'INDEX_DESCRIBE_CALLS_PER_SECOND', 4),
  };
}
