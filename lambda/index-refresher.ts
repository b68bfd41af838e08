// The scheduled refresh (its Lambda entry is index-refresher-handler.ts): rebuild the target
// index (see aws/target-index.ts), then record which replacements have become healthy. Thin on
// purpose: the walks are in aws/target-scan.ts, the writes in aws/target-index.ts. It also names
// the replacements a response waits for when their own state change did not (a fallback).
//
//   lease ─► checkpoint? ─► target groups (from the marker) ─► Auto Scaling groups ─► complete
//                 │                 │ deadline near                │ deadline near
//                 │                 ▼                              ▼
//                 └──────── write the part + checkpoint, release the lease, exit
//
// Single-flight: a refresh first takes INDEX#LEASE (a conditional put with an expiry at its own
// deadline); a second one started meanwhile exits at once and says so in its summary. No
// reserved concurrency is needed for that (it would fail a first deploy on a new account).
// Resumable: at ~4 describe calls/s a 240 s invocation covers about 900 target groups; before
// the deadline the refresh writes what it has as a part of the snapshot, records where it
// stopped, and the next invocation (the next schedule) carries on. The snapshot becomes visible
// only when its last part is in. A failure of a scan or a write throws, so the invocation counts
// as an error and the refresher's alarm fires; the checkpoint stays, and the index keeps the
// previous complete snapshot meanwhile. The verification of replacements never fails a
// refresh: the index is what warnings depend on, and a replacement missed now is seen later.
import { randomUUID } from 'node:crypto';
import type { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IndexedTarget } from './core/model';
import type { EventStorePort, InstancePointer, TimelineAddition } from './core/ports';
import { errorInfo } from './aws/clients';
import type { DynamoTargetIndex, IndexEntry } from './aws/target-index';
import {
  emptyScanStats,
  scanAutoScalingGroups,
  scanTargetRegistrations,
  type GroupScanStats,
  type ScanPosition,
  type ScanStats,
} from './aws/target-scan';
import type { Log } from './log';
import type { MetricsSink } from './response/metrics';

/** What the refresher needs of the index: the snapshot parts, the checkpoint, the lease. */
export type IndexBuildPort = Pick<
  DynamoTargetIndex,
  | 'writePart'
  | 'completeSnapshot'
  | 'readCheckpoint'
  | 'writeCheckpoint'
  | 'clearCheckpoint'
  | 'acquireLease'
  | 'releaseLease'
>;

export interface IndexRefresherDeps {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  autoScaling: AutoScalingClient;
  index: IndexBuildPort;
  /**
   * Where replacements found healthy are recorded (their pointers and their records' timelines),
   * and where replacements no state change named are named.
   */
  store: Pick<EventStorePort, 'instancePointers' | 'appendTimeline' | 'groupsAwaitingReplacement' | 'unknownMembers' | 'assignReplacement'>;
  /** ELBv2 and Auto Scaling Describe* calls per second (each service its own limiter). */
  callsPerSecond: number;
  log: Log;
  now?: () => number;
  /** Told of every snapshot written (IndexRefreshes, IndexAge); none: no metrics. */
  metrics?: MetricsSink;
}

/** The invocation's context, when there is one (the CLI's `index refresh` has none: it runs to the end). */
export interface RefreshRun {
  /** Milliseconds left before the invocation is cut off (Lambda's getRemainingTimeInMillis). */
  remainingMs?: () => number;
  /** Who holds the lease: the Lambda request id, or a random id. */
  owner?: string;
}

/** Stop scanning once fewer than this many ms are left, or a fifth of the invocation, whichever is more. */
export const WRITE_RESERVE_MS = 30_000;
/** A checkpoint older than this (ms) is abandoned: its parts would no longer describe the fleet. */
export const CHECKPOINT_MAX_AGE_MS = 6 * 3_600_000;
/** The lease outlives the invocation's own deadline by this much (ms); unknown deadline: 15 min. */
const LEASE_MARGIN_MS = 10_000;
const LEASE_WITHOUT_DEADLINE_MS = 15 * 60_000;

export interface VerificationStats {
  /**
   * New members of groups with a response waiting, named its replacement by this refresh: the
   * replacement's state change did not arrive (or failed); its time is this snapshot's.
   */
  replacementsNamed: number;
  /** Replacements this refresh first saw healthy in all their target groups (replacement-healthy added). */
  replacementsVerified: number;
  /** Failed pointer reads or record updates, logged; the next refresh tries again. */
  verificationErrors: number;
}

