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
// Except a Spot terminate warning past its deadline: the responder answers a too-late redelivery
// of a failed response `failed` again on purpose (so it dead-letters and alarms), so re-sending
// it would only bring it back here after three more failed receives and alarms. Such a message is
// listed with why and left in its DLQ, or deleted with --delete-late; whether it is too late is
// the responder's own rule (core/plan.ts: responseWindow), asked of the event at redrive time.
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
import { humanDuration } from '../lambda/core/durations';
import { responseWindow } from '../lambda/core/plan';
import { parseEvent } from '../lambda/events';
import { REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../lambda/events/detail-types';
import { clientOptionsFor, type AwsTarget } from './aws-target';
import { STACK_OUTPUT, StackNotDeployedError, StackOutputMissingError, type StackOutputs } from './stack-target';
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

/** What `dlq list | redrive` were given on the command line; anything absent is read from the stack. */
export interface DlqFlags {
  /** --queue-url: the DLQs to read (default: every *DeadLetterQueueUrl output). */
  queueUrl?: readonly string[];
  /** --warning-queue-url (default: the WarningQueueUrl output). */
  warningQueueUrl?: string;
  /** --state-change-queue-url (default: the StateChangeQueueUrl output). */
  stateChangeQueueUrl?: string;
}

/**
 * The DLQs to read: --queue-url, else every *DeadLetterQueueUrl output of the stack (read only
 * then). Raises StackNotDeployedError naming --queue-url, or StackOutputMissingError.
 */
export async function dlqQueues(flags: DlqFlags, readStack: () => Promise<StackOutputs>): Promise<string[]> {
  if (flags.queueUrl && flags.queueUrl.length > 0) return [...flags.queueUrl];
  const stack = await orNaming(readStack, ['--queue-url']);
  if (stack.deadLetterQueues.length === 0) {
    throw new StackOutputMissingError(`stack ${stack.stackName} has no dead-letter queue output; pass --queue-url`);
  }
  return stack.deadLetterQueues.map((q) => q.url);
}

/**
 * What `dlq redrive` reads and where it re-sends: each of the DLQs (--queue-url) and the two
 * destination queues (--warning-queue-url, --state-change-queue-url) from its flag, else from
 * the stack's outputs. The stack is read at most once, and not at all when all three are given.
 * Raises StackNotDeployedError naming exactly the flags that were missing, or
 * StackOutputMissingError naming the outputs the stack lacks and the flags that replace them.
 */
export async function redriveSources(
  flags: DlqFlags,
  readStack: () => Promise<StackOutputs>,
): Promise<{ queues: string[]; target: RedriveTarget }> {
  const missing = [
    ...(flags.queueUrl && flags.queueUrl.length > 0 ? [] : ['--queue-url']),
    ...(flags.warningQueueUrl ? [] : ['--warning-queue-url']),
    ...(flags.stateChangeQueueUrl ? [] : ['--state-change-queue-url']),
  ];
  const stack = missing.length > 0 ? await orNaming(readStack, missing) : undefined;
  const queues = await dlqQueues(flags, async () => stack as StackOutputs);
  const warningQueueUrl = flags.warningQueueUrl ?? stack?.warningQueueUrl;
  const stateChangeQueueUrl = flags.stateChangeQueueUrl ?? stack?.stateChangeQueueUrl;
  if (!warningQueueUrl || !stateChangeQueueUrl) {
    const lacking = [
      ...(warningQueueUrl ? [] : [[STACK_OUTPUT.warningQueueUrl, '--warning-queue-url']]),
      ...(stateChangeQueueUrl ? [] : [[STACK_OUTPUT.stateChangeQueueUrl, '--state-change-queue-url']]),
    ];
    throw new StackOutputMissingError(
      `stack ${stack?.stackName ?? ''} has no ${lacking.map(([output]) => output).join(' / ')} output ` +
        `(deployed by an older version): redeploy it, or pass ${lacking.map(([, flag]) => flag).join(' and ')}; ` +
        'the messages stay in their DLQs meanwhile',
    );
  }
  return { queues, target: { warningQueueUrl, stateChangeQueueUrl } };
}

/** The stack's outputs; a stack that is not deployed is reported with the flags that do without it. */
async function orNaming(readStack: () => Promise<StackOutputs>, flags: readonly string[]): Promise<StackOutputs> {
  try {
    return await readStack();
  } catch (err) {
    throw err instanceof StackNotDeployedError ? err.naming(flags) : err;
  }
}

/** The queue whose rule would have carried `event`: by its detail-type, as lib/delivery.ts routes them. */
export function queueFor(event: Record<string, unknown>, target: RedriveTarget): string {
  const detailType = event['detail-type'];
  return detailType === SPOT_INTERRUPTION_WARNING || detailType === REBALANCE_RECOMMENDATION
    ? target.warningQueueUrl
    : target.stateChangeQueueUrl;
}

/**
 * Why the entry's event can no longer be acted on at `now` (epoch ms), or undefined when the
 * responder would still act on it. Asks the responder's own rule (core/plan.ts responseWindow:
 * a `terminate` warning received past its event time + 120 s is skipped as too late); stop and
 * hibernate warnings, rebalance recommendations, state changes and events the responder would
 * reject are never too late here. Which record history holds depends on how it was dead-lettered:
 * an EventBridge rule DLQ message never reached the responder.
 */
export function tooLateReason(entry: DlqEntry, now: number): string | undefined {
  if (!entry.event) return undefined;
  const parsed = parseEvent(entry.event, { accounts: '*', regions: '*' });
  if (!parsed.ok) return undefined;
  const signal = parsed.signal;
  if (signal.kind !== 'spot-interruption-warning' && signal.kind !== 'rebalance-recommendation') return undefined;
  const window = responseWindow(signal, now);
  if (!window.skipReason) return undefined;
  const history =
    entry.kind === 'eventbridge-rule-dlq'
      ? 'EventBridge never delivered it to the responder, so history holds no record of it'
      : 'its record stays failed in history';
  const what = signal.kind === 'spot-interruption-warning' ? `${signal.instanceAction} warning` : 'rebalance recommendation';
  return (
    `too late to act: the instance was reclaimed (a ${what} of ${signal.eventTime}, ` +
    `its deadline passed ${humanDuration(Math.max(0, now - window.deadline))} ago); ${history}`
  );
}

export interface RedriveResult {
  entry: DlqEntry;
  /**
   * redriven: re-sent and deleted; late: too late to act on, not re-sent, left in the DLQ;
   * deleted: too late, and deleted from the DLQ (--delete-late); skipped: unrecognised, left;
   * failed: see `reason`.
   */
  result: 'redriven' | 'late' | 'deleted' | 'failed' | 'skipped';
  /** Why it failed, was skipped or is late. */
  reason?: string;
}

export interface RedriveOptions {
  /** The clock the too-late rule is asked with (epoch ms); Date.now by default. */
  now?: () => number;
}

/**
 * Re-send each recognised entry's event to `target`, then delete it from its DLQ. A failed send
 * leaves the message in the DLQ (released at once); a failed delete after a successful send is
 * reported, and the event may be redriven twice: the responder's claim makes that a duplicate.
 * Unrecognised messages are skipped and released. An event too late to act on (tooLateReason) is
 * not sent: it comes back as `late`, still hidden, for the caller to release (leaveLate) or
 * delete (deleteLate).
 */
export async function redrive(
  clients: DlqClients,
  entries: readonly DlqEntry[],
  target: RedriveTarget,
  opts: RedriveOptions = {},
): Promise<RedriveResult[]> {
  const now = opts.now ?? Date.now;
  const results: RedriveResult[] = [];
  for (const entry of entries) {
    if (!entry.event) {
      await release(clients.sqs, [entry]);
      results.push({ entry, result: 'skipped', reason: `unrecognised (${entry.problem ?? 'unknown shape'}): left in the queue` });
      continue;
    }
    const late = tooLateReason(entry, now());
    if (late) {
      results.push({ entry, result: 'late', reason: late });
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

/** Leave the `late` results in their DLQ (released at once), saying so and how to clear them. */
export async function leaveLate(sqs: SQSClient, late: readonly RedriveResult[]): Promise<RedriveResult[]> {
  await release(
    sqs,
    late.map((r) => r.entry),
  );
  return late.map((r) => ({ ...r, reason: `${r.reason ?? 'too late to act'}; left in the DLQ (--delete-late deletes it)` }));
}

/**
 * Delete the `late` results' messages from their DLQ (DeleteMessage with the receipt handle of
 * the receive that is still hiding them): `deleted`, or `failed` with the error, the message then
 * staying in the DLQ.
 */
export async function deleteLate(sqs: SQSClient, late: readonly RedriveResult[]): Promise<RedriveResult[]> {
  const results: RedriveResult[] = [];
  for (const r of late) {
    try {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: r.entry.queueUrl, ReceiptHandle: r.entry.receiptHandle }));
      results.push({ ...r, result: 'deleted', reason: `${r.reason ?? 'too late to act'}; deleted from the DLQ (--delete-late)` });
    } catch (err) {
      await release(sqs, [r.entry]);
      const info = errorInfo(err);
      results.push({ ...r, result: 'failed', reason: `${r.reason ?? 'too late to act'}; not deleted (${info.name}: ${info.message}): left in the DLQ` });
    }
  }
  return results;
}

export interface RedriveRun {
  /** The DLQs to redrive, in order. */
  queues: readonly string[];
  target: RedriveTarget;
  /** --event-id: only the message(s) holding this event; the others are released untouched. */
  eventId?: string;
  /** --max: at most this many messages per queue. */
  max: number;
  /** --delete-late: delete the messages too late to act on, after listing them. */
  deleteLate: boolean;
  json: boolean;
  now?: () => number;
}

/**
 * `dlq redrive`: each queue's messages redriven (redrive), printed one per message (`--json`: one
 * object each, with `result` and `reason`). The messages too late to act on are listed after the
 * others, then left in the DLQ, or with `deleteLate` deleted (one `deleted` line per message, or
 * `failed`). Ends with a line on the late ones left. Exit code 1 when a send or a delete failed,
 * else 0 (a late message left in place is no failure: it is where it belongs).
 */
export async function runRedrive(
  clients: DlqClients,
  run: RedriveRun,
  print: (line: string) => void,
): Promise<{ exitCode: number; results: RedriveResult[] }> {
  const all: RedriveResult[] = [];
  const show = (r: RedriveResult) =>
    print(
      run.json
        ? JSON.stringify({ ...dlqEntrySummary(r.entry), result: r.result, ...(r.reason ? { reason: r.reason } : {}) })
        : `${r.result}: ${formatDlqEntry(r.entry)}${r.reason ? `\n    ${r.reason}` : ''}`,
    );
  for (const queueUrl of run.queues) {
    const received = await receiveDlq(clients.sqs, queueUrl, run.max);
    const chosen = run.eventId ? received.filter((e) => e.eventId === run.eventId) : received;
    await release(clients.sqs, received.filter((e) => !chosen.includes(e)));
    const results = await redrive(clients, chosen, run.target, run.now ? { now: run.now } : {});
    const sent = results.filter((r) => r.result !== 'late');
    const late = results.filter((r) => r.result === 'late');
    sent.forEach(show);
    let closed: RedriveResult[];
    if (run.deleteLate && late.length > 0) {
      // Listed before anything is deleted: the operator sees what goes, even if the run stops.
      if (!run.json) late.forEach(show);
      closed = await deleteLate(clients.sqs, late);
      closed.forEach((r) =>
        print(run.json ? JSON.stringify({ ...dlqEntrySummary(r.entry), result: r.result, reason: r.reason }) : closedLine(r)),
      );
    } else {
      closed = await leaveLate(clients.sqs, late);
      closed.forEach(show);
    }
    all.push(...sent, ...closed);
  }
  const left = all.filter((r) => r.result === 'late').length;
  if (!run.json && left > 0) {
    print(
      `${left} message${left === 1 ? '' : 's'} too late to act on left in the DLQ (not re-sent: the responder would fail ` +
        'them again, back to the DLQ); --delete-late deletes them',
    );
  }
  return { exitCode: all.some((r) => r.result === 'failed') ? 1 : 0, results: all };
}

/** After --delete-late listed a late message: what became of it, in one line. */
function closedLine(r: RedriveResult): string {
  return r.result === 'deleted'
    ? `deleted: ${r.entry.messageId} (too late to act on) from ${r.entry.queueUrl}`
    : `failed: ${r.entry.messageId} not deleted from ${r.entry.queueUrl}\n    ${r.reason ?? ''}`;
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
