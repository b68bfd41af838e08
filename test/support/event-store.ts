// Shared setup for the DynamoEventStore tests: one store, one record, one cancellation shape.
import { DynamoDBClient, TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { DynamoEventStore } from '../../lambda/aws/store/event-store';
import type { ResponseRecord } from '../../lambda/core/model';
import type { ClaimKeys } from '../../lambda/core/ports';

export const TABLE = 'spot-responder';
export const NOW = new Date('2024-05-03T10:00:30.000Z');
export const DAY_S = 86_400;
export const INSTANCE = 'i-0123456789abcdef0';
export const WARNING_TIME = '2024-05-03T10:00:00Z';
export const KEYS: ClaimKeys = { eventId: 'evt-1', signal: 'spot-interruption-warning', instanceId: INSTANCE, eventTime: WARNING_TIME };
export const LEASE = new Date('2024-05-03T10:03:00.000Z');
export const EVENT_PK = 'EVENT#evt-1';
export const WARNING_PK = `WARNING#${INSTANCE}#${WARNING_TIME}`;

/** A store on a fixed clock with an instant, observable sleep. */
export function makeStore() {
  const sleep = jest.fn(async () => undefined);
  const store = new DynamoEventStore({
    client: DynamoDBDocumentClient.from(new DynamoDBClient({})),
    tableName: TABLE,
    retentionDays: 90,
    now: () => NOW,
    sleep,
    random: () => 0.5,
  });
  return { store, sleep };
}

/** A handled warning's record; `extra` changes one thing. */
export function record(extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    eventId: 'evt-1',
    eventTime: '2024-05-03T10:00:00Z',
    detailType: 'EC2 Spot Instance Interruption Warning',
    instanceId: 'i-0123456789abcdef0',
    instanceAction: 'terminate',
    account: '111122223333',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: 'web-asg',
    targetGroups: ['arn:tg/a'],
    deregisteredFrom: ['arn:tg/a'],
    detached: true,
    actions: [{ action: 'detach', target: 'web-asg', result: 'ok', latencyMs: 120 }],
    deadline: '2024-05-03T10:02:00Z',
    msLeftAtFinish: 89_000,
    receivedAt: '2024-05-03T10:00:30.000Z',
    finishedAt: '2024-05-03T10:00:31.000Z',
    ...extra,
  };
}

/** Raw AttributeValues, as DynamoDB returns the old item in CancellationReasons. */
export function cancelled(...reasons: Array<{ Code: string; Item?: Record<string, { S: string }> }>) {
  return new TransactionCanceledException({
    message: `Transaction cancelled, please refer cancellation reasons for specific reasons [${reasons.map((r) => r.Code).join(', ')}]`,
    $metadata: { httpStatusCode: 400 },
    CancellationReasons: reasons,
  });
}
