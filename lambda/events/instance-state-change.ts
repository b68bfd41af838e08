// EC2 reports every instance state change; after a warning, these say when the interruption
// actually happened (stopping, shutting-down) and finished (stopped, terminated).
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/monitoring-instance-state-changes.html
import { z } from 'zod';
import type { InstanceStateChange } from '../core/model';
import { defineEventKind, ec2Fields, envelopeSignalFields, oneOf } from './envelope';
import { EC2_EVENT_SOURCE, INSTANCE_STATE_CHANGE } from './detail-types';

/** The states AWS documents for this event, in lifecycle order. */
export const INSTANCE_STATES = ['pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated'] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

export const instanceStateChange = defineEventKind({
  source: EC2_EVENT_SOURCE,
  detailType: INSTANCE_STATE_CHANGE,
  detail: z.object({
    'instance-id': ec2Fields.instanceId,
    state: oneOf(INSTANCE_STATES),
  }),
  convert: (event): InstanceStateChange & { state: InstanceState } => ({
    kind: 'instance-state-change',
    ...envelopeSignalFields(event),
    instanceId: event.detail['instance-id'],
    state: event.detail.state,
  }),
});
