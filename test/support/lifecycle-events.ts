// EventBridge envelopes for the rest of an interruption's life, shaped like the fixtures under
// test/fixtures/events/ and like `spotWarningEvent` (cli/demo.ts), which they sit beside:
// a rebalance recommendation before the warning, state changes after it.
import { randomUUID } from 'node:crypto';
import { spotWarningEvent } from '../../cli/demo';
import type { InstanceState } from '../../lambda/events/instance-state-change';

export { spotWarningEvent };

export interface EnvelopeOptions {
  id?: string;
  /** EventBridge's own format, whole seconds: see eventTime(). Now by default. */
  time?: string;
  region?: string;
  account?: string;
}

/** An event time as EC2 stamps it: UTC, whole seconds (`2025-03-04T11:02:07Z`). */
export function eventTime(ms: number = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function envelope(
  detailType: string,
  instanceId: string,
  detail: Record<string, unknown>,
  opts: EnvelopeOptions,
): Record<string, unknown> {
  const region = opts.region ?? 'us-east-1';
  const account = opts.account ?? '123456789012';
  return {
    version: '0',
    id: opts.id ?? randomUUID(),
    'detail-type': detailType,
    source: 'aws.ec2',
    account,
    time: opts.time ?? eventTime(),
    region,
    resources: [`arn:aws:ec2:${region}:${account}:instance/${instanceId}`],
    detail: { 'instance-id': instanceId, ...detail },
  };
}

/** EC2 Instance Rebalance Recommendation: the instance is at elevated risk; no deadline. */
export function rebalanceEvent(instanceId: string, opts: EnvelopeOptions = {}): Record<string, unknown> {
  return envelope('EC2 Instance Rebalance Recommendation', instanceId, {}, opts);
}

/** EC2 Instance State-change Notification: EC2 sends one for every instance, ours or not. */
export function stateChangeEvent(
  instanceId: string,
  state: InstanceState,
  opts: EnvelopeOptions = {},
): Record<string, unknown> {
  return envelope('EC2 Instance State-change Notification', instanceId, { state }, opts);
}
