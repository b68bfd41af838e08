// `spot-responder demo`: the whole story on a local emulator, for a newcomer. Start moto, build
// a Spot fleet, check it with the doctor, replay an interruption warning, show what changed,
// replay it again, a wave as one batch, the history and the report, clean up.
import type { ResponseRecord } from '../lambda/core/model';
import type { Log } from '../lambda/log';
import { startEmulator, type Emulator } from '../dev/emulator';
import { CreateDocumentCommand } from '@aws-sdk/client-ssm';
import { countCalls, describeCounts } from '../dev/call-counter';
import { DEFAULT_BEHAVIOUR } from '../lambda/core/behaviour';
import { shutdownDocumentContent } from '../lib/shutdown-document';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../dev/fleet';
import { runDoctor } from './doctor';
import { EMULATOR_ACCOUNT } from './emulator-target';
import { formatRecord } from './format';
import { listHistory } from './history';
import { runReport } from './report';
import { DEFAULT_TABLE, createReplayer } from './replay';
import { rebalanceRecommendationEvent, secondsAfter, spotWarningEvent, stateChangeEvent } from './sample-events';

export interface DemoOptions {
  print: (line: string) => void;
  log?: Log;
}

export { spotWarningEvent } from './sample-events';

/** The demo group's size: one instance for the single warning, then a wave of WAVE_SIZE. */
const DEMO_GROUP_SIZE = 7;
/** The graceful-shutdown document as the construct deploys it (CloudFormation names it in AWS). */
const SHUTDOWN_DOCUMENT = 'SpotResponder-GracefulShutdown';
/** The unit the demo's graceful shutdown stops on each warned instance. */
const SHUTDOWN_UNIT = 'app.service';

/** Warnings in the demo's wave (issue: at least 5, handled as one batch). */
const WAVE_SIZE = 5;

