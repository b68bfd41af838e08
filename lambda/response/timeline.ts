// State changes never act: they extend the timeline of the response that touched the instance.
import type { InstanceStateChange, ResponseRecord } from '../core/model';
import { stateMilestone } from '../core/plan';
import type { Log } from '../log';
import type { ResponderDeps } from './deps';
import { baseRecord, closeRecord } from './records';

/**
 * A state change never acts. It extends the timeline of the response that touched the
 * instance and is otherwise dropped without a write: the rule sees every instance's changes.
 */
export async function extendTimeline(
  signal: InstanceStateChange,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  let noticeMs: number | undefined;
  const appended = await deps.store.appendTimeline(signal.instanceId, (pointer) => {
    const milestone = stateMilestone(signal.state, pointer.role);
    if (!milestone) return null;
    const warned = pointer.role === 'interrupted' ? pointer.warningTime : null;
    const goingDown = signal.state === 'stopping' || signal.state === 'shutting-down';
    noticeMs = warned && goingDown ? Date.parse(signal.eventTime) - Date.parse(warned) : undefined;
    return { entry: { event: milestone, at: signal.eventTime }, ...(noticeMs !== undefined ? { noticeMs } : {}) };
  });
  const base = baseRecord(signal, receivedAt, null);
  if (!appended) {
    log.debug('state change of an instance we did not act on; not recorded', { state: signal.state });
    return closeRecord(base, now, null, {
      outcome: 'skipped',
      skipKind: 'not-acted-on',
      reason: `state ${signal.state}: not an instance we acted on; not recorded`,
    });
  }
  log.info('timeline extended', { record: appended.eventId, milestone: appended.entry.event });
  return closeRecord(base, now, null, {
    outcome: 'handled',
    reason: `added ${appended.entry.event} to the timeline of event ${appended.eventId}`,
    timeline: [appended.entry],
    ...(noticeMs !== undefined ? { noticeMs } : {}),
  });
}
