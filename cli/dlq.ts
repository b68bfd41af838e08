// `spot-responder dlq list | redrive`: the events that could not be handled, from every
// dead-letter queue of the stack, whatever shape they were dead-lettered in:
// - EventBridge rule DLQ: the body is the event itself; why it failed is in the message
//   attributes ERROR_CODE / ERROR_MESSAGE / RULE_ARN / TARGET_ARN (EventBridge user guide,
//   "Using dead-letter queues to process undelivered events");
// - Lambda on-failure destination: a JSON record whose `requestPayload` is the event and whose
//   `responsePayload` holds the error (Lambda developer guide, "Capturing records of Lambda
//   asynchronous invocations");
// - the event queue's own DLQ (SQS redrive policy): the body is the event, as EventBridge sent it.
//
// Redrive re-sends the original event and deletes the message only after the send succeeded.
// Where to: the queue its rule feeds (warnings and rebalance recommendations to the warning
// queue, everything else to the state-change queue): the very path EventBridge takes, with the
// same batching, concurrency and redrive policy, so an event that fails again comes back to a
// DLQ. Never a direct Invoke: the responder accepts only its queues' records (the source guard),
// so an invoked event would be recorded as rejected and lost from the DLQ. Not EventBridge
// PutEvents: `aws.*` sources are reserved for AWS, so an `aws.ec2` event cannot be put on a bus
// by anyone else.
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
  SendMessageCommand,
  type Message,
} from '@aws-sdk/client-sqs';
import { AWS_CALL_POLICY, errorInfo } from '../lambda/aws/clients';
import { REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../lambda/events/detail-types';
import { clientOptionsFor, type AwsTarget } from './aws-target';
import { isEventBridgeEvent, lambdaFailure } from './wrapped-event';

export type DlqMessageKind = 'eventbridge-rule-dlq' | 'lambda-on-failure-record' | 'event-queue-dlq' | 'unrecognised';

/** One dead-lettered message, classified; `event` is what redrive re-sends. */
export interface DlqEntry {
  queueUrl: string;
  messageId: string;
  receiptHandle: string;
  kind: DlqMessageKind;
  /** The original EventBridge event; absent when unrecognised. */
  event?: Record<string, unknown>;
  eventId?: string;
  detailType?: string;
  instanceId?: string;
  /** Why it was dead-lettered, as the wrapper says. */
  error?: string;
  /** When the message was first sent to the DLQ (ISO). */
  sentAt?: string;
  /** Why the message was not recognised. */
  problem?: string;
}

export interface DlqClients {
  sqs: SQSClient;
}

export function dlqClientsFor(target: AwsTarget): DlqClients {
  const options = { ...clientOptionsFor(target), maxAttempts: AWS_CALL_POLICY.maxAttempts };
  return { sqs: new SQSClient(options) };
}

/** Classify one SQS message of a dead-letter queue. Never throws: a stranger is `unrecognised`. */
export function classifyDlqMessage(queueUrl: string, message: Message): DlqEntry {
  const base = {
    queueUrl,
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    ...(message.Attributes?.SentTimestamp
      ? { sentAt: new Date(Number(message.Attributes.SentTimestamp)).toISOString() }
      : {}),
  };
  let body: unknown;
  try {
    body = JSON.parse(message.Body ?? '');
  } catch {
    return { ...base, kind: 'unrecognised', problem: 'the body is not JSON' };
  }
  const failure = lambdaFailure(body);
  if (failure) {
    return isEventBridgeEvent(failure.event)
      ? { ...base, kind: 'lambda-on-failure-record', ...describe(failure.event), ...(failure.error ? { error: failure.error } : {}) }
      : { ...base, kind: 'unrecognised', problem: 'a Lambda on-failure record whose requestPayload is no EventBridge event' };
  }
  if (isEventBridgeEvent(body)) {
    const attr = (name: string) => message.MessageAttributes?.[name]?.StringValue;
    const fromRule = attr('RULE_ARN') !== undefined || attr('ERROR_CODE') !== undefined;
    const error = [attr('ERROR_CODE'), attr('ERROR_MESSAGE')].filter(Boolean).join(': ');
    return {
      ...base,
      kind: fromRule ? 'eventbridge-rule-dlq' : 'event-queue-dlq',
      ...describe(body),
      ...(error ? { error } : {}),
    };
  }
  return { ...base, kind: 'unrecognised', problem: 'neither an EventBridge event nor a Lambda on-failure record' };
}

function describe(value: unknown): Pick<DlqEntry, 'event' | 'eventId' | 'detailType' | 'instanceId'> {
  const event = value as Record<string, unknown>;
  const detail = (typeof event.detail === 'object' && event.detail !== null ? event.detail : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  const eventId = str(event.id);
  const detailType = str(event['detail-type']);
  const instanceId = str(detail['instance-id']);
  return { event, ...(eventId ? { eventId } : {}), ...(detailType ? { detailType } : {}), ...(instanceId ? { instanceId } : {}) };
}

/** How long received messages stay hidden while we look at them; released (visibility 0) after. */
const LOOK_VISIBILITY_S = 60;

/**
 * Up to `max` messages of the queue, classified. Each receive long-polls for 1 s (a short poll
 * samples only some SQS servers and can answer empty while messages wait). Messages stay hidden
 * until released: call `release` (list) or delete them (redrive).
 */
export async function receiveDlq(sqs: SQSClient, queueUrl: string, max: number): Promise<DlqEntry[]> {
  const entries: DlqEntry[] = [];
  while (entries.length < max) {
    const out = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: Math.min(10, max - entries.length),
        VisibilityTimeout: LOOK_VISIBILITY_S,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['All'],
      }),
    );
    const messages = out.Messages ?? [];
    if (messages.length === 0) break;
    entries.push(...messages.map((m) => classifyDlqMessage(queueUrl, m)));
  }
  return entries;
}

