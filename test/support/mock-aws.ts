// The responder's whole AWS world for unit tests: the real SDK clients the Lambda builds
// (createAwsClients, with its retry strategy), each wrapped by aws-sdk-client-mock, and the
// real adapters over them (createResponderDeps). Only `send` is replaced, so every test runs
// the adapters, the claim and the record exactly as the Lambda does.
//
// The default world is the common case: a running instance with two private IPs, InService
// in an Auto Scaling group with two target groups and no lifecycle hooks, registered in one
// more (non-ASG) group that the target index knows about, and a free claim. The replacement
// does not show up in the group within the responder's looks. Tests change one thing.
import {
  AutoScalingClient,
  DescribeAutoScalingGroupsCommand,
  DescribeAutoScalingInstancesCommand,
  DescribeLifecycleHooksCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
  type DescribeAutoScalingGroupsCommandOutput,
  type DescribeAutoScalingInstancesCommandInput,
  type DescribeAutoScalingInstancesCommandOutput,
} from '@aws-sdk/client-auto-scaling';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DescribeInstancesCommand, EC2Client, type DescribeInstancesCommandInput, type DescribeInstancesCommandOutput } from '@aws-sdk/client-ec2';
import {
  DescribeContainerInstancesCommand,
  ECSClient,
  ListContainerInstancesCommand,
  UpdateContainerInstancesStateCommand,
} from '@aws-sdk/client-ecs';
import {
  DeregisterTargetsCommand,
  DescribeTargetHealthCommand,
  ElasticLoadBalancingV2Client,
} from '@aws-sdk/client-elastic-load-balancing-v2';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
  type BatchGetCommandOutput,
  type GetCommandInput,
  type PutCommandInput,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { SendCommandCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import { createAwsClients, type AwsClients } from '../../lambda/aws/clients';
import type { PacingConfig } from '../../lambda/aws/pacing';
import { DEFAULT_BEHAVIOUR } from '../../lambda/core/behaviour';
import type { ShutdownSettings } from '../../lambda/core/shutdown';
import type { IndexedTarget } from '../../lambda/core/model';
import type { CallOptions } from '../../lambda/core/ports';
import type { AcceptPolicy } from '../../lambda/events';
import { silentLog } from '../../lambda/log';
import type { AcceptedSources } from '../../lambda/events/delivery';
import { makeHandler, type SpotResponderHandler } from '../../lambda/make-handler';
import { ResponseFailedError } from '../../lambda/responder';
import type { ResponderDeps } from '../../lambda/response/deps';
import { createResponderDeps } from '../../lambda/wiring';
import { fixturePolicy, loadEvent, type RawEvent } from './fixtures';

export const TABLE_NAME = 'spot-responder-test';

export function targetGroupArn(name: string): string {
  return `arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/${name}/73e2d6bc24d8a067`;
}

/** The default fleet: what the mocks answer unless a test says otherwise. */
export const FLEET = {
  instanceId: 'i-1234567890abcdef0',
  primaryIp: '10.0.1.25',
  /** On the instance's second network interface. */
  secondaryIp: '10.0.2.40',
  availabilityZone: 'us-east-1b',
  instanceType: 'm5.large',
  groupName: 'web-asg',
  asgTargetGroups: [targetGroupArn('web-http'), targetGroupArn('web-https')],
  /** Registered by hand (not by Auto Scaling) on a port override; only the index knows. */
  indexedGroup: targetGroupArn('admin'),
  indexedPort: 8080,
  indexRefreshedAt: '2025-03-04T10:12:00.000Z',
  indexSnapshotAt: '2025-03-04T10:11:00.000Z',
} as const;

/** The event's own time as epoch milliseconds; the clock of every test counts from it. */
export function eventTimeOf(event: RawEvent): number {
  const time = Date.parse(String(event.time));
  if (Number.isNaN(time)) throw new Error(`event ${String(event.id)} has no usable time`);
  return time;
}

export interface TestClock {
  now: () => number;
  set(ms: number): void;
  advance(ms: number): void;
}

/** A clock that moves only when a test moves it. */
export function testClock(start: number): TestClock {
  let current = start;
  return {
    now: () => current,
    set: (ms) => {
      current = ms;
    },
    advance: (ms) => {
      current += ms;
    },
  };
}

// ---- Canned responses -------------------------------------------------------------------

export function instanceReply(
  opts: { state?: string; primaryIp?: string; secondaryIp?: string; tags?: Record<string, string> } = {},
): DescribeInstancesCommandOutput {
  const primaryIp = opts.primaryIp ?? FLEET.primaryIp;
  const secondaryIp = opts.secondaryIp ?? FLEET.secondaryIp;
  return {
    $metadata: {},
    Reservations: [
      {
        Instances: [
          {
            InstanceId: FLEET.instanceId,
            State: { Name: (opts.state ?? 'running') as 'running' },
            PrivateIpAddress: primaryIp,
            InstanceType: FLEET.instanceType as 'm5.large',
            Placement: { AvailabilityZone: FLEET.availabilityZone },
            NetworkInterfaces: [
              { Attachment: { DeviceIndex: 0 }, PrivateIpAddress: primaryIp, PrivateIpAddresses: [{ PrivateIpAddress: primaryIp }] },
              { Attachment: { DeviceIndex: 1 }, PrivateIpAddress: secondaryIp, PrivateIpAddresses: [{ PrivateIpAddress: secondaryIp }] },
            ],
            Tags: Object.entries({ 'aws:autoscaling:groupName': FLEET.groupName, ...opts.tags }).map(([Key, Value]) => ({ Key, Value })),
          },
        ],
      },
    ],
  };
}

export function membershipReply(
  lifecycleState = 'InService',
  groupName: string = FLEET.groupName,
): DescribeAutoScalingInstancesCommandOutput {
  return {
    $metadata: {},
    AutoScalingInstances: [
      {
        InstanceId: FLEET.instanceId,
        AutoScalingGroupName: groupName,
        LifecycleState: lifecycleState,
        AvailabilityZone: FLEET.availabilityZone,
        HealthStatus: 'HEALTHY',
        ProtectedFromScaleIn: false,
      },
    ],
  };
}

export const NO_MEMBERSHIP: DescribeAutoScalingInstancesCommandOutput = { $metadata: {}, AutoScalingInstances: [] };

/**
 * The group. `trafficSourceArns` are attached with AttachTrafficSources (not in TargetGroupARNs);
 * `otherInstanceIds` are in the group beside the interrupted instance (a replacement, say);
 * `capacityRebalance` turns on Capacity Rebalancing; `tags` are the group's own tags.
 */
export function groupReply(
  opts: {
    targetGroupArns?: readonly string[];
    trafficSourceArns?: readonly string[];
    otherInstanceIds?: readonly string[];
    capacityRebalance?: boolean;
    tags?: Record<string, string>;
  } = {},
): DescribeAutoScalingGroupsCommandOutput {
  const { targetGroupArns = FLEET.asgTargetGroups, trafficSourceArns = [], otherInstanceIds = [], capacityRebalance = false, tags } = opts;
  const member = (instanceId: string) => ({
    InstanceId: instanceId,
    AvailabilityZone: FLEET.availabilityZone,
    LifecycleState: 'InService' as const,
    HealthStatus: 'Healthy',
    ProtectedFromScaleIn: false,
  });
  return {
    $metadata: {},
    AutoScalingGroups: [
      {
        AutoScalingGroupName: FLEET.groupName,
        MinSize: 1,
        MaxSize: 6,
        DesiredCapacity: 3,
        DefaultCooldown: 300,
        AvailabilityZones: ['us-east-1a', 'us-east-1b'],
        HealthCheckType: 'ELB',
        CreatedTime: new Date('2025-01-01T00:00:00Z'),
        CapacityRebalance: capacityRebalance,
        TargetGroupARNs: [...targetGroupArns],
        ...(trafficSourceArns.length > 0
          ? { TrafficSources: trafficSourceArns.map((arn) => ({ Identifier: arn, Type: 'elbv2' })) }
          : {}),
        Instances: [FLEET.instanceId, ...otherInstanceIds].map(member),
        ...(tags
          ? {
              Tags: Object.entries(tags).map(([Key, Value]) => ({
                Key,
                Value,
                ResourceId: FLEET.groupName,
                ResourceType: 'auto-scaling-group',
                PropagateAtLaunch: false,
              })),
            }
          : {}),
      },
    ],
  };
}

export function indexedInstance(targetGroupArn: string, port?: number): IndexedTarget {
  return { targetGroupArn, targetId: FLEET.instanceId, targetType: 'instance', ...(port !== undefined ? { port } : {}) };
}

export function indexedIp(targetGroupArn: string, ip: string, port: number, availabilityZone?: string): IndexedTarget {
  return { targetGroupArn, targetId: ip, targetType: 'ip', port, ...(availabilityZone ? { availabilityZone } : {}) };
}

export const DEFAULT_INDEX: readonly IndexedTarget[] = [indexedInstance(FLEET.indexedGroup, FLEET.indexedPort)];

/**
 * The BatchGet answer of the target index: the instance's TARGETS# item (when it has targets)
 * and the INDEX#META item (unless `meta` is null: the index never completed a refresh).
 */
export function indexReply(
  targets: readonly IndexedTarget[] = DEFAULT_INDEX,
  meta: { refreshedAt: string; snapshotAt: string } | null = {
    refreshedAt: FLEET.indexRefreshedAt,
    snapshotAt: FLEET.indexSnapshotAt,
  },
): BatchGetCommandOutput {
  const items: Record<string, unknown>[] = [];
  if (targets.length > 0) {
    items.push({
      pk: `TARGETS#${FLEET.instanceId}`,
      targets: [...targets],
      snapshotAt: meta?.snapshotAt ?? FLEET.indexSnapshotAt,
      // DynamoTargetIndex judges expiry on the wall clock, not on the responder's clock.
      expiresAt: Math.floor(Date.now() / 1000) + 15 * 60,
    });
  }
  if (meta) items.push({ pk: 'INDEX#META', ...meta, instances: 12, targets: 30 });
  return { $metadata: {}, Responses: { [TABLE_NAME]: items } };
}

// ---- The mocked world -------------------------------------------------------------------

export interface MockAws {
  clients: AwsClients;
  ec2: AwsClientStub<EC2Client>;
  autoScaling: AwsClientStub<AutoScalingClient>;
  elbv2: AwsClientStub<ElasticLoadBalancingV2Client>;
  dynamo: AwsClientStub<DynamoDBDocumentClient>;
  /** Wired into the responder only when `ecsClusters` is given; by default it finds no container instance. */
  ecs: AwsClientStub<ECSClient>;
  /** Wired only when `shutdown` is given; SendCommand answers command id `cmd-1` by default. */
  ssm: AwsClientStub<SSMClient>;
  clock: TestClock;
  /** The real adapters over the mocked clients, on the test clock; `overrides` swap single ports. */
  deps(overrides?: Partial<ResponderDeps>): ResponderDeps;
  /** makeHandler over `deps(overrides)`: the Lambda's entry point; `sources` turns its source guard on. */
  handler(overrides?: Partial<ResponderDeps>, sources?: AcceptedSources): SpotResponderHandler;
}

export interface MockAwsOptions {
  /** Epoch ms the clock starts at; usually five seconds after the event's time. */
  now: number;
  policy?: AcceptPolicy;
  /** ECS clusters to drain in (ECS draining is off without them, as in the Lambda). */
  ecsClusters?: string[];
  /** The clients' pacing (DEFAULT_PACING by default): a test of many attempts may turn it off. */
  pacing?: PacingConfig;
  /** observe: the deps of a responder in observe mode (wiring.ts); default act. */
  mode?: 'observe' | 'act';
  /** Graceful shutdown on (behaviour.shutdown), with this document, default command and tag. */
  shutdown?: ShutdownSettings;
}

/** Real clients, mocked `send`, default answers for the default fleet. */
export function mockAws(opts: MockAwsOptions): MockAws {
  // Static credentials and a region: nothing may reach for the credential chain or IMDS.
  const clients = createAwsClients({
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    ...(opts.pacing ? { pacing: opts.pacing } : {}),
  });
  const ec2 = mockClient(clients.ec2);
  const autoScaling = mockClient(clients.autoScaling);
  const elbv2 = mockClient(clients.elbv2);
  const dynamo = mockClient(clients.dynamo);
  const ecs = mockClient(clients.ecs);
  const ssm = mockClient(clients.ssm);
  ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } });

  ec2.on(DescribeInstancesCommand).resolves(instanceReply());
  autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(membershipReply());
  autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply());
  autoScaling.on(DescribeLifecycleHooksCommand).resolves({ LifecycleHooks: [] });
  autoScaling.on(DetachInstancesCommand).resolves({ Activities: [] });
  autoScaling.on(TerminateInstanceInAutoScalingGroupCommand).resolves({});
  elbv2.on(DeregisterTargetsCommand).resolves({});
  elbv2.on(DescribeTargetHealthCommand).resolves({ TargetHealthDescriptions: [] });
  dynamo.on(BatchGetCommand).resolves(indexReply());
  dynamo.on(TransactWriteCommand).resolves({});
  dynamo.on(GetCommand).resolves({});
  dynamo.on(UpdateCommand).resolves({});
  dynamo.on(PutCommand).resolves({});
  ecs.on(ListContainerInstancesCommand).resolves({ containerInstanceArns: [] });
  ecs.on(DescribeContainerInstancesCommand).resolves({ containerInstances: [], failures: [] });
  ecs.on(UpdateContainerInstancesStateCommand).resolves({ containerInstances: [], failures: [] });

  const clock = testClock(opts.now);
  const settings = {
    tableName: TABLE_NAME,
    recordRetentionDays: 90,
    policy: opts.policy ?? fixturePolicy(),
    ...(opts.ecsClusters ? { ecsClusters: opts.ecsClusters } : {}),
    ...(opts.mode ? { mode: opts.mode } : {}),
    ...(opts.shutdown ? { behaviour: { ...DEFAULT_BEHAVIOUR, shutdown: opts.shutdown } } : {}),
  };
  const deps = (overrides: Partial<ResponderDeps> = {}): ResponderDeps => ({
    ...createResponderDeps(clients, settings, silentLog, clock.now),
    ...overrides,
  });
  return { clients, ec2, autoScaling, elbv2, dynamo, ecs, ssm, clock, deps, handler: (overrides, sources) => makeHandler(deps(overrides), sources) };
}

