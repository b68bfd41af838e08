// Building the record of a response: what every record carries, the fields a plan and its
// execution add, and the closing stamp (finishedAt, msLeftAtFinish).
import type { Ec2Signal, EventIdentity, InterruptionNotice, Outcome, ResponseRecord, TimelineEntry } from '../core/model';
import { withoutUndefined } from '../core/objects';
import { decideOutcome } from '../core/plan';
import type { ActPlan, SkipPlan } from '../core/response-plan';
import type { Rejection } from '../events';
import { actionsOf, type Executed } from './execute';
import { boundRecord } from '../events/bounds';
import {
  COMMAND_INVOCATION_STATUS_CHANGE,
  INSTANCE_STATE_CHANGE,
  REBALANCE_RECOMMENDATION,
  SPOT_INTERRUPTION_WARNING,
} from '../events/detail-types';

export const DETAIL_TYPES = {
  'spot-interruption-warning': SPOT_INTERRUPTION_WARNING,
  'rebalance-recommendation': REBALANCE_RECOMMENDATION,
  'instance-state-change': INSTANCE_STATE_CHANGE,
  'shutdown-command-status': COMMAND_INVOCATION_STATUS_CHANGE,
} as const;

/** The fleet-facing fields of a record. */
export type FleetFields = Pick<
  ResponseRecord,
  | 'autoScalingGroup'
  | 'lifecycleState'
  | 'instanceType'
  | 'availabilityZone'
  | 'targetGroups'
  | 'deregisteredFrom'
  | 'detached'
  | 'actions'
  | 'indexRefreshedAt'
  | 'notes'
  | 'replacement'
  | 'timeline'
>;

export function fleetFields(fields: Partial<FleetFields>): FleetFields {
  return { autoScalingGroup: null, targetGroups: [], deregisteredFrom: [], detached: false, actions: [], ...fields };
}

/** The first milestone of a response: the signal that started it. */
export function signalEntry(signal: InterruptionNotice): TimelineEntry {
  return signal.kind === 'spot-interruption-warning'
    ? { event: 'warning-received', at: signal.eventTime, detail: `instance-action ${signal.instanceAction}` }
    : { event: 'rebalance-recommended', at: signal.eventTime };
}

/**
 * A skip's fields: outcome 'skipped' with its kind and reason, what was found, the notes. A skip
 * recorded under a claim starts the instance's timeline; one recorded without a claim does not.
 */
export function skippedFields(signal: InterruptionNotice, plan: SkipPlan): Partial<ResponseRecord> {
  return {
    ...(plan.underClaim ? fleetFields({ ...plan.found, timeline: [signalEntry(signal)] }) : {}),
    ...(plan.notes.length > 0 ? { notes: plan.notes } : {}),
    outcome: 'skipped',
    skipKind: plan.skipKind,
    reason: plan.reason,
  };
}

/** How an act plan went: its calls, when they returned (epoch ms), the replacement seen. */
export interface Acted extends Executed {
  actedAt: number;
  replacement: NonNullable<ResponseRecord['replacement']> | null;
}