/** Where an unfinished refresh stopped, and what it counted so far (kept in INDEX#CHECKPOINT). */
interface RefreshState {
  phase: 'target-groups' | 'auto-scaling-groups';
  position?: ScanPosition;
  groupToken?: string;
  parts: number;
  scan: ScanStats;
  groups: GroupScanStats;
  instances: number;
  targets: number;
}

/**
 * One invocation's account. outcome: 'complete' (the snapshot became visible), 'partial' (it
 * stopped before the deadline and checkpointed), 'skipped' (another refresh held the lease:
 * every count is 0, snapshotAt is '', and `skipped` names the holder). Counts are the
 * snapshot's so far, over all its parts.
 */
export interface RefreshSummary extends ScanStats, GroupScanStats, VerificationStats {
  outcome: 'complete' | 'partial' | 'skipped';
  snapshotAt: string;
  /** Parts of this snapshot written so far, this one included. */
  parts: number;
  /** This invocation continued a checkpoint. */
  resumed: boolean;
  durationMs: number;
  skipped?: { reason: string; holder: string; leaseUntil: string };
}

/**
 * The refresh: `(run?) => summary`. Resolves outcome 'complete' when the snapshot became
 * visible, 'partial' when it stopped before the deadline and checkpointed, 'skipped' when
 * another refresh holds the lease. Throws the scan's or the write's error after logging it.
 */
export function makeIndexRefresher(deps: IndexRefresherDeps): (run?: RefreshRun) => Promise<RefreshSummary> {
  const now = deps.now ?? Date.now;
  return async (run = {}) => {
    const started = now();
    const owner = run.owner ?? randomUUID();
    const remainingAtStart = run.remainingMs?.();
    const leaseUntil = new Date(started + (remainingAtStart ?? LEASE_WITHOUT_DEADLINE_MS) + LEASE_MARGIN_MS);
    const lease = await deps.index.acquireLease(owner, leaseUntil);
    if (!lease.acquired) {
      const summary: RefreshSummary = {
        ...emptyScanStats(),
        ...emptyGroupStats(),
        replacementsNamed: 0,
        replacementsVerified: 0,
        verificationErrors: 0,
        outcome: 'skipped',
        snapshotAt: '',
        parts: 0,
        resumed: false,
        durationMs: now() - started,
        skipped: { reason: 'another refresh holds the lease', holder: lease.holder, leaseUntil: lease.leaseUntil },
      };
      deps.log.info('target index refresh skipped', { ...summary });
      return summary;
    }
    try {
      return await refreshUnderLease(deps, run, started, remainingAtStart);
    } finally {
      await deps.index.releaseLease(owner).catch((err: unknown) =>
        // It expires on its own; the next refresh takes it then.
        deps.log.warn('refresh lease not released', { error: errorInfo(err) }),
      );
    }
  };
}

