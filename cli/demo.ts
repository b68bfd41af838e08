// `spot-responder demo`: the whole story on a local emulator, for a newcomer. Start moto, build
// a Spot fleet, replay an interruption warning, show what changed, replay it again, clean up.
import type { ResponseRecord } from '../lambda/core/model';
import type { Log } from '../lambda/log';
import { startEmulator, type Emulator } from '../dev/emulator';
import { buildDemoFleet, describeFleet, type DemoFleet, type FleetSnapshot } from '../dev/fleet';
import { formatRecord } from './format';
import { listHistory } from './history';
import { DEFAULT_TABLE, createReplayer } from './replay';
import { rebalanceRecommendationEvent, secondsAfter, spotWarningEvent, stateChangeEvent } from './sample-events';

export interface DemoOptions {
  print: (line: string) => void;
  log?: Log;
}

export { spotWarningEvent } from './sample-events';

export async function runDemo({ print, log }: DemoOptions): Promise<number> {
  const total = 9;
  let step = 0;
  const progress = (what: string): void => print(`\n[${++step}/${total}] ${what}`);
  let emulator: Emulator | undefined;
  try {
    progress('Starting the local AWS emulator (moto server; installed into .venv on first run)');
    emulator = await startEmulator({ log: (line) => print(`      ${line}`) });

    progress('Building a Spot fleet: VPC, two subnets, an Application Load Balancer, an Auto Scaling group of 3');
    const replayer = await createReplayer({
      endpointUrl: emulator.endpoint,
      table: DEFAULT_TABLE,
      clock: 'wall',
      refreshIndex: true,
      ...(log ? { log } : {}),
    });
    const fleet = await buildDemoFleet(replayer.clients);
    const victim = fleet.shared.instanceId;
    const before = await describeFleet(replayer.clients, fleet);
    print(formatSnapshot(before, fleet, victim));

    progress('Refreshing the target index (the scheduled refresher does this every 5 minutes in AWS)');
    const summary = await replayer.refreshIndex();
    print(`      ${summary.targetGroups} target groups, ${summary.instances} instances indexed with ${summary.elbv2Calls} ELBv2 calls`);
    print('      (the responder reads this index, so it never scans target groups while the clock runs)');

    progress(`EC2 recommends rebalancing ${victim}: an early, weaker signal`);
    const rebalance = await replayer.replay(rebalanceRecommendationEvent(victim));
    print(indent(formatRecord(rebalance), 4));
    print('      (recorded only, the default; with rebalanceAction "replace" the replacement would start now)');

    progress(`EC2 warns that Spot instance ${victim} will be interrupted in two minutes`);
    const warning = spotWarningEvent(victim);
    print(indent(JSON.stringify(warning, null, 2), 6));
    const first = await replayer.replay(warning);
    print(indent(formatRecord(first), 4));

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
    const followUps = [
      ...(first.replacement ? [stateChangeEvent(first.replacement.instanceId, 'running', { time: secondsAfter(time, 40) })] : []),
      stateChangeEvent(victim, 'shutting-down', { time: secondsAfter(time, 118) }),
      stateChangeEvent(victim, 'terminated', { time: secondsAfter(time, 150) }),
      stateChangeEvent(fleet.standaloneInstanceId, 'stopping', { time: secondsAfter(time, 60) }),
    ];
    print('      (EC2 would send these over the next two and a half minutes; they carry those future times)');
    for (const event of followUps) {
      const result = await replayer.replay(event);
      print(`      ${event.detail['instance-id']} ${String(event.detail.state).padEnd(13)} -> ${result.outcome}: ${result.reason ?? ''}`);
    }
    const verified = await replayer.refreshIndex();
    print(`      next index refresh: ${verified.replacementsVerified} replacement(s) now healthy in every target group`);

    progress('The record in DynamoDB (spot-responder history)');
    const history = await listHistory({ endpointUrl: emulator.endpoint, table: DEFAULT_TABLE, since: '1h', limit: 10, json: false });
    for (const record of history) print(indent(formatRecord(record), 4));

    const ok = storyHeld(first, second, unchanged);
    print(
      ok
        ? '\nDemo finished: traffic stopped, replacement launched, one record with its timeline, duplicate ignored.'
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
  const oldIds = new Set(before.autoScalingGroup?.instances.map((i) => i.instanceId));
  const replacements = after.autoScalingGroup?.instances.filter((i) => !oldIds.has(i.instanceId)).map((i) => i.instanceId) ?? [];
  const inGroup = after.autoScalingGroup?.instances.some((i) => i.instanceId === victim) ?? false;
  return [
    `      ${victim}: ${stillRegistered.length === 0 ? 'in no target group' : `STILL in ${stillRegistered.join(', ')}`}, ${inGroup ? 'still in the group' : 'detached from the group'}`,
    `      replacement launched: ${replacements.join(', ') || 'none'}; desired capacity ${before.autoScalingGroup?.desiredCapacity} -> ${after.autoScalingGroup?.desiredCapacity}`,
  ].join('\n');
}

function indent(text: string, spaces: number): string {
  const pad = ' '.repeat(spaces);
  return text.split('\n').map((l) => pad + l).join('\n');
}
