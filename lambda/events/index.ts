// Validation and conversion of incoming EventBridge events. parseEvent never throws: an event
// we cannot act on is a permanent failure, recorded and returned, because a throw makes AWS
// deliver it again, and again.
import { createHash } from 'node:crypto';
import type { z } from 'zod';
import type { EventIdentity, Ec2Signal } from '../core/model';
import { ec2Fields, envelopeFields, envelopeSchema } from './envelope';
import { describeIssue, joinProblems, typeName } from './problems';
import { findKind } from './registry';
import { spotInterruptionWarning } from './spot-interruption-warning';

export { EVENT_KINDS, SUPPORTED_DETAIL_TYPES } from './registry';
export { INSTANCE_STATES, type InstanceState } from './instance-state-change';
export type { Envelope, EventKind } from './envelope';

export interface AcceptPolicy {
  accounts: string[] | '*';
  regions: string[] | '*';
}

/**
 * unsupported: a source or detail-type this responder does not handle (look at the rule that
 * sent it); not-accepted: a valid event from an account or region the policy leaves out;
 * invalid: everything else. When an event has several problems, the first of these that applies.
 */
export type RejectionKind = 'invalid' | 'unsupported' | 'not-accepted';

/**
 * Why an event was refused, and whatever of its identity passed its own field's check (null
 * otherwise). `eventId` is the envelope id when usable, else
 * `unidentified-<16 hex of sha256 of the event's JSON>`; `instanceAction` is only ever set
 * for a Spot interruption warning.
 */
export interface Rejection extends EventIdentity {
  kind: RejectionKind;
  /** Every problem found, joined with '; '. */
  reason: string;
}

export type ParsedEvent = { ok: true; signal: Ec2Signal } | { ok: false; rejection: Rejection };

type Salvage = Omit<Rejection, 'kind' | 'reason' | 'eventId'>;

/** The fields of a rejection whose event gave up nothing readable. */
export const NOTHING_SALVAGED: Salvage = {
  eventTime: null,
  detailType: null,
  instanceId: null,
  instanceAction: null,
  account: null,
  region: null,
};

export function parseEvent(raw: unknown, policy: AcceptPolicy): ParsedEvent {
  try {
    return parse(raw, policy);
  } catch (err) {
    // Only values that never came from JSON get here: getters or proxies that throw.
    const message = err instanceof Error ? err.message : typeName(err);
    return reject(unidentifiedEventId(raw), 'invalid', [`event could not be read: ${message}`], NOTHING_SALVAGED);
  }
}

function parse(raw: unknown, policy: AcceptPolicy): ParsedEvent {
  if (!isRecord(raw)) {
    return reject(unidentifiedEventId(raw), 'invalid', [`event is not a JSON object (got ${typeName(raw)})`], NOTHING_SALVAGED);
  }

  const salvage = salvaged(raw);
  const { source, 'detail-type': detailType } = raw;
  // A non-string source or detail-type is reported by the envelope check below.
  const kind = typeof source === 'string' && typeof detailType === 'string' ? findKind(source, detailType) : null;
  const unsupported = kind && 'unsupported' in kind ? [kind.unsupported] : [];

  const invalid: string[] = [];
  let signal: Ec2Signal | null = null;
  if (kind && 'schema' in kind) {
    const result = kind.schema.safeParse(raw, { reportInput: true });
    if (result.success) signal = result.data;
    else invalid.push(...result.error.issues.map(describeIssue));
  } else {
    const result = envelopeSchema.safeParse(raw, { reportInput: true });
    if (!result.success) invalid.push(...result.error.issues.map(describeIssue));
  }
  const notAccepted = policyProblems(salvage, policy);

  // A signal exists only when its schema passed: no invalid field then.
  if (signal && notAccepted.length === 0) return { ok: true, signal };
  const rejectionKind: RejectionKind = unsupported.length > 0 ? 'unsupported' : invalid.length > 0 ? 'invalid' : 'not-accepted';
  const eventId = valid(envelopeFields.id, raw.id) ?? unidentifiedEventId(raw);
  return reject(eventId, rejectionKind, [...unsupported, ...invalid, ...notAccepted], salvage);
}

function policyProblems(salvage: Salvage, policy: AcceptPolicy): string[] {
  const problems: string[] = [];
  if (salvage.account !== null && !accepts(policy.accounts, salvage.account)) {
    problems.push(`account "${salvage.account}" is not accepted (to respond to it, add it to acceptedAccounts: the construct prop or the spotResponder:acceptedAccounts context key; replay: --account)`);
  }
  if (salvage.region !== null && !accepts(policy.regions, salvage.region)) {
    problems.push(`region "${salvage.region}" is not accepted (to respond to it, add it to acceptedRegions: the construct prop or the spotResponder:acceptedRegions context key)`);
  }
  return problems;
}

function accepts(allowed: string[] | '*', value: string): boolean {
  return allowed === '*' || allowed.includes(value);
}

function reject(eventId: string, kind: RejectionKind, problems: readonly string[], salvage: Salvage): ParsedEvent {
  return { ok: false, rejection: { kind, reason: joinProblems(problems), eventId, ...salvage } };
}

function salvaged(event: Record<string, unknown>): Salvage {
  const detail = isRecord(event.detail) ? event.detail : {};
  const detailType = valid(envelopeFields['detail-type'], event['detail-type']);
  // Whatever the source: a drill event dressed as a warning is recorded as one.
  const isWarning = detailType === spotInterruptionWarning.detailType;
  return {
    eventTime: valid(envelopeFields.time, event.time),
    detailType,
    instanceId: valid(ec2Fields.instanceId, detail['instance-id']),
    instanceAction: isWarning ? valid(ec2Fields.instanceAction, detail['instance-action']) : null,
    account: valid(envelopeFields.account, event.account),
    region: valid(envelopeFields.region, event.region),
  };
}

function valid<T>(schema: z.ZodType<T>, value: unknown): T | null {
  const result = schema.safeParse(value);
  return result.success ? result.data : null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A stable id for an event without a usable one, so that redeliveries of it share one record.
 * Keys are sorted first: the id depends on what the event says, not on how it was written.
 */
function unidentifiedEventId(raw: unknown): string {
  return `unidentified-${createHash('sha256').update(jsonText(raw)).digest('hex').slice(0, 16)}`;
}

function jsonText(raw: unknown): string {
  try {
    return JSON.stringify(raw, sortKeys) ?? String(raw);
  } catch {
    return '';
  }
}

function sortKeys(_key: string, value: unknown): unknown {
  if (!isRecord(value)) return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, value[key]]));
}
