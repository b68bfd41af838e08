// Where an invocation came from, and whether the responder answers it. The construct delivers
// every EC2 event through its two queues (lib/delivery.ts: every rule targets a queue, none the
// function), so the responder answers SQS records whose eventSourceARN is one of those queues
// and nothing else: a direct invocation, or a batch from another queue, is recorded as a
// rejection and never acted on.
//
// What this is and is not: it stops mistakes and casual misuse (a test event invoked by hand, an
// event source mapping from the wrong queue). It is not authentication: whoever may call
// lambda:InvokeFunction on the responder can write any eventSourceARN into a forged SQS event.
// The function has no resource-based policy, so that permission (IAM) stays the real boundary.
import { createHash } from 'node:crypto';
import { NOTHING_SALVAGED, type Rejection } from './index';
import { show } from './problems';

/**
 * The sources whose input the responder answers (RESPONDER_ENV.acceptedQueueArns).
 * `queueArns`: the SQS queue ARNs whose records are answered (the warning and state-change
 * queues). No rule invokes the function directly, so no direct invocation is answered.
 */
export interface AcceptedSources {
  readonly queueArns: readonly string[];
}

/** Whether one input is answered; when not, the source it came from and why, in one line. */
export type SourceVerdict = { accepted: true } | { accepted: false; source: string; reason: string };

const ACCEPTED: SourceVerdict = { accepted: true };

/**
 * The verdict on one SQS record, by its `eventSourceARN` (set by Lambda's event source mapping:
 * https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html). `sources` undefined: the function
 * runs outside the construct with no sources configured, and every input is answered.
 */
export function sqsRecordVerdict(eventSourceArn: unknown, sources: AcceptedSources | undefined): SourceVerdict {
  if (!sources) return ACCEPTED;
  if (typeof eventSourceArn !== 'string') return refusedSqs('an SQS record without eventSourceARN');
  return sources.queueArns.includes(eventSourceArn) ? ACCEPTED : refusedSqs(`SQS queue ${show(eventSourceArn)}`);
}

function refusedSqs(source: string): SourceVerdict {
  return { accepted: false, source, reason: `delivered by ${source}, not by the responder's queues` };
}

/** The verdict on an invocation that is not an SQS batch (an event passed to Invoke by hand). */
export function directVerdict(sources: AcceptedSources | undefined): SourceVerdict {
  if (!sources) return ACCEPTED;
  return { accepted: false, source: 'a direct invocation', reason: "invoked directly, not through the responder's queues" };
}

/**
 * The rejection to record for input from a source the responder does not answer: kind
 * `not-accepted`, under its own id `untrusted-<16 hex of sha256 of source and input>`, never the
 * event's own id: a forged or misrouted copy must not take the id of the real event, whose
 * record (and claim) would then say it was already answered. The id the input claims is shown
 * in the reason, bounded like every shown value; nothing else is read from it.
 */
export function untrustedRejection(raw: unknown, verdict: Extract<SourceVerdict, { accepted: false }>): Rejection {
  const claimed = typeof raw === 'object' && raw !== null ? (raw as { id?: unknown }).id : undefined;
  const digest = createHash('sha256').update(verdict.source).update('\n').update(inputText(raw)).digest('hex').slice(0, 16);
  return {
    kind: 'not-accepted',
    reason: `${verdict.reason} (event id ${claimed === undefined ? 'missing' : show(claimed)}); not acted on`,
    eventId: `untrusted-${digest}`,
    ...NOTHING_SALVAGED,
  };
}

function inputText(raw: unknown): string {
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return '';
  }
}