/** The fleet-facing clients: a rejected or late event must not reach any of them. */
export function fleetMocks(aws: MockAws): Array<AwsClientStub<EC2Client> | AwsClientStub<AutoScalingClient> | AwsClientStub<ElasticLoadBalancingV2Client>> {
  return [aws.ec2, aws.autoScaling, aws.elbv2];
}

// ---- Reading what was written -----------------------------------------------------------

type Item = Record<string, unknown>;
type TransactItem = NonNullable<TransactWriteCommandInput['TransactItems']>[number];

function transactInputs(aws: MockAws): TransactWriteCommandInput[] {
  return aws.dynamo.commandCalls(TransactWriteCommand).map((call) => call.args[0].input);
}

/** A claim: nothing but conditional Puts of claim keys. */
export function isClaim(input: TransactWriteCommandInput): boolean {
  const items = input.TransactItems ?? [];
  return items.length > 0 && items.every((t) => t.Put?.ConditionExpression !== undefined);
}

/** The claim transactions in the order they were sent. */
export function claimsSent(aws: MockAws): TransactWriteCommandInput[] {
  return transactInputs(aws).filter(isClaim);
}

/** The event ids claimed, one per EVENT# key in the claim transactions (a batch's claims share transactions). */
export function claimedEventIds(aws: MockAws): string[] {
  return claimsSent(aws)
    .flatMap((input) => input.TransactItems ?? [])
    .map((t) => String(t.Put?.Item?.pk))
    .filter((pk) => pk.startsWith('EVENT#'))
    .map((pk) => pk.slice('EVENT#'.length));
}