async function refreshUnderLease(
  deps: IndexRefresherDeps,
  run: RefreshRun,
  started: number,
  remainingAtStart: number | undefined,
): Promise<RefreshSummary> {
  const now = deps.now ?? Date.now;
  const reserve = remainingAtStart === undefined ? 0 : Math.max(WRITE_RESERVE_MS, remainingAtStart / 5);
  const shouldStop = (): boolean => run.remainingMs !== undefined && run.remainingMs() < reserve;
  const checkpoint = await deps.index.readCheckpoint<RefreshState>();
  const resumable = checkpoint && started - Date.parse(checkpoint.snapshotAt) < CHECKPOINT_MAX_AGE_MS;
  const snapshotAt = resumable ? checkpoint.snapshotAt : new Date(started).toISOString();
  const state: RefreshState = resumable
    ? checkpoint.state
    : {
        phase: 'target-groups',
        parts: 0,
        scan: emptyScanStats(),
        groups: emptyGroupStats(),
        instances: 0,
        targets: 0,
      };
  state.parts++;
  const entries = new Map<string, IndexEntry>();
  let healthStates = new Map<string, IndexedTarget[]>();
  const groupMembers = new Map<string, string[]>();
  let complete = false;
  try {
    if (state.phase === 'target-groups') {
      const scanned = await scanTargetRegistrations(
        { elbv2: deps.elbv2, ec2: deps.ec2, callsPerSecond: deps.callsPerSecond, log: deps.log, ...(deps.now ? { now } : {}) },
        { ...(state.position ? { from: state.position } : {}), shouldStop },
      );
      healthStates = scanned.byInstance;
      for (const [id, targets] of scanned.byInstance) entries.set(id, { targets });
      addStats(state.scan, scanned.stats);
      if (scanned.next) {
        state.position = scanned.next;
      } else {
        state.phase = 'auto-scaling-groups';
        delete state.position;
      }
    }
    if (state.phase === 'auto-scaling-groups' && !shouldStop()) {
      const groups = await scanAutoScalingGroups(
        { autoScaling: deps.autoScaling, callsPerSecond: deps.callsPerSecond, ...(deps.now ? { now } : {}) },
        { ...(state.groupToken ? { from: state.groupToken } : {}), shouldStop },
      );
      for (const [id, group] of groups.byInstance) {
        entries.set(id, { targets: entries.get(id)?.targets ?? [], group });
        groupMembers.set(group.groupName, [...(groupMembers.get(group.groupName) ?? []), id]);
      }
      addStats(state.groups, groups.stats);
      state.groupToken = groups.nextToken;
      complete = !groups.nextToken;
    }
    await deps.index.writePart(entries, snapshotAt);
    for (const entry of entries.values()) {
      state.instances++;
      state.targets += entry.targets.length;
    }
    if (complete) {
      // Instances spread over several parts are counted once per part: an upper bound then.
      await deps.index.completeSnapshot(snapshotAt, { instances: state.instances, targets: state.targets });
      // Only a complete snapshot counts as a refresh: the stale-index alarm watches this metric.
      deps.metrics?.indexRefreshed({ snapshotAt, completedAt: now() });
      await deps.index.clearCheckpoint();
    } else {
      await deps.index.writeCheckpoint(snapshotAt, withoutUndefinedState(state));
    }
    // Named before the health check, so that a replacement named now is judged healthy in the same refresh.
    const named = await nameReplacements(deps.store, groupMembers, snapshotAt, deps.log);
    const verification = await verifyReplacements(deps.store, healthStates, snapshotAt, deps.log);
    verification.replacementsNamed = named.replacementsNamed;
    verification.verificationErrors += named.verificationErrors;
    const summary: RefreshSummary = {
      ...state.scan,
      instances: state.instances,
      ...state.groups,
      ...verification,
      outcome: complete ? 'complete' : 'partial',
      snapshotAt,
      parts: state.parts,
      resumed: !!resumable,
      durationMs: now() - started,
    };
    deps.log.info(complete ? 'target index refreshed' : 'target index refresh checkpointed', { ...summary });
    return summary;
  } catch (err) {
    deps.log.error('target index refresh failed', { snapshotAt, durationMs: now() - started, error: errorInfo(err) });
    throw err;
  }
}

function emptyGroupStats(): GroupScanStats {
  return { autoScalingGroups: 0, groupInstances: 0, autoScalingCalls: 0 };
}

/** The state as DynamoDB can store it: the document client refuses undefined attributes. */
function withoutUndefinedState(state: RefreshState): RefreshState {
  return JSON.parse(JSON.stringify(state)) as RefreshState;
}

function addStats<T extends object>(into: T, more: T): void {
  for (const [key, value] of Object.entries(more)) {
    const k = key as keyof T;
    (into[k] as unknown as number) = ((into[k] as unknown as number) ?? 0) + (value as number);
  }
}

/**
 * Time-to-healthy from the scan the index is built from: no ELBv2 call of its own. The
 * candidates are the instances of this part whose every registration is healthy; one BatchGet
 * per 100 of them finds those that are a replacement we recorded and not yet seen healthy.
 * Precision is the refresh interval: the milestone is stamped with this refresh's snapshot time
 * (when its scan started), and the replacement turned healthy at some point since the previous
 * refresh looked (up to one interval earlier, more if a refresh failed or took several parts).
 * In a refresh of several parts, an instance is judged on the registrations of this part only.
 */
