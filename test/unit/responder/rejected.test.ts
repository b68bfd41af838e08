// Events the responder cannot act on are permanent failures: recorded and returned, never
// thrown (a throw makes AWS deliver them again), and they never reach the fleet.
import 'aws-sdk-client-mock-jest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { DetachInstancesCommand } from '@aws-sdk/client-auto-scaling';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { BatchGetCommand, TransactWriteCommand } from '@aws-sdk/lib-dynamodb';
import { parseEvent, type AcceptPolicy } from '../../../lambda/events';
import { EVENT_FIXTURES_DIR, fixturePolicy, loadEvent, loadJson } from '../../support/fixtures';
import { TABLE_NAME, eventTimeOf, fleetMocks, mockAws, unclaimedPuts } from '../../support/mock-aws';

const INVALID = readdirSync(join(EVENT_FIXTURES_DIR, 'invalid'))
  .filter((file) => file.endsWith('.json'))
  .sort();

/** The invalid fixtures' own time, five seconds on: inside the deadline had they been valid. */
const NOW = Date.parse('2025-03-05T08:30:05Z');

/** What the parser says about a fixture: the oracle for the reason and the record's id. */
function rejectionOf(raw: unknown, policy: AcceptPolicy = fixturePolicy()) {
  const parsed = parseEvent(raw, policy);
  if (parsed.ok) throw new Error('fixture unexpectedly valid');
  return parsed.rejection;
}

describe('an invalid event', () => {
  it.each(INVALID)('%s is rejected with the parser\'s reason, without throwing', async (file) => {
    // Prepare
    const raw = loadJson(`invalid/${file}`);
    const rejection = rejectionOf(raw);
    const aws = mockAws({ now: NOW });

    // Act
    const record = await aws.handler()(raw);

    // Assess
    expect(rejection.reason).not.toBe('');
    expect(record).toMatchObject({ outcome: 'rejected', reason: rejection.reason, eventId: rejection.eventId });
  });

  it.each(INVALID)('%s is recorded once, unclaimed and never overwriting a record', async (file) => {
    // Prepare
    const raw = loadJson(`invalid/${file}`);
    const rejection = rejectionOf(raw);
    const aws = mockAws({ now: NOW });

    // Act
    await aws.handler()(raw);

    // Assess
    expect(unclaimedPuts(aws)).toEqual([
      expect.objectContaining({
        TableName: TABLE_NAME,
        ConditionExpression: 'attribute_not_exists(pk)',
        Item: expect.objectContaining({
          pk: `EVENT#${rejection.eventId}`,
          status: 'REJECTED',
          outcome: 'rejected',
          reason: rejection.reason,
          deadline: null,
        }),
      }),
    ]);
    expect(aws.dynamo).not.toHaveReceivedCommand(TransactWriteCommand);
  });

  it.each(INVALID)('%s never reaches the fleet, not even for a read', async (file) => {
    // Prepare
    const raw = loadJson(`invalid/${file}`);
    const aws = mockAws({ now: NOW });

    // Act
    await aws.handler()(raw);

    // Assess
    for (const stub of fleetMocks(aws)) expect(stub).not.toHaveReceivedAnyCommand();
    expect(aws.dynamo).not.toHaveReceivedCommand(BatchGetCommand);
  });
});

describe('a warning from another account', () => {
  it('is rejected by the fixtures\' policy, naming the account', async () => {
    // Prepare
    const event = loadEvent('invalid/foreign-account.json');
    const aws = mockAws({ now: eventTimeOf(event) + 5_000 });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({
      outcome: 'rejected',
      account: '210987654321',
      reason: 'account "210987654321" is not accepted (to respond to it, add it to acceptedAccounts: the construct prop or the spotResponder:acceptedAccounts context key; replay: --account)',
    });
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
  });

  it.each<[string, AcceptPolicy]>([
    ['names that account', { accounts: ['123456789012', '210987654321'], regions: ['us-east-1'] }],
    ['accepts every account', { accounts: '*', regions: ['us-east-1'] }],
  ])('is handled when the policy %s', async (_name, policy) => {
    // Prepare
    const event = loadEvent('invalid/foreign-account.json');
    const aws = mockAws({ now: eventTimeOf(event) + 5_000, policy });

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', account: '210987654321', detached: true });
    expect(aws.elbv2).toHaveReceivedCommandTimes(DeregisterTargetsCommand, 3);
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
  });
});