export async function runDemo({ print, log }: DemoOptions): Promise<number> {
  const total = 12;
  let step = 0;
  const progress = (what: string): void => print(`\n[${++step}/${total}] ${what}`);
  let emulator: Emulator | undefined;
  try {
    progress('Starting the local AWS emulator (moto server; installed into .venv on first run)');
    emulator = await startEmulator({ log: (line) => print(`      ${line}`) });

    progress(`Building a Spot fleet: VPC, two subnets, an Application Load Balancer, an Auto Scaling group of ${DEMO_GROUP_SIZE}`);
    const replayer = await createReplayer({
      endpointUrl: emulator.endpoint,
      table: DEFAULT_TABLE,
      clock: 'wall',
      refreshIndex: true,
      // Graceful shutdown on (gracefulShutdown: { systemdUnit: 'app.service' }): each warned
      // instance gets the SSM document; moto records the command and runs nothing.
      behaviour: {
        ...DEFAULT_BEHAVIOUR,
        shutdown: { documentName: SHUTDOWN_DOCUMENT, defaultCommand: { systemdUnit: SHUTDOWN_UNIT }, tagKey: 'spot-responder:shutdown' },
      },
      ...(log ? { log } : {}),
    });
    await replayer.clients.ssm.send(
      new CreateDocumentCommand({ Name: SHUTDOWN_DOCUMENT, DocumentType: 'Command', DocumentFormat: 'JSON', Content: JSON.stringify(shutdownDocumentContent()) }),
    );
    const fleet = await buildDemoFleet(replayer.clients, { asgSize: DEMO_GROUP_SIZE });
    const victim = fleet.shared.instanceId;
    const before = await describeFleet(replayer.clients, fleet);
    print(formatSnapshot(before, fleet, victim));

    progress('Refreshing the target index (the scheduled refresher does this every 5 minutes in AWS)');
    const summary = await replayer.refreshIndex();
    print(`      ${summary.targetGroups} target groups, ${summary.instances} instances indexed with ${summary.elbv2Calls} ELBv2 calls`);
    print('      (the responder reads this index, so it never scans target groups while the clock runs)');

    progress('Before any warning: spot-responder doctor checks the fleet fits a two-minute notice (read-only)');
    const doctor = await runDoctor({ endpointUrl: emulator.endpoint, json: false }, (line) => print(`      ${line}`));
    print(
      doctor.exitCode === 1
        ? '      (doctor exits 1 on a finding that loses traffic; this demo fleet keeps the defaults on purpose)'
        : '      (nothing here would lose traffic)',
    );

    progress(`EC2 recommends rebalancing ${victim}: an early, weaker signal`);
    const rebalance = await replayer.replay(rebalanceRecommendationEvent(victim));
    print(indent(formatRecord(rebalance), 4));
    print(
      '      (recorded only, the default. With rebalanceAction "replace" this group would still be left alone: it has ' +
        'Capacity Rebalancing on, so Auto Scaling replaces the instance itself)',
    );

    progress(`EC2 warns that Spot instance ${victim} will be interrupted in two minutes`);
    const warning = spotWarningEvent(victim);
    print(indent(JSON.stringify(warning, null, 2), 6));
    const first = await replayer.replay(warning);
    print(indent(formatRecord(first), 4));
    print(`      (graceful shutdown is on: in the same round as the deregistrations, SSM Run Command told the instance to stop ${SHUTDOWN_UNIT})`);

    progress('The fleet after the response');
    const after = await describeFleet(replayer.clients, fleet);
    print(formatSnapshot(after, fleet, victim));
    print(describeChange(before, after, victim, fleet.shared.privateIp));

    progress('The same warning delivered again (EventBridge delivers at least once)');
    const second = await replayer.replay(warning);
    print(indent(formatRecord(second), 4));
    const unchanged = JSON.stringify(await describeFleet(replayer.clients, fleet)) === JSON.stringify(after);
    print(`      fleet ${unchanged ? 'unchanged: no second deregistration, no second detach' : 'CHANGED (unexpected)'}`);

    progress('EC2 reports the state changes that follow (times as they would come); the index refresher checks health');
    const time = warning.time;
    const commandId = first.actions.find((a) => a.action === 'shutdown')?.commandId;
    const followUps = [
      ...(commandId ? [shutdownStatusEvent(victim, commandId, secondsAfter(time, 25))] : []),
      // The replacement's launch names it on the record (the warning's response did not wait for it).
      ...newMembers(before, after).flatMap((id) => [
        stateChangeEvent(id, 'pending', { time: secondsAfter(time, 8) }),
        stateChangeEvent(id, 'running', { time: secondsAfter(time, 40) }),
      ]),
      stateChangeEvent(victim, 'shutting-down', { time: secondsAfter(time, 118) }),
      stateChangeEvent(victim, 'terminated', { time: secondsAfter(time, 150) }),
      stateChangeEvent(fleet.standaloneInstanceId, 'stopping', { time: secondsAfter(time, 60) }),
    ];
    print('      (EC2 would send these over the next two and a half minutes; they carry those future times)');
    for (const event of followUps) {
      const result = await replayer.replay(event);
      const what = 'state' in event.detail ? String(event.detail.state) : `SSM ${String(event.detail.status)}`;
      print(`      ${event.detail['instance-id']} ${what.padEnd(13)} -> ${result.outcome}: ${result.reason ?? ''}`);
    }
    const verified = await replayer.refreshIndex();
    print(`      next index refresh: ${verified.replacementsVerified} replacement(s) now healthy in every target group`);

    progress(`A wave: EC2 reclaims the pool, ${WAVE_SIZE} more warnings at once, handled as ONE batch (as the warning queue hands them over)`);
    const waveVictims = after.autoScalingGroup!.instances
      .map((i) => i.instanceId)
      .filter((id) => id !== victim)
      .slice(0, WAVE_SIZE);
    const wave = waveVictims.map((id) => spotWarningEvent(id));
    const counter = countCalls({ ec2: replayer.clients.ec2, autoscaling: replayer.clients.autoScaling, elbv2: replayer.clients.elbv2, ssm: replayer.clients.ssm });
    const waveRecords = await replayer.replayBatch(wave);
    counter.stop();
    for (const record of waveRecords) print(`      ${record.instanceId}: ${record.outcome}${record.detached ? ', detached' : ''}, ${record.actions.length} actions`);
    print(`      AWS calls for the whole batch: ${describeCounts(counter.counts).join(', ')}`);
    print(`      (one DescribeInstances, one DeregisterTargets per target group and one SendCommand per seconds-left for all ${wave.length}, not one per instance)`);
    const afterWave = await describeFleet(replayer.clients, fleet);
    const stillServing = afterWave.targetGroups.flatMap((tg) => tg.targets.filter((t) => waveVictims.includes(t.id)).map((t) => `${t.id} in ${tg.name}`));
    print(`      ${stillServing.length === 0 ? `all ${wave.length} out of every target group` : `STILL registered: ${stillServing.join(', ')}`}`);
    const waveHeld = waveRecords.length === wave.length && waveRecords.every((r) => r.outcome === 'handled' && r.detached) && stillServing.length === 0;

    progress('The record in DynamoDB (spot-responder history)');
    const history = await listHistory({ endpointUrl: emulator.endpoint, table: DEFAULT_TABLE, since: '1h', limit: 50, json: false });
    // The first warning's records, with their timeline; the wave's just counted.
    for (const record of history.filter((r) => r.instanceId === victim)) print(indent(formatRecord(record), 4));
    print(`      ... and ${history.filter((r) => waveVictims.includes(r.instanceId ?? '')).length} records of the wave`);

    progress('What the history says about your pools (spot-responder report; --html FILE draws it)');
    const report = await runReport(
      { endpointUrl: emulator.endpoint, table: DEFAULT_TABLE, since: '1h', json: false, spotPrices: false },
      (text) => text.split('\n').forEach((line) => print(`      ${line}`)),
    );
    print('      (spot-responder drill rehearses all this with AWS Fault Injection Service in a real account)');

    const ok = storyHeld(first, second, unchanged) && waveHeld && report.totals.interruptions === 1 + WAVE_SIZE;
    print(
      ok
        ? '\nDemo finished: traffic stopped, replacement launched, one record with its timeline, duplicate ignored, a wave handled as one batch.'
        : '\nDemo finished, but the story did not hold (see above).',
    );
    return ok ? 0 : 1;
  } finally {
    if (emulator) {
      await emulator.stop();
      print('      emulator stopped');
    }
  }
}

