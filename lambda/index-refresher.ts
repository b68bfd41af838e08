// The scheduled refresh (its Lambda entry is index-refresher-handler.ts): rebuild the target
// index (see aws/target-index.ts), then record which replacements have become healthy. Thin on purpose: the walk is in aws/target-scan.ts, the
// write in aws/target-index.ts. A failure of the scan or the write throws, so the invocation
// counts as an error and the refresher's alarm fires; the index keeps the previous complete
// snapshot meanwhile. The verification of replacements never fails a refresh: the index is
// what warnings depend on, and a replacement missed now is seen by the next refresh.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { IndexedTarget } from './core/model';
import type { EventStorePort, InstancePointer, TargetSnapshotPort, TimelineAddition } from './core/ports';
import { errorInfo } from './aws/clients';
import { scanTargetRegistrations, type ScanStats } from './aws/target-scan';
import type { Log } from './log';
import type { MetricsSink } from './response/metrics';

export interface IndexRefresherDeps {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  index: TargetSnapshotPort;
  /** Where replacements found healthy are recorded: their pointers and their records' timelines. */
  store: Pick<EventStorePort, 'instancePointers' | 'appendTimeline'>;
  callsPerSecond: number;
  log: Log;
  now?: () => number;
  /** Told of every snapshot written (IndexRefreshes, IndexAge); none: no metrics. */
  metrics?: MetricsSink;
}

export interface VerificationStats {
  /** Replacements this refresh first saw healthy in all their target groups (replacement-healthy added). */
  replacementsVerified: number;
  /** Failed pointer reads or record updates, logged; the next refresh tries again. */
  verificationErrors: number;
}

export interface RefreshSummary extends ScanStats, VerificationStats {
  snapshotAt: string;
  durationMs: number;
}

export function makeIndexRefresher(deps: IndexRefresherDeps): () => Promise<RefreshSummary> {
  const now = deps.now ?? Date.now;
  return async () => {
    const started = now();
    const snapshotAt = new Date(started).toISOString();
    let scanned: Awaited<ReturnType<typeof scanTargetRegistrations>>;
    try {
      scanned = await scanTargetRegistrations({
        elbv2: deps.elbv2,
        ec2: deps.ec2,
        callsPerSecond: deps.callsPerSecond,
        log: deps.log,
      });
      await deps.index.writeSnapshot(scanned.byInstance, snapshotAt);
      deps.metrics?.indexRefreshed({ snapshotAt, completedAt: now() });
    } catch (err) {
      deps.log.error('target index refresh failed', { snapshotAt, durationMs: now() - started, error: errorInfo(err) });
      throw err;
    }
    const verification = await verifyReplacements(deps.store, scanned.byInstance, snapshotAt, deps.log);
    const summary: RefreshSummary = { ...scanned.stats, ...verification, snapshotAt, durationMs: now() - started };
    deps.log.info('target index refreshed', { ...summary });
    return summary;
  };
}

/**
 * Time-to-healthy from the scan the index is built from: no ELBv2 call of its own. The
 * candidates are the snapshot's instances whose every registration is healthy; one BatchGet
 * per 100 of them finds those that are a replacement we recorded and not yet seen healthy.
 * Precision is the refresh interval: the milestone is stamped with this refresh's snapshot time
 * (when its scan started), and the replacement turned healthy at some point since the previous
 * refresh looked (up to one interval earlier, more if a refresh failed; or, in a long scan, a
 * few seconds after the stamp).
 */
async function verifyReplacements(
  store: IndexRefresherDeps['store'],
  byInstance: Map<string, IndexedTarget[]>,
  snapshotAt: string,
  log: Log,
): Promise<VerificationStats> {
  const stats: VerificationStats = { replacementsVerified: 0, verificationErrors: 0 };
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
