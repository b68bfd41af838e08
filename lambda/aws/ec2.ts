// EC2: what the instances look like right now. Their current private IPs matter because IP
// targets are matched against them: an IP the index remembers may belong to another instance.
import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import type { InstanceFacts } from '../core/model';
import type { CallOptions, Ec2Port, ItemResult } from '../core/ports';
import { settleByKey } from './batching';

/**
 * Ids per DescribeInstances. The API reference gives no maximum for InstanceIds; 200 is EC2's
 * documented limit for the values of one filter ("The maximum number of filter values specified
 * on a single call is 200"), a size EC2 is known to accept, and keeps one answer small.
 */
export const DESCRIBE_INSTANCES_LIMIT = 200;

/**
 * NotFound: EC2 has never heard of an id, or the instance is long gone (terminated instances
 * stay visible for about an hour). Malformed: an id cannot be an instance id at all. Either
 * fails the whole call, naming the ids in a message we do not parse: a call of several ids is
 * asked again one id at a time, and alone the error means "unknown" (null), an answer for its
 * event and not a failure of the others.
 */
const UNKNOWN_INSTANCE_ERRORS = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

export class Ec2Adapter implements Ec2Port {
  constructor(private readonly ec2: EC2Client) {}

  /**
   * One DescribeInstances (paged) per 200 ids, all at once.
   * Absent from the answer: EC2 does not know the instance (value null); terminated instances
   * stay visible for about an hour and come back with state 'terminated'.
   */
  async describeInstances(instanceIds: readonly string[], opts: CallOptions = {}): Promise<Map<string, ItemResult<InstanceFacts | null>>> {
    return settleByKey<InstanceFacts | null>(instanceIds, DESCRIBE_INSTANCES_LIMIT, (ids) => this.describe(ids, opts), null);
  }

  private async describe(ids: string[], opts: CallOptions): Promise<Map<string, InstanceFacts | null>> {
    const found = new Map<string, InstanceFacts | null>();
    try {
      // By hand rather than paginateDescribeInstances: the SDK's paginators do not pass the
      // per-call abort signal on, and no page may outlive the deadline.
      let nextToken: string | undefined;
      do {
        const page = await this.ec2.send(describeInstancesCommand(ids, nextToken), opts);
        for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
          if (instance.InstanceId && ids.includes(instance.InstanceId)) found.set(instance.InstanceId, instanceFacts(instance.InstanceId, instance));
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (err) {
      if (!(err instanceof Error && UNKNOWN_INSTANCE_ERRORS.has(err.name))) throw err;
      if (ids.length === 1) return found;
      const alone = await Promise.all(ids.map((id) => this.describe([id], opts)));
      return new Map(alone.flatMap((m) => [...m]));
    }
    return found;
  }
}

/** The command the adapter sends for `ids` (one page). */
export function describeInstancesCommand(ids: string[], nextToken?: string): DescribeInstancesCommand {
  return new DescribeInstancesCommand({ InstanceIds: ids, ...(nextToken ? { NextToken: nextToken } : {}) });
}

function instanceFacts(instanceId: string, instance: Instance): InstanceFacts {
  return {
    instanceId,
    state: instance.State?.Name ?? 'unknown',
    privateIpAddresses: privateIps(instance),
    tags: Object.fromEntries(
      (instance.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']),
    ),
    ...(instance.InstanceType ? { instanceType: instance.InstanceType } : {}),
    ...(instance.Placement?.AvailabilityZone ? { availabilityZone: instance.Placement.AvailabilityZone } : {}),
  };
}

/** Every private IPv4 on every interface, primary first, each once. */
function privateIps(instance: Instance): string[] {
  const ips = new Set<string>();
  if (instance.PrivateIpAddress) ips.add(instance.PrivateIpAddress);
  const interfaces = [...(instance.NetworkInterfaces ?? [])].sort(
    (a, b) => (a.Attachment?.DeviceIndex ?? 0) - (b.Attachment?.DeviceIndex ?? 0),
  );
  for (const eni of interfaces) {
    if (eni.PrivateIpAddress) ips.add(eni.PrivateIpAddress);
    for (const address of eni.PrivateIpAddresses ?? []) {
      if (address.PrivateIpAddress) ips.add(address.PrivateIpAddress);
    }
  }
  return [...ips];
}