/** SSM's EC2 Command Invocation Status-change Notification: the shutdown command ended (as its rule delivers it). */
function shutdownStatusEvent(instanceId: string, commandId: string, time: string) {
  return {
    version: '0',
    id: `demo-ssm-${commandId}`,
    'detail-type': 'EC2 Command Invocation Status-change Notification',
    source: 'aws.ssm',
    account: EMULATOR_ACCOUNT,
    time,
    region: 'us-east-1',
    resources: [`arn:aws:ec2:us-east-1:${EMULATOR_ACCOUNT}:instance/${instanceId}`],
    detail: { 'command-id': commandId, 'document-name': SHUTDOWN_DOCUMENT, 'instance-id': instanceId, 'requested-date-time': time, status: 'Success' },
  };
}

function storyHeld(first: ResponseRecord, second: ResponseRecord, unchanged: boolean): boolean {
  return first.outcome === 'handled' && first.detached && second.outcome === 'duplicate' && unchanged;
}

function formatSnapshot(snapshot: FleetSnapshot, fleet: DemoFleet, victim: string): string {
  const mark = (id: string): string => (id === victim || id === fleet.shared.privateIp ? `${id}*` : id);
  const lines: string[] = [];
  const group = snapshot.autoScalingGroup;
  if (group) {
    lines.push(`      Auto Scaling group ${group.name}: desired ${group.desiredCapacity}, ${group.instances.length} instances`);
    for (const i of group.instances) lines.push(`        ${mark(i.instanceId).padEnd(22)} ${i.lifecycleState} ${i.healthStatus}`);
  }
  for (const tg of snapshot.targetGroups) {
    const targets = tg.targets.map((t) => `${mark(t.id)}${t.port ? `:${t.port}` : ''}`).join('  ') || '(empty)';
    lines.push(`      target group ${tg.name.padEnd(14)} ${targets}`);
  }
  for (const s of snapshot.standaloneInstances) lines.push(`      not in any group: ${mark(s.instanceId)} ${s.state}`);
  lines.push(`      (* = the instance about to be interrupted)`);
  return lines.join('\n');
}

function describeChange(before: FleetSnapshot, after: FleetSnapshot, victim: string, victimIp: string): string {
  const stillRegistered = after.targetGroups
    .filter((tg) => tg.targets.some((t) => t.id === victim || t.id === victimIp))
    .map((tg) => tg.name);
  const replacements = newMembers(before, after);
  const inGroup = after.autoScalingGroup?.instances.some((i) => i.instanceId === victim) ?? false;
  return [
    `      ${victim}: ${stillRegistered.length === 0 ? 'in no target group' : `STILL in ${stillRegistered.join(', ')}`}, ${inGroup ? 'still in the group' : 'detached from the group'}`,
    `      replacement launched: ${replacements.join(', ') || 'none'}; desired capacity ${before.autoScalingGroup?.desiredCapacity} -> ${after.autoScalingGroup?.desiredCapacity}`,
  ].join('\n');
}

/** Instances in the Auto Scaling group after that were not in it before: the replacements. */
function newMembers(before: FleetSnapshot, after: FleetSnapshot): string[] {
  const oldIds = new Set(before.autoScalingGroup?.instances.map((i) => i.instanceId));
  return after.autoScalingGroup?.instances.filter((i) => !oldIds.has(i.instanceId)).map((i) => i.instanceId) ?? [];
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text.split('\n').map((l) => pad + l).join('\n');
}