/** Make messages visible again at once (ChangeMessageVisibility 0); best effort, they reappear anyway. */
export async function release(sqs: SQSClient, entries: readonly DlqEntry[]): Promise<void> {
  await Promise.allSettled(
    entries.map((e) =>
      sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: e.queueUrl, ReceiptHandle: e.receiptHandle, VisibilityTimeout: 0 })),
    ),
  );
}

/** Where redrive re-sends events: the stack's two queues (WarningQueueUrl, StateChangeQueueUrl outputs). */
export interface RedriveTarget {
  warningQueueUrl: string;
  stateChangeQueueUrl: string;
}

/** The queue whose rule would have carried `event`: by its detail-type, as lib/delivery.ts routes them. */
export function queueFor(event: Record<string, unknown>, target: RedriveTarget): string {
  const detailType = event['detail-type'];
  return detailType === SPOT_INTERRUPTION_WARNING || detailType === REBALANCE_RECOMMENDATION
    ? target.warningQueueUrl
    : target.stateChangeQueueUrl;
}

export interface RedriveResult {
  entry: DlqEntry;
  result: 'redriven' | 'failed' | 'skipped';
  /** Why it failed or was skipped. */
  reason?: string;
}

/**
 * Re-send each recognised entry's event to `target`, then delete it from its DLQ. A failed send
 * leaves the message in the DLQ (released at once); a failed delete after a successful send is
 * reported, and the event may be redriven twice: the responder's claim makes that a duplicate.
 * Unrecognised messages are skipped and stay.
 */
export async function redrive(clients: DlqClients, entries: readonly DlqEntry[], target: RedriveTarget): Promise<RedriveResult[]> {
  const results: RedriveResult[] = [];
  for (const entry of entries) {
    if (!entry.event) {
      await release(clients.sqs, [entry]);
      results.push({ entry, result: 'skipped', reason: `unrecognised (${entry.problem ?? 'unknown shape'}): left in the queue` });
      continue;
    }
    try {
      await send(clients, entry.event, target);
    } catch (err) {
      await release(clients.sqs, [entry]);
      const info = errorInfo(err);
      results.push({ entry, result: 'failed', reason: `not re-sent (${info.name}: ${info.message}); left in the queue` });
      continue;
    }
    try {
      await clients.sqs.send(new DeleteMessageCommand({ QueueUrl: entry.queueUrl, ReceiptHandle: entry.receiptHandle }));
      results.push({ entry, result: 'redriven' });
    } catch (err) {
      const info = errorInfo(err);
      results.push({
        entry,
        result: 'failed',
        reason: `re-sent, but not deleted from the DLQ (${info.name}: ${info.message}); a second redrive is a duplicate`,
      });
    }
  }
  return results;
}

async function send(clients: DlqClients, event: Record<string, unknown>, target: RedriveTarget): Promise<void> {
  await clients.sqs.send(new SendMessageCommand({ QueueUrl: queueFor(event, target), MessageBody: JSON.stringify(event) }));
}

/** One line per message for people. */
export function formatDlqEntry(e: DlqEntry): string {
  const what = e.event
    ? `${e.detailType ?? 'event'} ${e.eventId ?? '(no id)'}${e.instanceId ? ` for ${e.instanceId}` : ''}`
    : `unrecognised message (${e.problem ?? ''})`;
  return (
    `${e.messageId}  ${e.kind}  ${what}` +
    (e.sentAt ? `  dead-lettered ${e.sentAt}` : '') +
    (e.error ? `\n    error: ${e.error}` : '')
  );
}

/** The entry for --json: everything but the receipt handle (meaningless once released). */
export function dlqEntrySummary(e: DlqEntry): Omit<DlqEntry, 'receiptHandle'> {
  const { receiptHandle: _receiptHandle, ...rest } = e;
  return rest;
}
