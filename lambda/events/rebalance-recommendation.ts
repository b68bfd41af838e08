// EC2's early signal that a Spot instance is at elevated risk of interruption. Best effort: it
// may come well before the two-minute warning, together with it, or not at all.
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/rebalance-recommendations.html
import { z } from 'zod';
import type { RebalanceRecommendation } from '../core/model';
import { defineEventKind, ec2Fields, envelopeSignalFields } from './envelope';

export const rebalanceRecommendation = defineEventKind({
  source: 'aws.ec2',
  detailType: 'EC2 Instance Rebalance Recommendation',
  detail: z.object({
    'instance-id': ec2Fields.instanceId,
  }),
  convert: (event): RebalanceRecommendation => ({
    kind: 'rebalance-recommendation',
    ...envelopeSignalFields(event),
    instanceId: event.detail['instance-id'],
  }),
});
