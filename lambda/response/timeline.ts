// State changes and shutdown command statuses never act: they extend the timeline of the response
// that touched the instance.
import type { InstanceStateChange, ResponseRecord, ShutdownCommandStatus, TimelineEntry } from '../core/model';
import { FINAL_COMMAND_STATUSES } from '../events/shutdown-command-status';
import { stateMilestone } from '../core/plan';
import type { Log } from '../log';
import type { ResponderDeps } from './deps';
import { baseRecord, closeRecord } from './records';

/**
 * A state change never acts. It extends the timeline of the response that touched the
 * instance and is otherwise dropped without a write: the rule sees every instance's changes.
 */
export async function extendTimeline(
  signal: InstanceStateChange | ShutdownCommandStatus,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  if (signal.kind === 'shutdown-command-status') return shutdownFinished(signal, deps, receivedAt, log);
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

const FINAL: ReadonlySet<string> = new Set(FINAL_COMMAND_STATUSES);

/**
 * The final status of the graceful-shutdown command on an instance a warning's response sent it
 * to: `shutdown-command-finished` on that record, with the status and the command id. A status
 * that is not final, a command of another document, or an instance we never acted on adds
 * nothing and is not recorded.
 */
async function shutdownFinished(
  signal: ShutdownCommandStatus,
  deps: ResponderDeps,
  receivedAt: number,
  log: Log,
): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const base = baseRecord(signal, receivedAt, null);
  const ours = deps.behaviour?.shutdown?.documentName === signal.documentName;
  const entry: TimelineEntry = { event: 'shutdown-command-finished', at: signal.eventTime, detail: `${signal.status} (command ${signal.commandId})` };
  const appended =
    ours && FINAL.has(signal.status)
      ? await deps.store.appendTimeline(signal.instanceId, (pointer) => (pointer.role === 'interrupted' ? { entry } : null))
      : null;
  if (!appended) {
    const why = !ours
      ? `document ${signal.documentName} is not this deployment's shutdown document`
      : !FINAL.has(signal.status)
        ? `status ${signal.status} is not final`
        : 'not an instance we acted on';
    log.debug('shutdown command status not recorded', { status: signal.status, commandId: signal.commandId, why });
    return closeRecord(base, now, null, { outcome: 'skipped', skipKind: 'not-acted-on', reason: `shutdown command ${signal.status}: ${why}; not recorded` });
  }
  const attributes = { record: appended.eventId, status: signal.status, commandId: signal.commandId };
  if (signal.status === 'Success') log.info('shutdown command finished', attributes);
  else log.warn('shutdown command finished without success', attributes);
  return closeRecord(base, now, null, {
    outcome: 'handled',
    reason: `added shutdown-command-finished (${signal.status}) to the timeline of event ${appended.eventId}`,
    timeline: [appended.entry],
  });
}
