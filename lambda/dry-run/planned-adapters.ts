// Stand-ins for every mutating port method: they send nothing, hand the call the real adapter
// would make (chunked at the API's limits, with the very input the real adapter builds) to a
// PlanSink, and answer 'planned'. Reads go to the real adapters. Two users: the dry run (the sink
// is its journal, printed as the plan) and observe mode (lambda/wiring.ts: the sink logs each
// call that was not sent, and the record's actions say 'planned').
import { DETACH_INSTANCES_LIMIT, detachInstancesInput, terminateInstanceInput } from '../aws/auto-scaling';
import { chunk } from '../aws/batching';
import { DRAIN_LIMIT, drainingInput } from '../aws/ecs';
import { sendCommandInput } from '../aws/ssm';
import { SEND_COMMAND_INSTANCE_LIMIT } from '../core/shutdown';
import { DEREGISTER_TARGETS_LIMIT, deregisterTargetsInput } from '../aws/load-balancing';
import type { AsgFacts, AsgMembership, ContainerInstanceRef } from '../core/model';
import type {
  AutoScalingPort,
  CallOptions,
  DeregisterResult,
  DeregisterTarget,
  DetachResult,
  EcsPort,
  ItemResult,
  LoadBalancingPort,
  ShutdownPort,
  ShutdownSendResult,
} from '../core/ports';
import { SERVICE } from './guard';

/** Where a stand-in puts each call it did not send: the dry run's PlanJournal, or observe mode's log. */
export interface PlanSink {
  /** `service` as SERVICE names it (elbv2, autoscaling, ecs), `command` the API operation, `input` its exact input. */
  write(service: string, command: string, input: unknown): unknown;
}

/** Every item of a planned call: answered 'planned', nothing sent. */
function planned<T extends string>(count: number, value: T): Array<ItemResult<T>> {
  return Array.from({ length: count }, () => ({ ok: true as const, value }));
}

/** DeregisterTargets, planned. */
export class PlannedLoadBalancing implements LoadBalancingPort {
  constructor(private readonly sink: PlanSink) {}

  /** One planned DeregisterTargets per chunk, exactly as the real adapter would send them. */
  async deregister(targetGroupArn: string, targets: readonly DeregisterTarget[]): Promise<Array<ItemResult<DeregisterResult>>> {
    for (const run of chunk(targets, DEREGISTER_TARGETS_LIMIT)) {
      this.sink.write(SERVICE.elbv2, 'DeregisterTargets', deregisterTargetsInput(targetGroupArn, run));
    }
    return planned(targets.length, 'planned');
  }
}

/** DetachInstances and TerminateInstanceInAutoScalingGroup planned; the describes are the real adapter's. */
export class PlannedAutoScaling implements AutoScalingPort {
  constructor(
    private readonly reads: AutoScalingPort,
    private readonly sink: PlanSink,
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
      this.sink.write(SERVICE.autoScaling, 'DetachInstances', detachInstancesInput(groupName, run));
    }
    return new Map(ids.map((id) => [id, { ok: true, value: 'planned' }]));
  }

  async terminateWithReplacement(instanceId: string): Promise<DetachResult> {
    this.sink.write(SERVICE.autoScaling, 'TerminateInstanceInAutoScalingGroup', terminateInstanceInput(instanceId));
    return 'planned';
  }
}

/** UpdateContainerInstancesState planned; finding container instances is the real adapter's. */
export class PlannedEcs implements EcsPort {
  constructor(
    private readonly reads: EcsPort,
    private readonly sink: PlanSink,
  ) {}

  findContainerInstances(instanceIds: readonly string[], opts?: CallOptions): Promise<Map<string, ItemResult<ContainerInstanceRef | null>>> {
    return this.reads.findContainerInstances(instanceIds, opts);
  }

  /** One planned UpdateContainerInstancesState per 10 container instances. */
  async drain(cluster: string, containerInstanceArns: readonly string[]): Promise<Array<ItemResult<'planned'>>> {
    for (const run of chunk(containerInstanceArns, DRAIN_LIMIT)) {
      this.sink.write(SERVICE.ecs, 'UpdateContainerInstancesState', drainingInput(cluster, run));
    }
    return planned(containerInstanceArns.length, 'planned');
  }
}

/** SendCommand of the graceful-shutdown document, planned: what it would send, nothing sent. */
export class PlannedShutdown implements ShutdownPort {
  constructor(private readonly sink: PlanSink) {}

  /** One planned SendCommand per 50 instances; which of them SSM would refuse cannot be foreseen. */
  async sendShutdown(
    documentName: string,
    instanceIds: readonly string[],
    parameters: Record<string, string[]>,
  ): Promise<Map<string, ItemResult<ShutdownSendResult>>> {
    const ids = [...new Set(instanceIds)];
    for (const run of chunk(ids, SEND_COMMAND_INSTANCE_LIMIT)) {
      this.sink.write(SERVICE.ssm, 'SendCommand', sendCommandInput(documentName, run, parameters));
    }
    return new Map(ids.map((id) => [id, { ok: true, value: { status: 'planned' } }]));
  }
}
