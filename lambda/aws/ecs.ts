// ECS on EC2: the container instances EC2 instances run as, and the DRAINING that makes ECS
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
import type { CallOptions, DrainResult, EcsPort, ItemResult } from '../core/ports';
import { chunk, settleByKey } from './batching';

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

/** UpdateContainerInstancesState: "containerInstances ... up to 10" per call (API reference). */
export const DRAIN_LIMIT = 10;
/** DescribeContainerInstances: "up to 100 container instances" per call (API reference). */
export const DESCRIBE_CONTAINER_INSTANCES_LIMIT = 100;
/** Instance ids per ListContainerInstances filter: keeps the query expression short (about 25 characters an id). */
export const LIST_FILTER_IDS = 40;

/** What `drain` sends for one chunk; the dry run plans the same input. */
export function drainingInput(cluster: string, containerInstanceArns: readonly string[]): UpdateContainerInstancesStateCommandInput {
  return { cluster, containerInstances: [...containerInstanceArns], status: 'DRAINING' };
}

/** The cluster query for these instances: `==` for one, `in [...]` for several. */
export function instanceFilter(instanceIds: readonly string[]): string {
  return instanceIds.length === 1
    ? `ec2InstanceId == ${instanceIds[0]}`
    : `ec2InstanceId in [${instanceIds.map((id) => `'${id}'`).join(', ')}]`;
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
   * Asks every configured cluster at once: one filtered List per 40 instances and one Describe
   * per 100 container instances. An EC2 instance is registered in one cluster at most, so a
   * match is the answer even when another cluster's call failed; without a match such a
   * failure is the instance's answer, because "not a container instance" would be a guess.
   */
  async findContainerInstances(
    instanceIds: readonly string[],
    opts: CallOptions = {},
  ): Promise<Map<string, ItemResult<ContainerInstanceRef | null>>> {
    const searches = await Promise.all(
      this.clusters.map((cluster) => settleByKey(instanceIds, LIST_FILTER_IDS, (ids) => this.findIn(cluster, ids, opts), null)),
    );
    return new Map(
      [...new Set(instanceIds)].map((id): [string, ItemResult<ContainerInstanceRef | null>] => {
        const answers = searches.map((s) => s.get(id) as ItemResult<ContainerInstanceRef | null>);
        const match = answers.find((a) => a.ok && a.value);
        if (match) return [id, match];
        return [id, answers.find((a) => !a.ok) ?? { ok: true, value: null }];
      }),
    );
  }

  /**
   * UpdateContainerInstancesState to DRAINING in chunks of 10, sent as asked: whether an
   * instance already DRAINING needs the call is the plan's decision (core/response-plan.ts).
   * Per container instance: a MISSING failure is 'not-found', any other failure an
   * EcsDrainError; a deleted cluster took its instances with it ('not-found' for all).
   */
  async drain(cluster: string, containerInstanceArns: readonly string[], opts: CallOptions = {}): Promise<Array<ItemResult<DrainResult>>> {
    const runs = await Promise.all(
      chunk(containerInstanceArns, DRAIN_LIMIT).map(async (arns): Promise<Array<ItemResult<DrainResult>>> => {
        let failures;
        try {
          ({ failures } = await this.ecs.send(new UpdateContainerInstancesStateCommand(drainingInput(cluster, arns)), opts));
        } catch (error) {
          if (error instanceof Error && error.name === CLUSTER_NOT_FOUND) return arns.map(() => ({ ok: true, value: 'not-found' }));
          return arns.map(() => ({ ok: false, error }));
        }
        return arns.map((arn) => {
          // ECS names the failed resource by ARN, in the old (no cluster) or new format: match
          // on the container instance id; a failure without an ARN concerns the single one sent.
          const failure = (failures ?? []).find((f) => (f.arn ? lastSegment(f.arn) === lastSegment(arn) : arns.length === 1));
          if (!failure) return { ok: true, value: 'ok' };
          if (failure.reason === MISSING) return { ok: true, value: 'not-found' };
          return { ok: false, error: new EcsDrainError(arn, failure.reason ?? 'unknown reason', failure.detail) };
        });
      }),
    );
    return runs.flat();
  }

  private async findIn(cluster: string, instanceIds: string[], opts: CallOptions): Promise<Map<string, ContainerInstanceRef>> {
    const found = new Map<string, ContainerInstanceRef>();
    try {
      // Without `status` ECS lists ACTIVE and DRAINING instances: the ones worth draining or
      // already draining. An emulator may ignore the filter; the Describe below compares for real.
      const arns: string[] = [];
      let nextToken: string | undefined;
      do {
        const listed = await this.ecs.send(
          new ListContainerInstancesCommand({ cluster, filter: instanceFilter(instanceIds), ...(nextToken ? { nextToken } : {}) }),
          opts,
        );
        arns.push(...(listed.containerInstanceArns ?? []));
        nextToken = listed.nextToken;
      } while (nextToken);
      const wanted = new Set(instanceIds);
      // An ARN that vanished since the List comes back under `failures` and is simply not found.
      for (const run of chunk(arns, DESCRIBE_CONTAINER_INSTANCES_LIMIT)) {
        const described = await this.ecs.send(new DescribeContainerInstancesCommand({ cluster, containerInstances: run }), opts);
        for (const ci of described.containerInstances ?? []) {
          if (ci.ec2InstanceId && wanted.has(ci.ec2InstanceId) && ci.containerInstanceArn) {
            found.set(ci.ec2InstanceId, { cluster, containerInstanceArn: ci.containerInstanceArn, status: ci.status ?? 'UNKNOWN' });
          }
        }
      }
      return found;
    } catch (err) {
      if (err instanceof Error && err.name === CLUSTER_NOT_FOUND) return found;
      throw err;
    }
  }
}

/** The container instance id: the last segment of its ARN, whichever format. */
function lastSegment(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}