/** The finish transactions (the record's Update first, then the claims' release) in the order they were sent. */
export function finishesSent(aws: MockAws): TransactWriteCommandInput[] {
  return transactInputs(aws).filter((input) => input.TransactItems?.[0]?.Update !== undefined);
}

/** The attributes a `SET #a = :a, ... [REMOVE ...]` update assigns, by attribute name. */
export function assignedBy(update: NonNullable<TransactItem['Update']>, existing: Item = {}): Item {
  const set = /^SET (.*?)(?: REMOVE .*)?$/.exec(update.UpdateExpression ?? '')?.[1] ?? '';
  const names = update.ExpressionAttributeNames ?? {};
  const values = update.ExpressionAttributeValues ?? {};
  const assigned: Item = {};
  // Assignments are separated by ", " outside parentheses: if_not_exists(path, :value) holds one.
  for (const assignment of set.split(/, (?![^(]*\))/)) {
    const [lhs = '', rhs = ''] = assignment.split(' = ');
    const onlyIfAbsent = /^if_not_exists\(.+, (:\w+)\)$/.exec(rhs);
    const value = values[onlyIfAbsent ? (onlyIfAbsent[1] as string) : rhs];
    const [top = '', nested] = lhs.split('.').map((part) => names[part] ?? part);
    if (nested === undefined) {
      if (!(onlyIfAbsent && top in existing)) assigned[top] = value;
      continue;
    }
    const map = { ...((assigned[top] ?? existing[top] ?? {}) as Item) };
    if (!(onlyIfAbsent && nested in map)) map[nested] = value;
    assigned[top] = map;
  }
  return assigned;
}

