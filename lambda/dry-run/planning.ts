// The dry run's adapters: the real ones for every read, stand-ins for every write. A stand-in
// sends nothing; it puts the call the real adapter would make into the plan (for the fleet,
// with the very input the real adapter builds) and answers 'planned'. The store reads the claim
// keys and answers as the real store would, so an event that was already handled shows as the
// duplicate it would be.
import { DETACH_INSTANCES_LIMIT, detachInstancesInput, terminateInstanceInput } from '../aws/auto-scaling';
import { chunk } from '../aws/batching';
import type { AwsClients } from '../aws/clients';
import { DRAIN_LIMIT, drainingInput } from '../aws/ecs';
import { DEREGISTER_TARGETS_LIMIT, deregisterTargetsInput } from '../aws/load-balancing';
import type { AsgFacts, AsgMembership, ContainerInstanceRef, ResponseRecord } from '../core/model';
import type {
  AutoScalingPort,
  CallOptions,
  DeregisterResult,
  DeregisterTarget,
  DetachResult,
  EcsPort,
  ItemResult,
  LoadBalancingPort,
} from '../core/ports';
import type { Log } from '../log';
import type { ResponderDeps } from '../response/deps';
import { createResponderDeps, type ResponderSettings } from '../wiring';
import { PlanJournal, SERVICE, guardClients, type PlanStep } from './guard';
import { LiveTargetLookup, liveLookupNote } from './live-targets';
import { ReadOnlyEventStore } from './read-only-store';

export interface DryRun {
  /** What respond() needs: guarded clients under the real readers, stand-ins for every write. */
  deps: ResponderDeps;
  /** The guarded clients the readers use: reads only, each one journaled. */
  clients: AwsClients;
  /** The calls so far: reads made and writes planned, in order. */
  plan(): PlanStep[];
  /** Notes for the record: what the dry run did differently from the real response. */
  notes(): string[];
}

export interface DryRunMode {
  /**
   * There is no target index to read (no table: the stack is not deployed): find the
   * instance's registrations by reading ELBv2 live (LiveTargetLookup), at this many ELBv2
   * describe calls per second.
   */
  liveTargets?: { describeCallsPerSecond: number };
}

/** One dry run (one event): a fresh plan over the same clients. */
export function createDryRun(
  clients: AwsClients,
  settings: ResponderSettings,
  log: Log,
  now?: () => number,
  mode: DryRunMode = {},
): DryRun {
  const journal = new PlanJournal();
  const readOnly = guardClients(clients, journal);
  const real = createResponderDeps(readOnly, settings, log, now);
  const live = mode.liveTargets
    ? new LiveTargetLookup({
        elbv2: readOnly.elbv2,
        ec2: readOnly.ec2,
        describeCallsPerSecond: mode.liveTargets.describeCallsPerSecond,
        ...(now ? { now } : {}),
      })
    : undefined;
  return {
    clients: readOnly,
    notes: () => (live && live.stats.describeInstancesCalls > 0 ? [liveLookupNote(live.stats)] : []),
    deps: {
      ...real,
      ...(live ? { targetIndex: live } : {}),
      autoScaling: new PlannedAutoScaling(real.autoScaling, journal),
      loadBalancing: new PlannedLoadBalancing(journal),
      ...(real.ecs ? { ecs: new PlannedEcs(real.ecs, journal) } : {}),
      store: new ReadOnlyEventStore({
        client: readOnly.dynamo,
        tableName: settings.tableName,
        journal,
        ...(now ? { now: () => new Date(now()) } : {}),
      }),
    },
    plan: () => journal.steps,
  };
}

/** After a detach or terminate the real response verifies the replacement; a dry run has none to see. */
const VERIFICATION_NOTE =
  'dry run: after acting, the real response also looks for the replacement in the group ' +
  '(DescribeAutoScalingGroups, up to 3 times); not done here';

/** The record as a dry run reports it. */
export function dryRunRecord(record: ResponseRecord): ResponseRecord {
  const replaces = record.actions.some(
    (a) => (a.action === 'detach' || a.action === 'terminate-in-group') && a.result === 'planned',
  );
  return { ...record, dryRun: true, ...(replaces ? { notes: [...(record.notes ?? []), VERIFICATION_NOTE] } : {}) };
}

/** Every item of a planned call: answered 'planned', nothing sent. */
function planned<T extends string>(count: number, value: T): Array<ItemResult<T>> {
  return Array.from({ length: count }, () => ({ ok: true as const, value }));
}

class PlannedLoadBalancing implements LoadBalancingPort {
  constructor(private readonly journal: PlanJournal) {}

  /** One planned DeregisterTargets per chunk, exactly as the real adapter would send them. */
  async deregister(targetGroupArn: string, targets: readonly DeregisterTarget[]): Promise<Array<ItemResult<DeregisterResult>>> {
    for (const run of chunk(targets, DEREGISTER_TARGETS_LIMIT)) {
      this.journal.write(SERVICE.elbv2, 'DeregisterTargets', deregisterTargetsInput(targetGroupArn, run));
    }
    return planned(targets.length, 'planned');
  }
}

class PlannedAutoScaling implements AutoScalingPort {
  constructor(
    private readonly reads: AutoScalingPort,
    private readonly journal: PlanJournal,
  ) {}

  describeMemberships(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<AsgMembership | null>>> {
    return this.reads.describeMemberships(instanceIds, opts);
  }

  groupInstanceIds(groupName: string, opts?: CallOptions): Promise<string[] | null> {
    return this.reads.groupInstanceIds(groupName, opts);
  }

  describeGroups(groupNames: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<AsgFacts | null>>> {
    return this.reads.describeGroups(groupNames, opts);
  }

  /** One planned DetachInstances per 20 instances; the split on refusal cannot be foreseen. */
  async detachWithReplacement(groupName: string, instanceIds: readonly string[]): Promise<Map<string, ItemResult<DetachResult>>> {
    const ids = [...new Set(instanceIds)];
    for (const run of chunk(ids, DETACH_INSTANCES_LIMIT)) {
      this.journal.write(SERVICE.autoScaling, 'DetachInstances', detachInstancesInput(groupName, run));
    }
    return new Map(ids.map((id) => [id, { ok: true, value: 'planned' }]));
  }

  async terminateWithReplacement(instanceId: string): Promise<DetachResult> {
    this.journal.write(SERVICE.autoScaling, 'TerminateInstanceInAutoScalingGroup', terminateInstanceInput(instanceId));
    return 'planned';
  }
}

class PlannedEcs implements EcsPort {
  constructor(
    private readonly reads: EcsPort,
    private readonly journal: PlanJournal,
  ) {}

  findContainerInstances(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<ContainerInstanceRef | null>>> {
    return this.reads.findContainerInstances(instanceIds, opts);
  }

  /** One planned UpdateContainerInstancesState per 10 container instances. */
  async drain(cluster: string, containerInstanceArns: readonly string[]): Promise<Array<ItemResult<'planned'>>> {
    for (const run of chunk(containerInstanceArns, DRAIN_LIMIT)) {
      this.journal.write(SERVICE.ecs, 'UpdateContainerInstancesState', drainingInput(cluster, run));
    }
    return planned(containerInstanceArns.length, 'planned');
  }
}
