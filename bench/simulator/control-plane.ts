// An in-process AWS control plane with just the calls the responder makes, for load beyond
// what moto can hold (moto fails at ~200 concurrent requests). moto stays the correctness
// emulator; this is a benchmark tool.
//
// Plugged in at the command layer, not as the HTTP requestHandler: a middleware at the start
// of the SDK's deserialize step answers from the command's input. Everything above it still
// runs for real (serializers, the retry strategy with its throttle classification, our pacing
// middleware, signing); only the wire format is skipped, because writing the XML of three Query
// protocols and the JSON of two others for every answer would cost more than the simulator.
// Throttles are thrown as the deserializer would have built them (name = AWS's error code,
// $metadata.httpStatusCode), which is all the SDK's retry classification reads.
import { Readable } from 'node:stream';
import type { HttpRequest, HttpResponse, Pluggable } from '@smithy/types';
import { SimulatedDynamo } from './dynamodb';
import { DOCUMENTED_BUCKETS, type ServerBuckets, type ServerFamily, SimulatedServiceError, Throttler } from './throttle';

export interface SimTarget {
  targetGroupArn: string;
  /** An instance id, or an IP for `ip` target groups. */
  id: string;
  port: number;
}

export interface SimInstance {
  instanceId: string;
  privateIp: string;
  autoScalingGroupName?: string;
  state: 'running' | 'terminated';
  lifecycleState?: 'InService' | 'Detached' | 'Terminating';
}

export interface SimGroup {
  name: string;
  targetGroupArns: string[];
  tags: { Key: string; Value: string }[];
  terminatingHook: boolean;
  desiredCapacity: number;
}

/** Latency in ms for one call of `family`: lognormal around a median, as real control planes look. */
export type LatencyModel = (family: ServerFamily) => number;

/** Medians: 30 ms for control-plane calls, 8 ms for DynamoDB; sigma 0.35 (p99 about 2.3x the median). */
export function lognormalLatency(
  medians: { controlPlaneMs: number; dynamoMs: number } = { controlPlaneMs: 30, dynamoMs: 8 },
  sigma = 0.35,
  random: () => number = Math.random,
): LatencyModel {
  return (family) => {
    const median = family === 'dynamodb' ? medians.dynamoMs : medians.controlPlaneMs;
    // Box-Muller: one standard normal from two uniforms.
    const z = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return median * Math.exp(sigma * z);
  };
}

export interface SimulatorOptions {
  buckets?: ServerBuckets;
  latency?: LatencyModel;
  /** How long after a detach or terminate-in-group Auto Scaling launches the replacement, ms. */
  replacementDelayMs?: number;
  now?: () => number;
}

/** One mutation as it took effect: for the benchmark's "traffic stopped at" figures. */
export interface SimEvent {
  at: number;
  action: 'deregistered' | 'detached' | 'terminated-in-group' | 'draining' | 'replacement-launched';
  id: string;
  targetGroupArn?: string;
}

export class ControlPlane {
  readonly instances = new Map<string, SimInstance>();
  readonly groups = new Map<string, SimGroup>();
  readonly targetGroups = new Map<string, { arn: string; name: string; targetType: 'instance' | 'ip'; port: number }>();
  /** Registered targets, keyed `${arn}|${id}|${port}`. */
  readonly targets = new Map<string, SimTarget>();
  /** ECS container instances: cluster -> ARN -> { ec2InstanceId, status }. */
  readonly containerInstances = new Map<string, Map<string, { ec2InstanceId: string; status: string }>>();
  readonly events: SimEvent[] = [];
  readonly calls: Record<string, number> = {};
  readonly throttler: Throttler;
  /** The tables (dynamodb.ts): create them with `dynamo.createTable` before the first call. */
  readonly dynamo = new SimulatedDynamo();
  private readonly latency: LatencyModel;
  private readonly replacementDelayMs: number;
  private readonly now: () => number;
  private launched = 0;

  constructor(opts: SimulatorOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.throttler = new Throttler(opts.buckets ?? DOCUMENTED_BUCKETS, this.now);
    this.latency = opts.latency ?? lognormalLatency();
    this.replacementDelayMs = opts.replacementDelayMs ?? 5_000;
  }