/** The record `finish` wrote on the EVENT item (with its claim status); fails when there is not exactly one. */
export function finishedRecord(aws: MockAws): Item {
  const finishes = finishesSent(aws);
  if (finishes.length !== 1) throw new Error(`expected exactly one finish transaction, got ${finishes.length}`);
  const update = finishes[0]?.TransactItems?.[0]?.Update;
  if (!update) throw new Error('the finish transaction has no Update of the EVENT item');
  return assignedBy(update);
}

/** The Put of a record that was never claimed (rejected or late). */
export function unclaimedPuts(aws: MockAws): PutCommandInput[] {
  return aws.dynamo.commandCalls(PutCommand).map((call) => call.args[0].input);
}

/** The per-call options (abortSignal) the adapter passed along with a command's input. */
export function callOptionsOf(stub: { send: { getCalls(): Array<{ args: unknown[] }> } }, input: unknown): CallOptions | undefined {
  const call = stub.send.getCalls().find((c) => (c.args[0] as { input?: unknown } | undefined)?.input === input);
  return call?.args[1] as CallOptions | undefined;
}

// ---- A small claim table ----------------------------------------------------------------

/**
 * Answers the claim and finish transactions the way DynamoDB would: a claim (conditional Puts
 * only) succeeds when every Put's condition holds on the item as it is; otherwise the whole
 * transaction is cancelled with ConditionalCheckFailed and the old item (ALL_OLD) as raw
 * AttributeValues, which is what DynamoEventStore reads the holder from. Other transactions
 * (finish) apply their plain Puts and SET/REMOVE updates; GetItem reads the items. Returns them.
 */
