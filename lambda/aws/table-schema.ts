// One DynamoDB table holds the event records, the idempotency claims and the target index.
// The stack, the adapters and the CLI (which creates the table on a local emulator) all
// take its shape from here, so the three can never disagree.
import { claimKey } from '../core/claims';

export const TABLE_SCHEMA = {
  partitionKey: 'pk',
  ttlAttribute: 'expiresAt',
  /** History queries walk this index: one partition per UTC day, sorted by event time. */
  historyIndex: { name: 'byDay', partitionKey: 'day', sortKey: 'eventTimeAndId' },
} as const;

/** Every kind of item in the table, by partition key; the claim keys are defined with their rules. */
export const itemKey = {
  ...claimKey,
  /** Which response last acted on (or launched) the instance: state changes find their record here. */
  instance: (instanceId: string) => `INSTANCE#${instanceId}`,
  /** Where the target index last saw the instance registered. */
  targets: (instanceId: string) => `TARGETS#${instanceId}`,
  indexMeta: 'INDEX#META',
  /** Every attempt at one event's response (core/attempts.ts); the EVENT item holds their merge. */
  attempts: (eventId: string) => `ATTEMPTS#${eventId}`,
  /** Responses of one Auto Scaling group waiting for their replacement, and the group's known instances. */
  replacing: (groupName: string) => `REPLACING#${groupName}`,
  /** Which groups have a response waiting for its replacement (one attribute per group). */
  replacingGroups: 'REPLACING',
  /** Single-flight: the refresh that holds it until leaseUntil is the only one running. */
  indexLease: 'INDEX#LEASE',
  /** Where an unfinished refresh stopped, so the next invocation resumes it. */
  indexCheckpoint: 'INDEX#CHECKPOINT',
} as const;

/** Event times may carry any offset; history keys are always UTC so they sort as text. */
export function utcTime(isoTime: string): string {
  return new Date(isoTime).toISOString();
}

/** The history partition of a record: its event's UTC day. */
export function historyDay(isoTime: string): string {
  return `DAY#${utcTime(isoTime).slice(0, 10)}`;
}
