// The dry run's stand-in for naming replacements: it reads the group's waits as the real store
// does and lists the transaction it would send. Nothing is written, so two sightings in one
// dry run must still not be given the same wait, as the real store's taken wait prevents.
import 'aws-sdk-client-mock-jest';
import { mockClient } from 'aws-sdk-client-mock';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { encodeWait } from '../../../lambda/core/replacement-waits';
import type { ReplacementWait } from '../../../lambda/core/ports';
import { PlanJournal } from '../../../lambda/dry-run/guard';
import { ReadOnlyEventStore } from '../../../lambda/dry-run/read-only-store';

const GROUP = 'web-asg';
const WARNING = 'EC2 Spot Instance Interruption Warning';
const wait = (n: number, at: string): ReplacementWait => ({ eventId: `evt-${n}`, instanceId: `i-00000000000000000${n}`, signalDetailType: WARNING, signalTime: at });
const EARLY = wait(1, '2024-05-03T10:00:00Z');
const LATE = wait(2, '2024-05-03T10:00:05Z');

describe('ReadOnlyEventStore.assignReplacement (dry run)', () => {
  it('plans every write of the real transaction, and gives two sightings of one run two different waits', async () => {
    // Prepare
    const dynamo = mockClient(DynamoDBDocumentClient);
    dynamo.on(GetCommand, { Key: { pk: `REPLACING#${GROUP}` } }).resolves({
      Item: { waiting: new Set([encodeWait(EARLY), encodeWait(LATE)]), replaced: new Set([EARLY.instanceId, LATE.instanceId]) },
    });
    const journal = new PlanJournal();
    const store = new ReadOnlyEventStore({
      client: DynamoDBDocumentClient.from(new DynamoDBClient({})),
      tableName: 'records',
      journal,
      now: () => new Date('2024-05-03T10:00:30Z'),
    });

    // Act
    const first = await store.assignReplacement(GROUP, 'i-0aaaaaaaaaaaaaaa1', '2024-05-03T10:00:09Z');
    const second = await store.assignReplacement(GROUP, 'i-0aaaaaaaaaaaaaaa2', '2024-05-03T10:00:12Z');
    const again = await store.assignReplacement(GROUP, 'i-0aaaaaaaaaaaaaaa1', '2024-05-03T10:00:14Z');

    // Assess
    expect([first?.eventId, second?.eventId, again]).toEqual(['evt-1', 'evt-2', null]);
    const writes = journal.steps.filter((s) => s.kind === 'write');
    expect(writes).toHaveLength(2);
    const items = (writes[0]?.input as { items: Array<Record<string, unknown>> }).items;
    expect(items.map((i) => i.Update ?? i.Put)).toEqual([`REPLACING#${GROUP}`, 'EVENT#evt-1', 'ATTEMPTS#evt-1', 'INSTANCE#i-0aaaaaaaaaaaaaaa1']);
    dynamo.restore();
  });
});