export function emulateClaimTable(
  aws: MockAws,
  opts: {
    /** An error to throw instead of applying this transaction (a fault injected by the test), or undefined. */
    fault?: (input: TransactWriteCommandInput) => Error | undefined;
  } = {},
): Map<string, Item> {
  const table = new Map<string, Item>();
  aws.dynamo.on(TransactWriteCommand).callsFake((input: TransactWriteCommandInput) => {
    const injected = opts.fault?.(input);
    if (injected) throw injected;
    const items = input.TransactItems ?? [];
    if (isClaim(input)) {
      const reasons = items.map((t) => {
        const put = t.Put as NonNullable<TransactItem['Put']>;
        const old = table.get(String(put.Item?.pk));
        const holds = conditionHolds(put.ConditionExpression ?? '', old ?? {}, put.ExpressionAttributeNames, put.ExpressionAttributeValues);
        return holds ? { Code: 'None' } : { Code: 'ConditionalCheckFailed', Item: marshall(old ?? {}) };
      });
      if (reasons.some((r) => r.Code !== 'None')) {
        throw new TransactionCanceledException({
          message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
          $metadata: { httpStatusCode: 400 },
          CancellationReasons: reasons,
        });
      }
    }
    for (const t of items) {
      if (t.Put?.Item) table.set(String(t.Put.Item.pk), { ...t.Put.Item });
      if (t.Update) {
        const pk = String(t.Update.Key?.pk);
        const existing = table.get(pk) ?? { pk };
        const item = { ...existing, ...assignedBy(t.Update, existing) };
        const removed = / REMOVE (.+)$/.exec(t.Update.UpdateExpression ?? '')?.[1]?.split(', ') ?? [];
        for (const name of removed) delete item[t.Update.ExpressionAttributeNames?.[name] ?? name];
        table.set(pk, item);
      }
    }
    return {};
  });
  aws.dynamo.on(GetCommand).callsFake((input: GetCommandInput) => {
    const item = table.get(String(input.Key?.pk));
    return item ? { Item: { ...item } } : {};
  });
  return table;
}

