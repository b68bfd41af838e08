// EventBridge envelopes exactly as EC2 sends them, for the demo, replays and tests.
import { randomUUID } from 'node:crypto';
import {
  EC2_EVENT_SOURCE,
  INSTANCE_STATE_CHANGE,
  REBALANCE_RECOMMENDATION,
  SPOT_INTERRUPTION_WARNING,
} from '../lambda/events/detail-types';

export interface EnvelopeOptions {
  region?: string;
  account?: string;
  /** ISO time; now (to the second) by default. */
  time?: string;
  id?: string;
}

/** An event time as EC2 stamps it: UTC, whole seconds (`2025-03-04T11:02:07Z`). */
export function eventTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function envelope(detailType: string, instanceId: string, detail: Record<string, unknown>, opts: EnvelopeOptions) {
  const region = opts.region ?? 'us-east-1';
  const account = opts.account ?? '123456789012';
  return {
    version: '0',
    id: opts.id ?? randomUUID(),
    'detail-type': detailType,
    source: EC2_EVENT_SOURCE,
    account,
    time: opts.time ?? eventTime(),
    region,
    resources: [`arn:aws:ec2:${region}:${account}:instance/${instanceId}`],
    detail,
  };
}

export function spotWarningEvent(instanceId: string, opts: EnvelopeOptions & { action?: string } = {}) {
  return envelope(
    SPOT_INTERRUPTION_WARNING,
    instanceId,
    { 'instance-id': instanceId, 'instance-action': opts.action ?? 'terminate' },
    opts,
  );
}

export function rebalanceRecommendationEvent(instanceId: string, opts: EnvelopeOptions = {}) {
  return envelope(REBALANCE_RECOMMENDATION, instanceId, { 'instance-id': instanceId }, opts);
}

/** EC2 sends one for every instance of the account, ours or not. */
export function stateChangeEvent(instanceId: string, state: string, opts: EnvelopeOptions = {}) {
  return envelope(INSTANCE_STATE_CHANGE, instanceId, { 'instance-id': instanceId, state }, opts);
}

/** `time` shifted by `seconds`, in EventBridge's format. */
export function secondsAfter(time: string, seconds: number): string {
  return eventTime(Date.parse(time) + seconds * 1000);
}
