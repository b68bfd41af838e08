// EC2: what the instance looks like right now. Its current private IPs matter because IP
// targets are matched against them: an IP the index remembers may belong to another instance.
import { DescribeInstancesCommand, type EC2Client, type Instance } from '@aws-sdk/client-ec2';
import type { InstanceFacts } from '../core/model';
import type { CallOptions, Ec2Port } from '../core/ports';

/**
 * NotFound: EC2 has never heard of the id, or the instance is long gone (terminated instances
 * stay visible for about an hour). Malformed: the id cannot be an instance id at all. Either
 * way there is nothing to act on, which is an answer, not a failure.
 */
const UNKNOWN_INSTANCE_ERRORS = new Set(['InvalidInstanceID.NotFound', 'InvalidInstanceID.Malformed']);

export class Ec2Adapter implements Ec2Port {
  constructor(private readonly ec2: EC2Client) {}

  async describeInstance(instanceId: string, opts: CallOptions = {}): Promise<InstanceFacts | null> {
    let instance: Instance | undefined;
    try {
      const out = await this.ec2.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), opts);
      instance = (out.Reservations ?? [])
        .flatMap((r) => r.Instances ?? [])
        .find((i) => i.InstanceId === instanceId);
    } catch (err) {
      if (err instanceof Error && UNKNOWN_INSTANCE_ERRORS.has(err.name)) return null;
      throw err;
    }
    if (!instance) return null;
    return {
      instanceId,
      state: instance.State?.Name ?? 'unknown',
      privateIpAddresses: privateIps(instance),
      tags: Object.fromEntries(
        (instance.Tags ?? []).filter((t) => t.Key !== undefined).map((t) => [t.Key as string, t.Value ?? '']),
      ),
    };
  }
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
