// 2. What the account's number of target groups costs: N unrelated target groups (each holding
// an instance of its own) are added, the index is refreshed, then warnings are replayed. The hot
// path should not move with N; the refresher's walk should grow as pages + N.
import { CreateSubnetCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateTargetGroupCommand, RegisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { loadIndexRefresherConfig } from '../lambda/config';
import { TARGET_GROUP_PAGE_SIZE } from '../lambda/aws/target-scan';
import { buildDemoFleet } from '../dev/fleet';
import { spotWarningEvent } from '../cli/sample-events';
import type { Replayer } from '../cli/replay';
import {
  inBatches,
  isElbv2Describe,
  median,
  ms,
  progress,
  recordCalls,
  table,
  trafficStoppedAt,
  withReplayer,
  type CallRecorder,
  type SdkCall,
} from './support';

export const EXTRA_TARGET_GROUPS = [0, 25, 100, 400];
const EVENTS_PER_STEP = 5;
/** The ELBv2 Describe* bucket per account: ~40 burst, refilled at ~10 per second. */
export const ELBV2_DESCRIBE_BURST = 40;
export const ELBV2_DESCRIBE_PER_SECOND = 10;

export interface ScalingStep {
  extraGroups: number;
  /** Every target group the refresher listed. */
  accountGroups: number;
  refresh: { describeTargetGroups: number; describeTargetHealth: number; ec2Calls: number; dynamoCalls: number; durationMs: number };
  events: {
    handled: number;
    describesBeforeTrafficStopped: number[];
    describesTotal: number[];
    trafficStoppedMs: number[];
    totalMs: number[];
    /** The claim (the first TransactWriteItems): moto copies the whole table for every transaction. */
    claimMs: number[];
  };
}

export function measureScaling(endpoint: string): Promise<ScalingStep[]> {
  return withReplayer(endpoint, 'bench-scaling', async (replayer) => {
    const fleet = await buildDemoFleet(replayer.clients, {
      prefix: 'scaling',
      asgSize: EVENTS_PER_STEP * EXTRA_TARGET_GROUPS.length,
    });
    // The fleet's /24 subnets cannot hold another 400 instances.
    const subnet = await replayer.clients.ec2.send(
      new CreateSubnetCommand({ VpcId: fleet.vpcId, CidrBlock: '10.0.128.0/20', AvailabilityZone: fleet.availabilityZones[0] }),
    );
    const recorder = recordCalls(replayer.clients);
    const steps: ScalingStep[] = [];
    let created = 0;
    for (const [i, extraGroups] of EXTRA_TARGET_GROUPS.entries()) {
      progress(`scaling: ${extraGroups} extra target groups`);
      await addUnrelatedGroups(replayer, fleet.vpcId, subnet.Subnet?.SubnetId, created, extraGroups);
      created = extraGroups;
      const victims = fleet.asgInstanceIds.slice(i * EVENTS_PER_STEP, (i + 1) * EVENTS_PER_STEP);
      steps.push(await measureStep(replayer, recorder, extraGroups, victims));
    }
    return steps;
  });
}

async function measureStep(replayer: Replayer, recorder: CallRecorder, extraGroups: number, victims: string[]): Promise<ScalingStep> {
  const refreshed = await recorder.during(() => replayer.refreshIndex());
  const count = (pred: (c: SdkCall) => boolean) => refreshed.calls.filter(pred).length;
  const step: ScalingStep = {
    extraGroups,
    accountGroups: refreshed.value.targetGroups,
    refresh: {
      describeTargetGroups: count((c) => c.command === 'DescribeTargetGroups'),
      describeTargetHealth: count((c) => c.command === 'DescribeTargetHealth'),
      ec2Calls: count((c) => c.service === 'EC2'),
      dynamoCalls: count((c) => c.service === 'DynamoDB'),
      durationMs: refreshed.end - refreshed.start,
    },
    events: { handled: 0, describesBeforeTrafficStopped: [], describesTotal: [], trafficStoppedMs: [], totalMs: [], claimMs: [] },
  };
  for (const id of victims) {
    const { value, calls, start, end } = await recorder.during(() => replayer.replay(spotWarningEvent(id)));
    const lastDeregisterStart = Math.max(...calls.filter((c) => c.command === 'DeregisterTargets').map((c) => c.start));
    const describes = calls.filter(isElbv2Describe);
    const claim = calls.find((c) => c.command === 'TransactWriteItems');
    if (value.outcome === 'handled') step.events.handled++;
    step.events.describesBeforeTrafficStopped.push(describes.filter((c) => c.start < lastDeregisterStart).length);
    step.events.describesTotal.push(describes.length);
    step.events.trafficStoppedMs.push((trafficStoppedAt(calls) ?? end) - start);
    step.events.totalMs.push(end - start);
    if (claim) step.events.claimMs.push(claim.end - claim.start);
  }
  return step;
}

/** Target groups `from`..`to`-1, each with one fresh instance registered in it. */
async function addUnrelatedGroups(
  replayer: Replayer,
  vpcId: string,
  subnetId: string | undefined,
  from: number,
  to: number,
): Promise<void> {
  if (to <= from) return;
  const { ec2, elbv2 } = replayer.clients;
  const launched = await ec2.send(
    new RunInstancesCommand({
      ImageId: 'ami-12c6146b',
      InstanceType: 't3.micro',
      MinCount: to - from,
      MaxCount: to - from,
      SubnetId: subnetId,
    }),
  );
  const ids = (launched.Instances ?? []).map((i) => i.InstanceId ?? '');
  await inBatches([...ids.entries()], 8, async ([i, instanceId]) => {
    const created = await elbv2.send(
      new CreateTargetGroupCommand({ Name: `unrelated-${from + i}`, Protocol: 'HTTP', Port: 8000, VpcId: vpcId, TargetType: 'instance' }),
    );
    const arn = created.TargetGroups?.[0]?.TargetGroupArn;
    await elbv2.send(new RegisterTargetsCommand({ TargetGroupArn: arn, Targets: [{ Id: instanceId }] }));
  });
}

/** What describing every target group costs in AWS, which pages DescribeTargetGroups at 400. */
export function fullScanCalls(accountGroups: number): number {
  return Math.max(1, Math.ceil(accountGroups / TARGET_GROUP_PAGE_SIZE)) + accountGroups;
}

export function renderScaling(steps: ScalingStep[]): string {
  const deployedRate = loadIndexRefresherConfig({ TABLE_NAME: 'unused' }).describeCallsPerSecond;
  const hot = table(
    [
      'extra TGs (N)',
      'TGs in account',
      'ELBv2 Describe before traffic stopped, per event (max)',
      'ELBv2 Describe per event, total (max)',
      'traffic stopped, median',
      'whole response, median',
      'claim (TransactWriteItems), median',
      'handled',
    ],
    steps.map((s) => [
      s.extraGroups,
      s.accountGroups,
      `**${Math.max(...s.events.describesBeforeTrafficStopped)}**`,
      Math.max(...s.events.describesTotal),
      ms(median(s.events.trafficStoppedMs)),
      ms(median(s.events.totalMs)),
      ms(median(s.events.claimMs)),
      `${s.events.handled}/${s.events.totalMs.length}`,
    ]),
  );
  const offPath = table(
    [
      'extra TGs (N)',
      'refresher ELBv2 calls (DescribeTargetGroups + DescribeTargetHealth)',
      'refresher EC2 / DynamoDB calls',
      'refresher duration (emulator, 50 calls/s limiter)',
      `same walk in AWS (2+ pages past 400) at the deployed ${deployedRate} calls/s`,
      'naive per-event scan: ELBv2 Describe calls',
      `naive scan at ${ELBV2_DESCRIBE_PER_SECOND} calls/s (full ${ELBV2_DESCRIBE_BURST}-call burst first)`,
    ],
    steps.map((s) => {
      const naive = fullScanCalls(s.accountGroups);
      return [
        s.extraGroups,
        `${s.refresh.describeTargetGroups + s.refresh.describeTargetHealth} (${s.refresh.describeTargetGroups} + ${s.refresh.describeTargetHealth})`,
        `${s.refresh.ec2Calls} / ${s.refresh.dynamoCalls}`,
        ms(s.refresh.durationMs),
        `≥ ${(naive / deployedRate).toFixed(1)} s`,
        naive,
        `${(naive / ELBV2_DESCRIBE_PER_SECOND).toFixed(1)} s (${(Math.max(0, naive - ELBV2_DESCRIBE_BURST) / ELBV2_DESCRIBE_PER_SECOND).toFixed(1)} s)`,
      ];
    }),
  );
  return [
    `The demo fleet (a ${EVENTS_PER_STEP * EXTRA_TARGET_GROUPS.length}-instance group in 2 target groups, plus 2 groups outside it) ` +
      `and N more target groups, each holding an instance of its own. Per N: one index refresh, then ${EVENTS_PER_STEP} warnings ` +
      `for group instances not warned before.`,
    '',
    '**Hot path** (per warning):',
    '',
    hot,
    '',
    '**Off the hot path** (the refresher), and what the hot path would cost without the index:',
    '',
    offPath,
  ].join('\n');
}