/**
 * The condition expressions core/claims.ts builds: OR of terms, each an AND of comparisons
 * (=, <>, <, <=, >, >=), IN lists and attribute_(not_)exists. Anything else throws, so a new
 * form in the store shows up here rather than passing unchecked.
 */
export function conditionHolds(
  expression: string,
  item: Item,
  names: Record<string, string> = {},
  values: Record<string, unknown> = {},
): boolean {
  const attr = (token: string) => item[names[token] ?? token];
  const value = (token: string) => values[token];
  const atom = (text: string): boolean => {
    const exists = /^attribute_(not_)?exists\((\S+)\)$/.exec(text);
    if (exists) return (attr(exists[2] as string) === undefined) === Boolean(exists[1]);
    const inList = /^(\S+) IN \((.+)\)$/.exec(text);
    if (inList) return (inList[2] as string).split(/,\s*/).some((v) => value(v) === attr(inList[1] as string));
    const comparison = /^(\S+) (=|<>|<=|>=|<|>) (\S+)$/.exec(text);
    if (!comparison) throw new Error(`emulateClaimTable cannot evaluate "${text}" in "${expression}"`);
    const [, left = '', op, right = ''] = comparison;
    const a = attr(left) as string | number | undefined;
    const b = value(right) as string | number | undefined;
    if (a === undefined || b === undefined) return op === '<>';
    switch (op) {
      case '=':
        return a === b;
      case '<>':
        return a !== b;
      case '<':
        return a < b;
      case '<=':
        return a <= b;
      case '>':
        return a > b;
      default:
        return a >= b;
    }
  };
  return splitTopLevel(expression, ' OR ').some((term) => splitTopLevel(unwrap(term), ' AND ').every((a) => atom(unwrap(a))));
}

function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (depth === 0 && text.startsWith(separator, i)) {
      parts.push(text.slice(start, i));
      start = i + separator.length;
    }
  }
  return [...parts, text.slice(start)].map((p) => p.trim());
}

