// Building the record of a response: what every record carries, and the fleet-facing part.
import type {
  ActionKind,
  ActionResult,
  EventIdentity,
  InstanceStateChange,
  Outcome,
  RebalanceRecommendation,
  ResponseRecord,
  SpotWarning,
} from '../core/model';
import type { Rejection } from '../events';
import { withoutUndefined } from '../core/objects';
import { INSTANCE_STATE_CHANGE, REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../events/detail-types';

export const DETAIL_TYPES = {
  'spot-interruption-warning': SPOT_INTERRUPTION_WARNING,
  'rebalance-recommendation': REBALANCE_RECOMMENDATION,
  'instance-state-change': INSTANCE_STATE_CHANGE,
} as const;

/** The fleet-facing fields of a record, plus why nothing was done when that is the answer. */
export type FleetFields = Pick<
  ResponseRecord,
  | 'autoScalingGroup'
  | 'lifecycleState'
  | 'targetGroups'
  | 'deregisteredFrom'
  | 'detached'
  | 'actions'
  | 'indexRefreshedAt'
  | 'notes'
  | 'replacement'
  | 'timeline'
> & { skipReason?: string };

export function skip(action: ActionKind, target: string, reason: string): ActionResult {
  return { action, target, result: 'skipped', latencyMs: 0, reason };
}

export function fleetFields(fields: Partial<FleetFields>): FleetFields {
  return { autoScalingGroup: null, targetGroups: [], deregisteredFrom: [], detached: false, actions: [], ...fields };
}

export function baseRecord(
  signal: SpotWarning | RebalanceRecommendation | InstanceStateChange,
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

export function finalize(
  base: ResponseRecord,
  now: () => number,
  deadline: number | null,
  fields: Partial<ResponseRecord>,
): ResponseRecord {
  const finished = now();
  return withoutUndefined({
    ...base,
    ...fields,
    finishedAt: iso(finished),
    msLeftAtFinish: deadline === null ? null : deadline - finished,
  }) as ResponseRecord;
}

/** The record of an event that got no response at all: rejected, or failed before a claim. */
export function unansweredRecord(
  identity: EventIdentity,
  outcome: Extract<Outcome, 'rejected' | 'failed'>,
  reason: string,
  receivedAt: number,
  finished: number,
): ResponseRecord {
  return {
    ...identity,
    outcome,
    reason,
    ...fleetFields({}),
    deadline: null,
    msLeftAtFinish: null,
    receivedAt: iso(receivedAt),
    finishedAt: iso(finished),
  };
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
