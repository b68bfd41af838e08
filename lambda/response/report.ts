// Where a closed record leaves the responder for the operators: the metrics and, when the record
// deserves one, a notification. Called once per record by respond(), failed responses included;
// neither may change the response: a failure here is logged and swallowed.
import { errorInfo } from '../aws/clients';
import type { ResponseRecord } from '../core/model';
import type { ResponderDeps } from './deps';
import { notificationFor } from './notifications';

/** A publish gets this long (ms) at most: the record is written already, so no deadline applies. */
export const NOTIFY_TIMEOUT_MS = 5_000;

/** The record a failed response carries (ResponseFailedError), without importing the responder back. */
function failedRecord(err: unknown): ResponseRecord | undefined {
  if (err instanceof Error && err.name === 'ResponseFailedError' && 'record' in err) {
    return (err as Error & { record: ResponseRecord }).record;
  }
  return undefined;
}

/**
 * Awaits `pending` (one response), reports its record (metrics, notification), and returns or
 * rethrows what `pending` did. A thrown ResponseFailedError is reported with its record; any
 * other error (the store itself failed) has no record and is only rethrown.
 */
export async function reported(deps: ResponderDeps, pending: Promise<ResponseRecord>): Promise<ResponseRecord> {
  let record: ResponseRecord;
  try {
    record = await pending;
  } catch (err) {
    const failed = failedRecord(err);
    if (failed) await report(deps, failed);
    throw err;
  }
  await report(deps, record);
  return record;
}

async function report(deps: ResponderDeps, record: ResponseRecord): Promise<void> {
  deps.metrics?.recordClosed(record);
  const message = deps.notifier && notificationFor(record);
  if (!message) return;
  try {
    await deps.notifier!.notify(message, { abortSignal: AbortSignal.timeout(NOTIFY_TIMEOUT_MS) });
  } catch (err) {
    deps.log.error('notification not sent', { eventId: record.eventId, instanceId: record.instanceId, error: errorInfo(err) });
  }
}
