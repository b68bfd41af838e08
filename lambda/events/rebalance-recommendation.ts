// EC2's early signal that a Spot instance is at elevated risk of interruption. Best effort: it
// may come well before the two-minute warning, together with it, or not at all.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html
import { z } from 'zod';
import type { RebalanceRecommendation } from '../core/model';
import { defineEventKind, ec2Fields, envelopeSignalFields } from './envelope';
import { EC2_EVENT_SOURCE, REBALANCE_RECOMMENDATION } from './detail-types';

export const rebalanceRecommendation = defineEventKind({
  source: EC2_EVENT_SOURCE,
  detailType: REBALANCE_RECOMMENDATION,
  detail: z.object({
    'instance-id': ec2Fields.instanceId,
  }),
  convert: (event): RebalanceRecommendation => ({
    kind: 'rebalance-recommendation',
    ...envelopeSignalFields(event),
    instanceId: event.detail['instance-id'],
  }),
});