async function verifyReplacements(
  store: IndexRefresherDeps['store'],
  byInstance: Map<string, IndexedTarget[]>,
  snapshotAt: string,
  log: Log,
): Promise<VerificationStats> {
  const stats: VerificationStats = { replacementsNamed: 0, replacementsVerified: 0, verificationErrors: 0 };
  const healthy = healthyEverywhere(byInstance);
  if (healthy.size === 0) return stats;
  let pointers: Map<string, InstancePointer>;
  try {
    pointers = await store.instancePointers([...healthy.keys()]);
  } catch (err) {
    stats.verificationErrors++;
    log.error('replacement verification failed: pointers unread', {
      snapshotAt,
      candidates: healthy.size,
      error: errorInfo(err),
    });
    return stats;
  }
  for (const [instanceId, pointer] of pointers) {
    if (pointer.role !== 'replacement' || pointer.healthyAt) continue;
    const groups = healthy.get(instanceId) ?? [];
    try {
      const appended = await store.appendTimeline(instanceId, (current) => healthyMilestone(current, groups, snapshotAt));
      if (!appended) continue;
      stats.replacementsVerified++;
      log.info('replacement healthy', { instanceId, eventId: appended.eventId, at: snapshotAt, targetGroups: groups });
    } catch (err) {
      stats.verificationErrors++;
      log.error('replacement verification failed', { instanceId, eventId: pointer.eventId, error: errorInfo(err) });
    }
  }
  return stats;
}

/**
 * The fallback for replacements whose state change never named them (lost, failed past its
 * retries, or an emulator whose rules invoke nothing): per group with a response waiting, the
 * members this refresh read that the group's waits do not know become the replacements of the
 * earliest waits, stamped with the snapshot's time. One GetItem of REPLACING, one GetItem per
 * waiting group, one assignment per new member until no wait is left. A failure is counted and
 * logged (per group: the other groups are still named); the next refresh tries again.
 */
async function nameReplacements(
  store: IndexRefresherDeps['store'],
  groupMembers: Map<string, string[]>,
  snapshotAt: string,
  log: Log,
): Promise<Pick<VerificationStats, 'replacementsNamed' | 'verificationErrors'>> {
  const stats = { replacementsNamed: 0, verificationErrors: 0 };
  if (groupMembers.size === 0) return stats;
  let waiting: Set<string>;
  try {
    waiting = await store.groupsAwaitingReplacement();
  } catch (err) {
    stats.verificationErrors++;
    log.error('naming replacements failed', { snapshotAt, error: errorInfo(err) });
    return stats;
  }
  for (const groupName of [...waiting].filter((g) => groupMembers.has(g)).sort()) {
    // Per group: one group's failure (its earliest wait's record busy with a retry, throttling)
    // must not leave the other groups' replacements unnamed until a later refresh.
    try {
      const members = [...(groupMembers.get(groupName) ?? [])].sort();
      for (const instanceId of await store.unknownMembers(groupName, members)) {
        const assigned = await store.assignReplacement(groupName, instanceId, snapshotAt);
        if (!assigned) break;
        stats.replacementsNamed++;
        log.info('replacement named by the index refresh', { instanceId, groupName, eventId: assigned.eventId, at: snapshotAt });
      }
    } catch (err) {
      stats.verificationErrors++;
      log.error('naming replacements failed', { snapshotAt, groupName, error: errorInfo(err) });
    }
  }
  return stats;
}

/**
 * Instances all of whose registrations in the snapshot are healthy, with the names of their
 * target groups. A registration still `initial` (health checks not yet passed), `unhealthy` or
 * `unused` keeps the instance out; draining ones are not in the snapshot at all.
 */
function healthyEverywhere(byInstance: Map<string, IndexedTarget[]>): Map<string, string[]> {
  const healthy = new Map<string, string[]>();
  for (const [instanceId, targets] of byInstance) {
    if (targets.length === 0 || !targets.every((t) => t.state === 'healthy')) continue;
    healthy.set(instanceId, [...new Set(targets.map((t) => targetGroupName(t.targetGroupArn)))].sort());
  }
  return healthy;
}

/** arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>; names are unique per region. */
function targetGroupName(arn: string): string {
  return /:targetgroup\/([^/]+)\//.exec(arn)?.[1] ?? arn;
}

/** Null unless the pointer (read again by appendTimeline) still names an unverified replacement. */
function healthyMilestone(pointer: InstancePointer, groups: string[], snapshotAt: string): TimelineAddition | null {
  if (pointer.role !== 'replacement' || pointer.healthyAt) return null;
  const signalMs = pointer.signalTime ? Date.parse(pointer.signalTime) : Number.NaN;
  return {
    entry: { event: 'replacement-healthy', at: snapshotAt, detail: `healthy in ${groups.join(', ')}` },
    // Counts from the signal the response acted on, as replacement.msFromSignal does.
    ...(Number.isNaN(signalMs) ? {} : { msToHealthy: Date.parse(snapshotAt) - signalMs }),
    healthyAt: snapshotAt,
  };
}
