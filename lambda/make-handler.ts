// The Lambda entry point as a factory: tests pass mocked dependencies, handler.ts passes
// the real ones built once per container.
//
// Two deliveries reach it: an SQS batch (the queue that turns a wave into batches; records whose
// `body` is the EventBridge event), answered with ReportBatchItemFailures, and one EventBridge
// event directly, answered with its record. With accepted sources configured (the construct
// always configures them: its two queues), only records of those queues are answered; a record
// of another queue, or a direct invocation, is recorded as a rejection, logged, counted
// (RejectedDeliveries) and never retried (lambda/events/delivery.ts says what this guard is
// worth). The CLI's replay and dry run call respond/respondBatch, not this handler.
//
// Not @aws-lambda-powertools/batch: its BatchProcessor calls a record handler once per record,
// and the point of a batch here is that its events share merged AWS calls (respondBatch). The
// partial response itself is one line: the message ids of the records whose outcome is failed.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import { errorInfo } from './aws/clients';
import type { ResponseRecord } from './core/model';
import { directVerdict, sqsRecordVerdict, untrustedRejection, type AcceptedSources, type SourceVerdict } from './events/delivery';
import { respond, respondBatch } from './responder';
import { LEASE_MS, type ResponderDeps } from './response/deps';
import { rejectedRecord } from './response/records';
import { reported } from './response/report';

export interface SpotResponderHandler {
  /** An SQS batch: one response per record, merged calls; failed records are reported for retry. */
  (event: SQSEvent, context?: Context): Promise<SQSBatchResponse>;
  /** One EventBridge event: its record; throws ResponseFailedError when the response failed. */
  (event: unknown, context?: Context): Promise<ResponseRecord>;
}

/** The part of an SQS event the responder reads (aws-lambda's SQSEvent, checked). */
const SQS_EVENT = z.object({
  Records: z
    .array(z.object({ messageId: z.string(), body: z.string(), eventSource: z.literal('aws:sqs') }).loose())
    .min(1),
});

/** True when the invocation is an SQS batch rather than an EventBridge event. */
export function isSqsEvent(event: unknown): event is SQSEvent {
  return SQS_EVENT.safeParse(event).success;
}

/**
 * Each body parsed as JSON; a body that is not JSON goes on as the string it is, so the
 * responder records it as rejected (invalid, never retried) like any other unreadable event.
 */
export function sqsBodies(event: SQSEvent): unknown[] {
  return event.Records.map((record) => {
    try {
      return JSON.parse(record.body) as unknown;
    } catch {
      return record.body;
    }
  });
}

/**
 * The handler over `deps`. `sources`: the queues whose records are answered (config's
 * acceptedSources); undefined answers every input, as outside the construct.
 */
export function makeHandler(deps: ResponderDeps, sources?: AcceptedSources): SpotResponderHandler {
  const handler = async (event: unknown, context?: Context): Promise<SQSBatchResponse | ResponseRecord> => {
    const log = context ? deps.log.child({ requestId: context.awsRequestId }) : deps.log;
    const scoped = { ...deps, log };
    if (!isSqsEvent(event)) {
      const verdict = directVerdict(sources);
      return verdict.accepted ? respond(event, scoped) : rejectSource(event, verdict, scoped);
    }
    const bodies = sqsBodies(event);
    const verdicts = event.Records.map((record) => sqsRecordVerdict(record.eventSourceARN, sources));
    const answered = bodies.filter((_, i) => verdicts[i]?.accepted);
    const [records] = await Promise.all([
      answered.length > 0 ? respondBatch(answered, scoped) : Promise.resolve([]),
      ...verdicts.map((verdict, i) => (verdict.accepted ? null : rejectSource(bodies[i], verdict, scoped))),
    ]);
    let next = 0;
    const failed = event.Records.filter((_, i) => {
      // A refused record is never reported: retrying it would only refuse it again.
      if (!verdicts[i]?.accepted) return false;
      return records[next++]?.outcome === 'failed';
    });
    await redeliverSoon(failed, scoped);
    return { batchItemFailures: failed.map((record) => ({ itemIdentifier: record.messageId })) };
  };
  return handler as SpotResponderHandler;
}

/**
 * Seconds until a failed message is received again: just after a claim lease runs out. A failed
 * response released its claim, but one whose record write failed still holds it until its lease
 * ends (LEASE_MS after the batch's last renewal); a retry before that would meet its own claim,
 * be answered as a duplicate and its message deleted (issue 9.1). The pause also lets the
 * account's API buckets refill. With the warning queue's maxReceiveCount of 3, both retries
 * come within about 45 s of the failure, and a message still failing reaches the DLQ then, not
 * after minutes.
 */
export const FAILED_MESSAGE_VISIBILITY_SECONDS = Math.ceil(LEASE_MS / 1_000) + 1;

/** The longest the visibility change may take: it is bookkeeping on the way out of the invocation. */
const REDELIVERY_BUDGET_MS = 5_000;

/**
 * The failed records back in FAILED_MESSAGE_VISIBILITY_SECONDS instead of after the queue's
 * visibility timeout (180 s, past the notice). Never throws: a change that fails is logged, and
 * that message comes back after the full timeout, where a too-late retry of a failed response
 * still answers failed (responder.ts), so it ends in the DLQ all the same.
 */
async function redeliverSoon(failed: SQSEvent['Records'], deps: ResponderDeps): Promise<void> {
  if (!deps.redelivery || failed.length === 0) return;
  const messages = failed.map((r) => ({ messageId: r.messageId, queueArn: r.eventSourceARN, receiptHandle: r.receiptHandle }));
  try {
    const unchanged = await deps.redelivery.redeliverIn(messages, FAILED_MESSAGE_VISIBILITY_SECONDS, {
      abortSignal: AbortSignal.timeout(REDELIVERY_BUDGET_MS),
    });
    if (unchanged.length > 0) {
      deps.log.warn('failed messages come back only after the visibility timeout', { messageIds: unchanged });
    }
  } catch (err) {
    deps.log.warn('failed messages come back only after the visibility timeout', {
      messageIds: messages.map((m) => m.messageId),
      error: errorInfo(err),
    });
  }
}

/**
 * Input from a source the responder does not answer: a warning in the log, one RejectedDeliveries
 * metric, and a rejected record under its own untrusted-* id. Never throws (a throw would make
 * Lambda retry what can only be refused again): a record that cannot be written is logged as such.
 */
async function rejectSource(raw: unknown, verdict: Extract<SourceVerdict, { accepted: false }>, deps: ResponderDeps): Promise<ResponseRecord> {
  const now = deps.now ?? Date.now;
  const at = now();
  const record = rejectedRecord(untrustedRejection(raw, verdict), at, at);
  deps.log.warn('input refused: not from an accepted source', { eventId: record.eventId, source: verdict.source, reason: record.reason });
  deps.metrics?.deliveryRejected(verdict.source);
  try {
    return await reported(deps, deps.store.recordUnclaimed(record).then(() => record));
  } catch (err) {
    deps.log.error('refused input not recorded', { eventId: record.eventId, error: errorInfo(err) });
    return record;
  }
}
