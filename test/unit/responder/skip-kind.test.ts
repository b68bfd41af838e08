// Every skip path of the responder leaves its SkipKind on the record it returns and writes,
// beside the free-text reason.
import 'aws-sdk-client-mock-jest';
import { DescribeAutoScalingGroupsCommand, DescribeAutoScalingInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DescribeInstancesCommand } from '@aws-sdk/client-ec2';
import { BatchGetCommand, GetCommand } from '@aws-sdk/lib-dynamodb';
import type { ResponderBehaviour } from '../../../lambda/core/behaviour';
import type { SkipKind } from '../../../lambda/core/model';
import { loadEvent, type RawEvent } from '../../support/fixtures';
import {
  eventTimeOf,
  finishedRecord,
  groupReply,
  indexReply,
  instanceReply,
  mockAws,
  NO_MEMBERSHIP,
  terminateWarning,
  unclaimedPuts,
  worldFor,
  type MockAws,
} from '../../support/mock-aws';

const REPLACE: ResponderBehaviour = { rebalanceAction: 'replace', tagPolicy: { mode: 'opt-out', key: 'spot-responder' } };
const OPT_IN: ResponderBehaviour = { rebalanceAction: 'record', tagPolicy: { mode: 'opt-in', key: 'spot-responder' } };
const rebalance = (): RawEvent => loadEvent('rebalance-recommendation/recommendation.json');

describe('a skipped response names its kind', () => {
  const claimed: Array<[SkipKind, () => { event: RawEvent; aws: MockAws; behaviour?: ResponderBehaviour }]> = [
    ['record-only', () => ({ event: rebalance(), aws: worldFor(rebalance()) })],
    [
      'unknown-instance',
      () => {
        const aws = worldFor(terminateWarning());
        aws.ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
        return { event: terminateWarning(), aws };
      },
    ],
    [
      'already-terminated',
      () => {
        const aws = worldFor(terminateWarning());
        aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ state: 'terminated' }));
        return { event: terminateWarning(), aws };
      },
    ],
    [
      'excluded-by-tag',
      () => {
        const aws = worldFor(terminateWarning());
        aws.ec2.on(DescribeInstancesCommand).resolves(instanceReply({ tags: { 'spot-responder': 'off' } }));
        return { event: terminateWarning(), aws };
      },
    ],
    ['not-opted-in', () => ({ event: terminateWarning(), aws: worldFor(terminateWarning()), behaviour: OPT_IN })],
    [
      'no-group',
      () => {
        const aws = worldFor(rebalance());
        aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(NO_MEMBERSHIP);
        return { event: rebalance(), aws, behaviour: REPLACE };
      },
    ],
    [
      'capacity-rebalancing',
      () => {
        const aws = worldFor(rebalance());
        aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupReply({ capacityRebalance: true }));
        return { event: rebalance(), aws, behaviour: REPLACE };
      },
    ],
    [
      'nothing-to-do',
      () => {
        const aws = worldFor(terminateWarning());
        aws.autoScaling.on(DescribeAutoScalingInstancesCommand).resolves(NO_MEMBERSHIP);
        aws.dynamo.on(BatchGetCommand).resolves(indexReply([]));
        return { event: terminateWarning(), aws };
      },
    ],
  ];

  it.each(claimed)('%s: on the record returned and the record written', async (skipKind, world) => {
    // Prepare
    const { event, aws, behaviour } = world();

    // Act
    const record = await aws.handler(behaviour ? { behaviour } : {})(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind, reason: expect.any(String) });
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', skipKind });
  });

  it('too-late: on the record written without a claim', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = mockAws({ now: eventTimeOf(event) + 121_000 });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'too-late' });
    expect(unclaimedPuts(aws)[0]?.Item).toMatchObject({ outcome: 'skipped', skipKind: 'too-late' });
  });

  it('not-acted-on: a state change of an instance no response touched', async () => {
    // Prepare
    const event = loadEvent('instance-state-change/stopping.json');
    const aws = worldFor(event);
    aws.dynamo.on(GetCommand).resolves({});

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'not-acted-on' });
  });

  it('is absent when the response acted', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record.outcome).toBe('handled');
    expect(record).not.toHaveProperty('skipKind');
  });
});