/** An act plan's fields: what was found and done, the milestones reached, and the outcome. */
export function actedFields(signal: InterruptionNotice, plan: ActPlan, acted: Acted): Partial<ResponseRecord> {
  const { deregistered, replaced, drained, replacement } = acted;
  const at = iso(acted.actedAt);
  const timeline: TimelineEntry[] = [signalEntry(signal)];
  if (deregistered.some((a) => a.result === 'ok') && deregistered.every((a) => a.result !== 'failed')) {
    timeline.push({ event: 'traffic-stopped', at, detail: `${deregistered.length} registration(s)` });
  }
  if (drained?.result === 'ok') timeline.push({ event: 'ecs-draining', at, detail: plan.ecsDrain?.containerInstance.cluster });
  const replacedOk = replaced?.result === 'ok';
  if (replacedOk) timeline.push({ event: replaced.action === 'detach' ? 'detached' : 'terminated-in-group', at });
  if (replacement) timeline.push({ event: 'replacement-launched', at: replacement.seenAt, detail: replacement.instanceId });
  const shutdown = acted.shutdown;
  if (shutdown?.result === 'ok') {
    timeline.push({ event: 'shutdown-command-sent', at, detail: `command ${shutdown.commandId ?? '?'}, ${shutdown.reason ?? ''}`.trim() });
  }
  const actions = [...plan.failedLookups, ...plan.skippedDeregistrations, ...actionsOf(acted)];
  const notes =
    shutdown?.result === 'failed'
      ? [...plan.notes, `the graceful-shutdown command was not sent (${shutdown.error?.name ?? 'failed'}); the response's outcome does not depend on it`]
      : plan.notes;
  return {
    ...fleetFields({
      ...plan.found,
      targetGroups: unique([
        ...deregistered.map((a) => a.target),
        ...plan.skippedDeregistrations.map((a) => a.target),
        ...(plan.group?.targetGroupArns ?? []),
      ]),
      deregisteredFrom: unique(deregistered.filter((a) => a.result === 'ok').map((a) => a.target)),
      detached: replacedOk && replaced.action === 'detach',
      actions,
      timeline,
      ...(replacement ? { replacement } : {}),
      ...(notes.length > 0 ? { notes } : {}),
    }),
    ...decideOutcome(actions),
  };
}

/** What every record of a signal starts with; deadline in epoch ms, null for state changes. */
export function baseRecord(
  signal: Ec2Signal,
  receivedAt: number,
  deadline: number | null,
): ResponseRecord {
  return {
    eventId: signal.eventId,
    eventTime: signal.eventTime,
    detailType: DETAIL_TYPES[signal.kind],
    instanceId: signal.instanceId,
    instanceAction: signal.kind === 'spot-interruption-warning' ? signal.instanceAction : null,
    account: signal.account,
    region: signal.region,
    outcome: 'handled',
    autoScalingGroup: null,
    targetGroups: [],
    deregisteredFrom: [],
    detached: false,
    actions: [],
    deadline: deadline === null ? null : iso(deadline),
    msLeftAtFinish: null,
    receivedAt: iso(receivedAt),
    finishedAt: iso(receivedAt),
  };
}

/**
 * Closes a record: the fields of its outcome over the base, stamped finishedAt (ISO) and
 * msLeftAtFinish (ms before the deadline, negative when late; null without a deadline).
 * Not the store's `finish`, which writes the closed record.
 */
export function closeRecord(
  base: ResponseRecord,
  now: () => number,
  deadline: number | null,
  fields: Partial<ResponseRecord>,
): ResponseRecord {
  const finished = now();
  return boundRecord(
    withoutUndefined({
      ...base,
      ...fields,
      finishedAt: iso(finished),
      msLeftAtFinish: deadline === null ? null : deadline - finished,
    }) as ResponseRecord,
  );
}

/** The record of an event that got no response at all: rejected, or failed before a claim. */
export function unansweredRecord(
  identity: EventIdentity,
  outcome: Extract<Outcome, 'rejected' | 'failed'>,
  reason: string,
  receivedAt: number,
  finished: number,
): ResponseRecord {
  return boundRecord({
    ...identity,
    outcome,
    reason,
    ...fleetFields({}),
    deadline: null,
    msLeftAtFinish: null,
    receivedAt: iso(receivedAt),
    finishedAt: iso(finished),
  });
}

export function rejectedRecord(rejection: Rejection, receivedAt: number, finished: number): ResponseRecord {
  const { eventId, eventTime, detailType, instanceId, instanceAction, account, region } = rejection;
  return unansweredRecord(
    { eventId, eventTime, detailType, instanceId, instanceAction, account, region },
    'rejected',
    rejection.reason,
    receivedAt,
    finished,
  );
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function unique(items: string[]): string[] {
  return [...new Set(items)];
}
