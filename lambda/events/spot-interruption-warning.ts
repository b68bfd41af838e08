// EC2's two-minute warning that it will terminate, stop or hibernate a Spot instance.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/spot-instance-termination-notices.html
import { z } from 'zod';
import type { SpotWarning } from '../core/model';
import { defineEventKind, ec2Fields, envelopeSignalFields } from './envelope';
import { EC2_EVENT_SOURCE, SPOT_INTERRUPTION_WARNING } from './detail-types';

export const spotInterruptionWarning = defineEventKind({
  source: EC2_EVENT_SOURCE,
  detailType: SPOT_INTERRUPTION_WARNING,
  detail: z.object({
    'instance-id': ec2Fields.instanceId,
    'instance-action': ec2Fields.instanceAction,
  }),
  convert: (event): SpotWarning => ({
    kind: 'spot-interruption-warning',
    ...envelopeSignalFields(event),
    instanceId: event.detail['instance-id'],
    instanceAction: event.detail['instance-action'],
  }),
});
