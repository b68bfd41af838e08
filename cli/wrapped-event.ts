// Events arrive wrapped as often as bare: copied out of a dead-letter queue, a Lambda on-failure
// destination, an SQS console or an SNS subscription. `replay` and `dlq` unwrap them to the
// EventBridge event inside, so a saved failure replays as the event it was, not as a rejected,
// unidentified one. The shapes (zod) are only what identifies each wrapper; the event inside is
// passed on untouched and the responder validates it as it validates any event.
import { z } from 'zod';

/**
 * Lambda on-failure destination record (Lambda developer guide, "Capturing records of Lambda
 * asynchronous invocations"): `requestPayload` is the event the function was invoked with.
 */
const LambdaFailureRecord = z.looseObject({
  requestContext: z.looseObject({ functionArn: z.string(), condition: z.string().optional() }),
  requestPayload: z.unknown(),
  responsePayload: z.unknown().optional(),
});

/** One SQS message as ReceiveMessage returns it (`aws sqs receive-message`, the SDK): `Body`. */
const SqsMessage = z.looseObject({ MessageId: z.string().optional(), Body: z.string() });

/** ReceiveMessage's whole answer: `{ Messages: [...] }`. */
const SqsReceiveOutput = z.looseObject({ Messages: z.array(SqsMessage).min(1) });

/** The SQS event a Lambda gets from an event source mapping: `Records[].body`. */
const SqsBatch = z.looseObject({
  Records: z.array(z.looseObject({ body: z.string(), eventSource: z.literal('aws:sqs').optional() })).min(1),
});

/** An SNS notification as delivered to SQS or HTTPS (`Type: Notification`, `Message`). */
const SnsNotification = z.looseObject({ Type: z.literal('Notification'), Message: z.string() });

/** The SNS event a Lambda subscriber gets: `Records[].Sns.Message`. */
const SnsBatch = z.looseObject({
  Records: z.array(z.looseObject({ Sns: z.looseObject({ Message: z.string() }) })).min(1),
});

/** What a wrapper was: names the path of an unwrapped event (`sqs-message > sns-notification`). */
export type WrapperKind =
  | 'lambda-on-failure-record'
  | 'sqs-message'
  | 'sqs-receive-output'
  | 'sqs-batch'
  | 'sns-notification'
  | 'sns-batch';

export interface UnwrappedEvent {
  event: unknown;
  /** The wrappers taken off, outermost first; empty for a bare event. */
  via: WrapperKind[];
}

export interface UnwrapResult {
  events: UnwrappedEvent[];
  /** Why a wrapper's content could not be taken out (not JSON); that wrapper is kept as it is. */
  problems: string[];
}

/** Wrappers in wrappers (an SNS notification in an SQS message) are taken off up to this depth. */
const MAX_DEPTH = 4;

/**
 * The EventBridge events inside `value`: the value itself when it is not a known wrapper (an
 * event, or something the responder will reject with its reason), else what each wrapper holds,
 * recursively. A body that is not JSON keeps its wrapper (replayed as it is, rejected) and is
 * reported in `problems`. Never throws.
 */
export function unwrapEvent(value: unknown, depth = 0, via: WrapperKind[] = []): UnwrapResult {
  if (depth >= MAX_DEPTH || isEventBridgeEvent(value)) return { events: [{ event: value, via }], problems: [] };
  const inner = wrapped(value);
  if (!inner) return { events: [{ event: value, via }], problems: [] };
  const results = inner.contents.map((content, i) => {
    const where = inner.contents.length > 1 ? `${inner.kind} item ${i + 1}` : inner.kind;
    if (content.json === undefined) return unwrapEvent(content.value, depth + 1, [...via, inner.kind]);
    try {
      return unwrapEvent(JSON.parse(content.json), depth + 1, [...via, inner.kind]);
    } catch (err) {
      return {
        events: [{ event: value, via }],
        problems: [`${where}: its content is not JSON (${(err as Error).message}); kept as it is`],
      };
    }
  });
  // One unparsable record keeps the whole wrapper once, not once per record.
  const events = results.some((r) => r.problems.length > 0 && r.events[0]?.event === value)
    ? [{ event: value, via }]
    : results.flatMap((r) => r.events);
  return { events, problems: results.flatMap((r) => r.problems) };
}

type Content = { json: string; value?: undefined } | { json?: undefined; value: unknown };

function wrapped(value: unknown): { kind: WrapperKind; contents: Content[] } | undefined {
  const failure = LambdaFailureRecord.safeParse(value);
  if (failure.success) return { kind: 'lambda-on-failure-record', contents: [{ value: failure.data.requestPayload }] };
  const sqs = SqsMessage.safeParse(value);
  if (sqs.success) return { kind: 'sqs-message', contents: [{ json: sqs.data.Body }] };
  const received = SqsReceiveOutput.safeParse(value);
  if (received.success) return { kind: 'sqs-receive-output', contents: received.data.Messages.map((m) => ({ json: m.Body })) };
  const sqsBatch = SqsBatch.safeParse(value);
  if (sqsBatch.success) return { kind: 'sqs-batch', contents: sqsBatch.data.Records.map((r) => ({ json: r.body })) };
  const sns = SnsNotification.safeParse(value);
  if (sns.success) return { kind: 'sns-notification', contents: [{ json: sns.data.Message }] };
  const snsBatch = SnsBatch.safeParse(value);
  if (snsBatch.success) return { kind: 'sns-batch', contents: snsBatch.data.Records.map((r) => ({ json: r.Sns.Message })) };
  return undefined;
}

/** The record's invocation payload and why it failed, when `value` is a Lambda on-failure record. */
export function lambdaFailure(value: unknown): { event: unknown; error: string | undefined } | undefined {
  const parsed = LambdaFailureRecord.safeParse(value);
  if (!parsed.success) return undefined;
  const response = parsed.data.responsePayload as { errorType?: unknown; errorMessage?: unknown } | undefined;
  const message = [response?.errorType, response?.errorMessage].filter((v) => typeof v === 'string').join(': ');
  return { event: parsed.data.requestPayload, error: message || parsed.data.requestContext.condition };
}

/** Has the envelope fields every EventBridge event has: never mistaken for a wrapper. */
export function isEventBridgeEvent(value: unknown): boolean {
  return typeof value === 'object' && value !== null && 'detail-type' in value && 'source' in value;
}
