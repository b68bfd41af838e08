// One message per handled interruption and per failure, for people: subscribers of an SNS topic
// (e-mail, chat, HTTPS webhooks). Which records deserve one and what it says is decided here,
// purely; the adapter (aws/sns-notifier.ts) only publishes.
//
// Why the responder publishes (through this port) rather than a Lambda destination or an
// EventBridge Pipe: a destination sees invocations, not records: on success it would send every
// state change and duplicate too, in Lambda's invocation-record envelope, and the on-failure
// destination is taken by the dead-letter queue; nor does it exist for batches read from a queue.
// A Pipe would need a stream of the table and would re-derive "handled interruption" from items.
// Publishing after the record is written costs one call off the hot path (traffic is stopped
// and the record durable before it), and a failed publish is logged, never fails the response.
import type { Outcome, ResponseRecord } from '../core/model';
import type { CallOptions } from '../core/ports';
import { recordFigures } from './metrics';

/** What one notification says. Times in ms; null when unknown. The JSON subscribers receive. */
export interface Notification {
  kind: 'spot-responder.notification';
  outcome: Extract<Outcome, 'handled' | 'observed' | 'failed' | 'rejected'>;
  eventId: string;
  /** ISO time EC2 stamped on the signal. */
  eventTime: string | null;
  signal: string | null;
  instanceId: string | null;
  instanceAction: string | null;
  autoScalingGroup: string | null;
  /** Signal time to the last deregistration returning. */
  timeToTrafficStoppedMs: number | null;
  msLeftAtFinish: number | null;
  deregisteredFrom: string[];
  detached: boolean;
  replacementInstanceId: string | null;
  /** Why it failed or what was done; the record's reason, or a summary. */
  reason: string;
  account: string | null;
  region: string | null;
}

/** A rendered message: a subject (SNS: ASCII, at most 100 characters), a text body for e-mail, the JSON. */
export interface RenderedNotification {
  subject: string;
  text: string;
  notification: Notification;
}

/** Where notifications go. Implementations may throw; the caller logs and carries on. */
export interface NotifierPort {
  notify(message: RenderedNotification, opts?: CallOptions): Promise<void>;
}

/**
 * The notification a record deserves, or null: an interruption (warning or rebalance
 * recommendation) handled or failed, and any failed or rejected event. Duplicates, skips and
 * state changes send nothing (the metrics count them). A failed response is retried by Lambda,
 * so a failure that persists sends one message per attempt.
 */
export function notificationFor(record: ResponseRecord): RenderedNotification | null {
  const f = recordFigures(record);
  const interruption = f.signal === 'spot-interruption-warning' || f.signal === 'rebalance-recommendation';
  const outcome = record.outcome;
  if (!(outcome === 'failed' || outcome === 'rejected' || ((outcome === 'handled' || outcome === 'observed') && interruption))) {
    return null;
  }
  if (outcome === 'observed') return observedNotification(record, f.timeToTrafficStoppedMs ?? null);
  const notification: Notification = {
    kind: 'spot-responder.notification',
    outcome,
    eventId: record.eventId,
    eventTime: record.eventTime,
    signal: record.detailType,
    instanceId: record.instanceId,
    instanceAction: record.instanceAction,
    autoScalingGroup: record.autoScalingGroup,
    timeToTrafficStoppedMs: f.timeToTrafficStoppedMs ?? null,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: record.deregisteredFrom,
    detached: record.detached,
    replacementInstanceId: record.replacement?.instanceId ?? null,
    reason: record.reason ?? summary(record),
    account: record.account,
    region: record.region,
  };
  const who = record.instanceId ?? 'an unidentified instance';
  const subject = ascii(`spot-responder: ${outcome} ${who}${record.autoScalingGroup ? ` (${record.autoScalingGroup})` : ''}`).slice(0, 100);
  const text = [
    `${record.detailType ?? 'An event'} for ${who}: ${outcome}.`,
    `Auto Scaling group: ${record.autoScalingGroup ?? 'none'}`,
    `Traffic stopped: ${notification.timeToTrafficStoppedMs === null ? 'no' : `${notification.timeToTrafficStoppedMs} ms after the signal`}` +
      (record.deregisteredFrom.length > 0 ? ` (${record.deregisteredFrom.length} target group(s))` : ''),
    `Replacement: ${record.detached ? 'detached with replacement' : 'no detach'}${notification.replacementInstanceId ? `, ${notification.replacementInstanceId} launched` : ''}`,
    `Time left at finish: ${record.msLeftAtFinish === null ? 'n/a' : `${record.msLeftAtFinish} ms`}`,
    `Reason: ${notification.reason}`,
    `Event ${record.eventId} at ${record.eventTime ?? 'unknown time'} (${record.account ?? '?'} / ${record.region ?? '?'}).`,
    'Full record: spot-responder history --json',
  ].join('\n');
  return { subject, text, notification };
}