  /**
   * The plugin for one SDK client of `service`: answers every command at the deserialize step,
   * so the client's own retry strategy (above it) sees the simulator's throttles. Typed `any`
   * because one plugin serves four clients whose input/output unions differ.
   */
  plugin(service: 'ec2' | 'autoscaling' | 'elbv2' | 'ecs'): Pluggable<any, any> {
    return {
      applyToStack: (stack) => {
        stack.add(
          (_next, context) => async (args) => {
            const command = (context.commandName ?? '').replace(/Command$/, '');
            const output = await this.call(service, command, args.input as Record<string, unknown>);
            return { output: { $metadata: { httpStatusCode: 200 }, ...output }, response: {} };
          },
          { step: 'deserialize', priority: 'high', name: 'waveSimulator', override: true },
        );
      },
    };
  }

  /**
   * DynamoDB's HTTP handler: give it to the DynamoDB client as its `requestHandler`. Unlike the
   * other services, DynamoDB is answered on the wire (its JSON protocol costs nothing to write):
   * the document client unmarshals answers in a middleware beside the deserializer, which a
   * command-layer answer would skip, and the SDK then parses DynamoDB's own error bodies
   * (`__type`, `CancellationReasons`, `Item`) as it would AWS's.
   */
  dynamoHttpHandler(): { handle(request: HttpRequest, options?: { abortSignal?: AbortSignal }): Promise<{ response: HttpResponse }> } {
    return {
      handle: async (request, options) => {
        const target = String(request.headers['x-amz-target'] ?? request.headers['X-Amz-Target'] ?? '');
        const command = target.slice(target.indexOf('.') + 1);
        const body = typeof request.body === 'string' ? request.body : Buffer.from(request.body as Uint8Array).toString('utf8');
        const input = JSON.parse(body || '{}') as Record<string, unknown>;
        const answer = (statusCode: number, payload: unknown): { response: HttpResponse } => ({
          response: {
            statusCode,
            headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': `sim-${Math.random().toString(16).slice(2, 10)}` },
            body: Readable.from([Buffer.from(JSON.stringify(payload))]),
          },
        });
        try {
          const output = await this.call('dynamodb', command, input, options?.abortSignal);
          return answer(200, output);
        } catch (err) {
          if (!(err instanceof SimulatedServiceError)) throw err;
          const { name, message, $metadata, $fault: _fault, Code: _code, stack: _stack, ...extra } = err as SimulatedServiceError & Record<string, unknown>;
          return answer($metadata.httpStatusCode, { __type: `com.amazonaws.dynamodb.v20120810#${name}`, message, ...extra });
        }
      },
    };
  }

  /** Answer one call as AWS would, after its latency; throttled calls are refused after theirs too. */
  async call(service: string, command: string, input: Record<string, unknown>, abortSignal?: AbortSignal): Promise<Record<string, unknown>> {
    const key = `${service}:${command}`;
    this.calls[key] = (this.calls[key] ?? 0) + 1;
    const family = familyOf(service, command);
    const latency = this.latency(family);
    if (service === 'dynamodb') {
      // Half the latency on the way in, half on the way out: a transaction holds its items in between.
      this.throttler.admit(family);
      return this.dynamo.handle(command, input, { arrive: () => sleep(latency / 2, abortSignal), answer: () => sleep(latency / 2, abortSignal) });
    }
    await sleep(latency);
    this.throttler.admit(family);
    return this.handle(service, command, input);
  }

