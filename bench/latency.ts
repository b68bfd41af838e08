// 3. Time per warning against the emulator: a group of 20, each instance warned once, in turn.
import { buildDemoFleet } from '../dev/fleet';
import { spotWarningEvent } from '../cli/sample-events';
import { median, ms, percentile, recordCalls, table, trafficStoppedAt, withReplayer } from './support';

export const LATENCY_ASG_SIZE = 20;

export interface LatencyResult {
  events: number;
  handled: number;
  /** Per event: whole replay() and time until the last DeregisterTargets completed. */
  totalMs: number[];
  trafficStoppedMs: number[];
}

export function measureLatency(endpoint: string): Promise<LatencyResult> {
  return withReplayer(endpoint, 'bench-latency', async (replayer) => {
    const fleet = await buildDemoFleet(replayer.clients, { prefix: 'latency', asgSize: LATENCY_ASG_SIZE });
    await replayer.refreshIndex();
    const recorder = recordCalls(replayer.clients);
    const result: LatencyResult = { events: 0, handled: 0, totalMs: [], trafficStoppedMs: [] };
    for (const id of fleet.asgInstanceIds) {
      const { value, calls, start, end } = await recorder.during(() => replayer.replay(spotWarningEvent(id)));
      const stopped = trafficStoppedAt(calls);
      result.events++;
      if (value.outcome === 'handled') result.handled++;
      result.totalMs.push(end - start);
      if (stopped !== null) result.trafficStoppedMs.push(stopped - start);
    }
    return result;
  });
}

export function renderLatency(r: LatencyResult): string {
  const row = (what: string, values: number[]) => [what, values.length, ms(median(values)), ms(percentile(values, 90)), ms(Math.max(...values))];
  return [
    `${r.events} warnings, one per instance of a ${LATENCY_ASG_SIZE}-instance group (2 target groups each), ` +
      `replayed one after another; ${r.handled} handled.`,
    '',
    table(['measure', 'n', 'median', 'p90', 'max'], [
      row('warning received → last DeregisterTargets completed (traffic stopped)', r.trafficStoppedMs),
      row('whole `replay()` (incl. the fresh group check, the record and the replacement wait)', r.totalMs),
    ]),
  ].join('\n');
}
