// The Lambda entry point as a factory: tests pass mocked dependencies, handler.ts passes
// the real ones built once per container.
//
// Two deliveries reach it: an SQS batch (the queue that turns a wave into batches; records whose
// `body` is the EventBridge event), answered with ReportBatchItemFailures, and one EventBridge
// event directly (replay, and deployments still wired to the rule), answered with its record.
//
// Not @aws-lambda-powertools/batch: its BatchProcessor calls a record handler once per record,
// and the point of a batch here is that its events share merged AWS calls (respondBatch). The
// partial response itself is one line: the message ids of the records whose outcome is failed.
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { z } from 'zod';
import type { ResponseRecord } from './core/model';
import { respond, respondBatch } from './responder';
import type { ResponderDeps } from './response/deps';

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

export function makeHandler(deps: ResponderDeps): SpotResponderHandler {
  const handler = async (event: unknown, context?: Context): Promise<SQSBatchResponse | ResponseRecord> => {
    const log = context ? deps.log.child({ requestId: context.awsRequestId }) : deps.log;
    if (!isSqsEvent(event)) return respond(event, { ...deps, log });
    const records = await respondBatch(sqsBodies(event), { ...deps, log });
    return {
      batchItemFailures: event.Records.flatMap((record, i) =>
        records[i]?.outcome === 'failed' ? [{ itemIdentifier: record.messageId }] : [],
      ),
    };
  };
  return handler as SpotResponderHandler;
}