  private handle(service: string, command: string, input: Record<string, unknown>): Record<string, unknown> {
    switch (`${service}:${command}`) {
      case 'ec2:DescribeInstances': {
        const ids = (input.InstanceIds as string[] | undefined) ?? [];
        const found = ids.map((id) => this.instances.get(id)).filter((i): i is SimInstance => !!i);
        return {
          Reservations: found.map((i) => ({
            Instances: [
              {
                InstanceId: i.instanceId,
                PrivateIpAddress: i.privateIp,
                State: { Name: i.state },
                NetworkInterfaces: [{ PrivateIpAddresses: [{ PrivateIpAddress: i.privateIp }] }],
                Tags: [],
              },
            ],
          })),
        };
      }
      case 'autoscaling:DescribeAutoScalingInstances': {
        const ids = (input.InstanceIds as string[] | undefined) ?? [];
        if (ids.length > 50) throw validation('The number of instance ids must be at most 50.');
        return {
          AutoScalingInstances: ids
            .map((id) => this.instances.get(id))
            .filter((i): i is SimInstance => !!i?.autoScalingGroupName && i.lifecycleState === 'InService')
            .map((i) => ({ InstanceId: i.instanceId, AutoScalingGroupName: i.autoScalingGroupName, LifecycleState: 'InService' })),
        };
      }
      case 'autoscaling:DescribeAutoScalingGroups': {
        const names = (input.AutoScalingGroupNames as string[] | undefined) ?? [...this.groups.keys()];
        return {
          AutoScalingGroups: names
            .map((n) => this.groups.get(n))
            .filter((g): g is SimGroup => !!g)
            .map((g) => ({
              AutoScalingGroupName: g.name,
              TargetGroupARNs: g.targetGroupArns,
              Tags: g.tags,
              DesiredCapacity: g.desiredCapacity,
              CapacityRebalance: false,
              Instances: [...this.instances.values()]
                .filter((i) => i.autoScalingGroupName === g.name && i.lifecycleState === 'InService')
                .map((i) => ({ InstanceId: i.instanceId, LifecycleState: 'InService' })),
            })),
        };
      }
      case 'autoscaling:DescribeLifecycleHooks': {
        const group = this.groups.get(String(input.AutoScalingGroupName));
        return {
          LifecycleHooks: group?.terminatingHook
            ? [{ LifecycleHookName: 'drain', LifecycleTransition: 'autoscaling:EC2_INSTANCE_TERMINATING' }]
            : [],
        };
      }
      case 'autoscaling:DetachInstances': {
        const ids = (input.InstanceIds as string[] | undefined) ?? [];
        if (ids.length > 20) throw validation('The number of instance ids must be at most 20.');
        const group = this.groups.get(String(input.AutoScalingGroupName));
        if (!group) throw validation('AutoScalingGroup name not found');
        for (const id of ids) {
          const instance = this.instances.get(id);
          if (instance?.autoScalingGroupName !== group.name || instance.lifecycleState !== 'InService') {
            throw validation(`The instance ${id} is not part of Auto Scaling group ${group.name}.`);
          }
        }
        for (const id of ids) {
          this.instances.get(id)!.lifecycleState = 'Detached';
          this.instances.get(id)!.autoScalingGroupName = undefined;
          this.events.push({ at: this.now(), action: 'detached', id });
          if (input.ShouldDecrementDesiredCapacity === false) this.launchReplacement(group.name);
        }
        return { Activities: ids.map((id) => ({ ActivityId: `detach-${id}`, StatusCode: 'InProgress' })) };
      }
      case 'autoscaling:TerminateInstanceInAutoScalingGroup': {
        const id = String(input.InstanceId);
        const instance = this.instances.get(id);
        if (!instance?.autoScalingGroupName) throw validation(`Instance Id not found - No managed instance found for instance ID: ${id}`);
        const group = instance.autoScalingGroupName;
        instance.lifecycleState = 'Terminating';
        this.events.push({ at: this.now(), action: 'terminated-in-group', id });
        if (input.ShouldDecrementDesiredCapacity === false) this.launchReplacement(group);
        return { Activity: { ActivityId: `terminate-${id}`, StatusCode: 'InProgress' } };
      }
      case 'elbv2:DeregisterTargets': {
        const arn = String(input.TargetGroupArn);
        const tg = this.targetGroups.get(arn);
        if (!tg) throw new SimulatedServiceError('TargetGroupNotFound', 400, `Target groups '${arn}' not found`);
        for (const t of (input.Targets as { Id: string; Port?: number }[] | undefined) ?? []) {
          const port = t.Port ?? tg.port;
          // A deregistered target is gone (connection draining aside, which we do not model).
          if (this.targets.delete(`${arn}|${t.Id}|${port}`)) {
            this.events.push({ at: this.now(), action: 'deregistered', id: t.Id, targetGroupArn: arn });
          }
        }
        return {};
      }
      case 'elbv2:DescribeTargetGroups':
        return {
          TargetGroups: [...this.targetGroups.values()].map((tg) => ({
            TargetGroupArn: tg.arn,
            TargetGroupName: tg.name,
            TargetType: tg.targetType,
            Port: tg.port,
          })),
        };
      case 'elbv2:DescribeTargetHealth': {
        const arn = String(input.TargetGroupArn);
        return {
          TargetHealthDescriptions: [...this.targets.values()]
            .filter((t) => t.targetGroupArn === arn)
            .map((t) => ({ Target: { Id: t.id, Port: t.port }, TargetHealth: { State: 'healthy' } })),
        };
      }
      case 'ecs:ListContainerInstances': {
        const cluster = this.containerInstances.get(String(input.cluster));
        if (!cluster) throw new SimulatedServiceError('ClusterNotFoundException', 400, 'Cluster not found.');
        // The cluster query language's `ec2InstanceId == id` and `ec2InstanceId in [...]`, the forms the adapter sends.
        const filter = typeof input.filter === 'string' ? input.filter : undefined;
        const wanted = filter ? new Set([...filter.matchAll(/i-[0-9a-z]+/g)].map((m) => m[0])) : undefined;
        return {
          containerInstanceArns: [...cluster.entries()]
            .filter(([, ci]) => !wanted || wanted.has(ci.ec2InstanceId))
            .filter(([, ci]) => ci.status === 'ACTIVE' || ci.status === 'DRAINING')
            .map(([arn]) => arn),
        };
      }
      case 'ecs:DescribeContainerInstances': {
        const cluster = this.containerInstances.get(String(input.cluster)) ?? new Map();
        return {
          containerInstances: ((input.containerInstances as string[] | undefined) ?? [])
            .filter((arn) => cluster.has(arn))
            .map((arn) => ({ containerInstanceArn: arn, ...cluster.get(arn)! })),
          failures: [],
        };
      }
      case 'ecs:UpdateContainerInstancesState': {
        const cluster = this.containerInstances.get(String(input.cluster)) ?? new Map();
        const arns = (input.containerInstances as string[] | undefined) ?? [];
        if (arns.length > 10) throw new SimulatedServiceError('InvalidParameterException', 400, 'at most 10 container instances');
        for (const arn of arns) {
          const ci = cluster.get(arn);
          if (ci) {
            ci.status = String(input.status);
            this.events.push({ at: this.now(), action: 'draining', id: ci.ec2InstanceId });
          }
        }
        return { containerInstances: arns.map((arn) => ({ containerInstanceArn: arn, status: input.status })), failures: [] };
      }
      default:
        throw new SimulatedServiceError('UnsupportedOperation', 400, `the simulator does not answer ${service}:${command}`);
    }
  }