/** "(a AND b)" -> "a AND b", when the parentheses enclose the whole text. */
function unwrap(text: string): string {
  if (!text.startsWith('(') || !text.endsWith(')')) return text;
  let depth = 0;
  for (let i = 0; i < text.length - 1; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    if (depth === 0) return text;
  }
  return text.slice(1, -1).trim();
}

function marshall(item: Item): Record<string, { S: string } | { N: string }> {
  return Object.fromEntries(
    Object.entries(item)
      .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
      .map(([k, v]) => [k, typeof v === 'number' ? { N: String(v) } : { S: String(v) }]),
  );
}

/** Every DeregisterTargets input sent, in order. */
export function deregistrationsSent(aws: MockAws) {
  return aws.elbv2.commandCalls(DeregisterTargetsCommand).map((call) => call.args[0].input);
}

// ---- Errors -----------------------------------------------------------------------------

type ServiceExceptionClass = new (options: {
  name: string;
  $fault: 'client' | 'server';
  $metadata: { httpStatusCode?: number };
  message?: string;
}) => Error;

/** An error as the SDK raises it for a service's unmodeled error code (e.g. EC2ServiceException). */
export function serviceError(Exception: ServiceExceptionClass, name: string, httpStatusCode: number, message: string): Error {
  return new Exception({ name, $fault: httpStatusCode >= 500 ? 'server' : 'client', $metadata: { httpStatusCode }, message });
}

/** The ResponseFailedError a handler call rejects with; fails the test when it resolves or throws anything else. */
export async function responseFailure(call: Promise<unknown>): Promise<ResponseFailedError> {
  let outcome: unknown;
  try {
    outcome = await call;
  } catch (err) {
    if (err instanceof ResponseFailedError) return err;
    throw err;
  }
  throw new Error(`expected ResponseFailedError, the handler returned ${JSON.stringify(outcome)}`);
}

/** The terminate warning fixture, a fresh copy. */
export function terminateWarning(): RawEvent {
  return loadEvent('spot-interruption-warning/terminate.json');
}

/** The default world, its clock `msAfterEvent` after the event (5 s: well inside the window). */
export function worldFor(event: RawEvent, msAfterEvent = 5_000, ecsClusters?: string[]): MockAws {
  return mockAws({ now: eventTimeOf(event) + msAfterEvent, ...(ecsClusters ? { ecsClusters } : {}) });
}

/** The fixture warning for instance number n (0 is the default fleet's instance), with its own event id. */
export function warningFor(n: number): RawEvent {
  const base = terminateWarning();
  const instanceId = n === 0 ? FLEET.instanceId : `i-${n.toString(16).padStart(17, '0')}`;
  return { ...base, id: `00000000-0000-4000-8000-${n.toString().padStart(12, '0')}`, detail: { 'instance-id': instanceId, 'instance-action': 'terminate' } };
}

/** EC2 and Auto Scaling answer for every instance asked, all InService in the default group (batch tests). */
export function answerForEveryInstance(aws: MockAws): void {
  aws.ec2.on(DescribeInstancesCommand).callsFake((input: DescribeInstancesCommandInput) => ({
    Reservations: [
      {
        Instances: (input.InstanceIds ?? []).map((id) => ({ InstanceId: id, State: { Name: 'running' }, PrivateIpAddress: '10.0.9.9', Tags: [] })),
      },
    ],
  }));
  aws.autoScaling.on(DescribeAutoScalingInstancesCommand).callsFake((input: DescribeAutoScalingInstancesCommandInput) => ({
    AutoScalingInstances: (input.InstanceIds ?? []).map((id) => ({
      InstanceId: id,
      AutoScalingGroupName: FLEET.groupName,
      LifecycleState: 'InService',
      AvailabilityZone: FLEET.availabilityZone,
      HealthStatus: 'HEALTHY',
      ProtectedFromScaleIn: false,
    })),
  }));
}