/**
 * Observe mode: what the responder would have done, said as such; nothing was changed, so the
 * subject never reads like a handled interruption or a failure.
 */
function observedNotification(record: ResponseRecord, timeToTrafficStoppedMs: number | null): RenderedNotification {
  const who = record.instanceId ?? 'an unidentified instance';
  const would = observedSummary(record);
  const notification: Notification = {
    kind: 'spot-responder.notification',
    outcome: 'observed',
    eventId: record.eventId,
    eventTime: record.eventTime,
    signal: record.detailType,
    instanceId: record.instanceId,
    instanceAction: record.instanceAction,
    autoScalingGroup: record.autoScalingGroup,
    timeToTrafficStoppedMs,
    msLeftAtFinish: record.msLeftAtFinish,
    deregisteredFrom: [],
    detached: false,
    replacementInstanceId: null,
    reason: `observe mode, nothing changed: ${would}`,
    account: record.account,
    region: record.region,
  };
  const subject = ascii(`spot-responder: observed ${who}${record.autoScalingGroup ? ` (${record.autoScalingGroup})` : ''}, no action taken`).slice(0, 100);
  const text = [
    `${record.detailType ?? 'An event'} for ${who}: observed (the responder is in observe mode and changed nothing).`,
    `It would have: ${would}.`,
    `Auto Scaling group: ${record.autoScalingGroup ?? 'none'}`,
    `Event ${record.eventId} at ${record.eventTime ?? 'unknown time'} (${record.account ?? '?'} / ${record.region ?? '?'}).`,
    'Full record: spot-responder history --json',
  ].join('\n');
  return { subject, text, notification };
}

/**
 * The planned calls of an observed record, in words: "deregister from 3 target group(s),
 * detach from web-asg with replacement". Shared with the CLI's history.
 */
export function observedSummary(record: Pick<ResponseRecord, 'actions'>): string {
  const planned = record.actions.filter((a) => a.result === 'planned');
  const groups = new Set(planned.filter((a) => a.action === 'deregister').map((a) => a.target));
  const parts: string[] = [];
  if (groups.size > 0) parts.push(`deregister from ${groups.size} target group(s)`);
  for (const a of planned) {
    if (a.action === 'detach') parts.push(`detach from ${a.target} with replacement`);
    if (a.action === 'terminate-in-group') parts.push(`terminate in ${a.target} with replacement`);
    if (a.action === 'ecs-drain') parts.push('set its ECS container instance DRAINING');
  }
  return parts.join(', ') || 'nothing';
}

function summary(record: ResponseRecord): string {
  const parts = [`deregistered from ${record.deregisteredFrom.length} target group(s)`];
  if (record.detached) parts.push('detached with replacement');
  if (record.actions.some((a) => a.action === 'terminate-in-group' && a.result === 'ok')) parts.push('terminated in group');
  if (record.actions.some((a) => a.action === 'ecs-drain' && a.result === 'ok')) parts.push('ECS draining');
  return parts.join(', ');
}

/** SNS subjects must be ASCII without control characters. */
function ascii(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?');
}
