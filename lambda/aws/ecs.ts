// ECS on EC2: the container instance an EC2 instance runs as, and the DRAINING that makes ECS
// move its tasks elsewhere before the instance goes. This is what the ECS agent does itself
// when ECS_ENABLE_SPOT_INSTANCE_DRAINING=true; the responder does it for clusters without it.
import {
  DescribeContainerInstancesCommand,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
  type ECSClient,
  type UpdateContainerInstancesStateCommandInput,
} from '@aws-sdk/client-ecs';
import type { ContainerInstanceRef } from '../core/model';
import type { CallOptions, EcsPort } from '../core/ports';

/** A configured cluster that does not exist (deleted, or a typo): it holds no instance. */
const CLUSTER_NOT_FOUND = 'ClusterNotFoundException';

/** The failure reason ECS gives for a container instance it does not know (deregistered). */
const MISSING = 'MISSING';

/** UpdateContainerInstancesState answered with a failure other than MISSING. */
export class EcsDrainError extends Error {
  override name = 'EcsDrainError';
  constructor(
    readonly containerInstanceArn: string,
    readonly reason: string,
    readonly detail?: string,
  ) {
    super(`could not set ${containerInstanceArn} to DRAINING: ${reason}${detail ? ` (${detail})` : ''}`);
  }
}

/** What `drain` sends; the dry run plans the same input. */
export function drainingInput(ref: ContainerInstanceRef): UpdateContainerInstancesStateCommandInput {
  return { cluster: ref.cluster, containerInstances: [ref.containerInstanceArn], status: 'DRAINING' };
}

export class EcsAdapter implements EcsPort {
  private readonly clusters: string[];

  constructor(
    private readonly ecs: ECSClient,
    clusters: string[],
  ) {
    this.clusters = [...new Set(clusters)];
  }

  /**
   * Asks every configured cluster at once: one filtered List and at most one Describe each.
   * An EC2 instance is registered in one cluster at most, so a match is the answer even when
   * another cluster's call failed; without a match such a failure is rethrown, because "not
   * a container instance" would then be a guess.
   */
  async findContainerInstance(instanceId: string, opts: CallOptions = {}): Promise<ContainerInstanceRef | null> {
    const searches = await Promise.allSettled(this.clusters.map((cluster) => this.findIn(cluster, instanceId, opts)));
    for (const search of searches) {
      if (search.status === 'fulfilled' && search.value) return search.value;
    }
    const failed = searches.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (failed) throw failed.reason;
    return null;
  }

  /**
   * UpdateContainerInstancesState to DRAINING, sent as asked: whether an instance already
   * DRAINING needs the call is the plan's decision (core/response-plan.ts).
   */
  async drain(ref: ContainerInstanceRef, opts: CallOptions = {}): Promise<'ok' | 'not-found'> {
    let failures;
    try {
      ({ failures } = await this.ecs.send(new UpdateContainerInstancesStateCommand(drainingInput(ref)), opts));
    } catch (err) {
      // The cluster was deleted since we found the instance in it: the instance went with it.
      if (err instanceof Error && err.name === CLUSTER_NOT_FOUND) return 'not-found';
      throw err;
    }
    const failure = failures?.[0];
    if (!failure) return 'ok';
    if (failure.reason === MISSING) return 'not-found';
    throw new EcsDrainError(ref.containerInstanceArn, failure.reason ?? 'unknown reason', failure.detail);
  }

  private async findIn(cluster: string, instanceId: string, opts: CallOptions): Promise<ContainerInstanceRef | null> {
    try {
      // Without `status` ECS lists ACTIVE and DRAINING instances: the ones worth draining or
      // already draining. The filter leaves one ARN at most; an emulator may ignore it.
      const listed = await this.ecs.send(
        new ListContainerInstancesCommand({ cluster, filter: `ec2InstanceId == ${instanceId}` }),
        opts,
      );
      const arns = listed.containerInstanceArns ?? [];
      if (arns.length === 0) return null;
      const described = await this.ecs.send(
        new DescribeContainerInstancesCommand({ cluster, containerInstances: arns }),
        opts,
      );
      // Compare for real rather than trust the filter; an ARN that vanished since the List
      // comes back under `failures` and is simply not found.
      const match = (described.containerInstances ?? []).find((ci) => ci.ec2InstanceId === instanceId);
      if (!match?.containerInstanceArn) return null;
      return { cluster, containerInstanceArn: match.containerInstanceArn, status: match.status ?? 'UNKNOWN' };
    } catch (err) {
      if (err instanceof Error && err.name === CLUSTER_NOT_FOUND) return null;
      throw err;
    }
  }
}