  /** Auto Scaling launches a replacement `replacementDelayMs` later (unawaited, like AWS). */
  private launchReplacement(groupName: string): void {
    const timer = setTimeout(() => {
      const n = ++this.launched;
      const id = `i-r${String(n).padStart(16, '0')}`;
      this.instances.set(id, {
        instanceId: id,
        privateIp: `10.1.${Math.floor(n / 250)}.${(n % 250) + 1}`,
        autoScalingGroupName: groupName,
        state: 'running',
        lifecycleState: 'InService',
      });
      this.events.push({ at: this.now(), action: 'replacement-launched', id });
    }, this.replacementDelayMs);
    timer.unref?.();
  }
}

function familyOf(service: string, command: string): ServerFamily {
  switch (service) {
    case 'elbv2':
      return command === 'RegisterTargets' || command === 'DeregisterTargets' ? 'elbv2-targets' : 'elbv2-describe';
    case 'ec2':
      return command.startsWith('Describe') ? 'ec2-describe' : 'ec2-mutate';
    case 'autoscaling':
      return 'auto-scaling';
    case 'ecs':
      return 'ecs';
    default:
      return 'dynamodb';
  }
}

function validation(message: string): SimulatedServiceError {
  return new SimulatedServiceError('ValidationError', 400, message);
}

/** A wait that an abort signal cuts short with the AbortError the HTTP handler would throw. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      clearTimeout(timer);
      const error = new Error('Request aborted');
      error.name = 'AbortError';
      reject(error);
    };
    if (signal?.aborted) return aborted();
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }, ms);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
