// The EventBridge envelope every event arrives in, and the EC2 fields several detail-types
// share. Each field's schema carries the phrase that says what is wrong with a bad value, so
// a rejection reads "account "12345" is not a 12-digit AWS account id", not "Invalid input".
// Unknown fields pass: AWS adds fields to its events without notice.
import { z } from 'zod';
import { INSTANCE_ACTIONS, type Ec2Signal } from '../core/model';

/** Printable ASCII without spaces: the id becomes part of a DynamoDB key and of log lines. */
const EVENT_ID = /^[\x21-\x7e]{1,256}$/;
const ACCOUNT_ID = /^\d{12}$/;
/** us-east-1, us-gov-west-1, cn-north-1, us-isob-east-1, eusc-de-east-1 ... */
const REGION_NAME = /^[a-z]{2,4}(?:-[a-z]+)+-\d{1,2}$/;
export const INSTANCE_ID = /^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/;

export const envelopeFields = {
  version: z.string(),
  id: z.string().regex(EVENT_ID, 'is not a usable event id (1 to 256 printable characters, no spaces)'),
  'detail-type': z.string(),
  source: z.string(),
  account: z.string().regex(ACCOUNT_ID, 'is not a 12-digit AWS account id'),
  // Validated, never normalised: duplicates are found by instance id + this exact text.
  time: z.iso.datetime({ offset: true, error: 'is not an ISO-8601 date and time with a time zone' }),
  region: z.string().regex(REGION_NAME, 'is not an AWS region name'),
  resources: z.array(z.string()),
};

/** Any envelope: what can be checked before knowing the detail-type. */
export const envelopeSchema = z.object({ ...envelopeFields, detail: z.object({}) });

/**
 * One of a fixed set of strings. The string check comes first so that a value of the wrong
 * type reads "must be a string, got object", not "object is not one of ...".
 */
export function oneOf<const Values extends readonly [string, ...string[]]>(values: Values) {
  return z.string().pipe(z.enum(values));
}

export const ec2Fields = {
  instanceId: z.string().regex(INSTANCE_ID, 'is not an EC2 instance id'),
  instanceAction: oneOf(INSTANCE_ACTIONS),
};

export type Envelope<Detail> = z.output<z.ZodObject<typeof envelopeFields>> & { detail: Detail };

/** One EventBridge detail-type the responder understands. */
export interface EventKind {
  readonly source: string;
  readonly detailType: string;
  /** The whole envelope with this kind's detail, parsed into the responder's own type. */
  readonly schema: z.ZodType<Ec2Signal>;
}

/** The fields every signal copies from its envelope. */
export function envelopeSignalFields(event: Envelope<unknown>) {
  return { eventId: event.id, eventTime: event.time, account: event.account, region: event.region };
}

export function defineEventKind<Detail extends z.ZodObject, Signal extends Ec2Signal>(spec: {
  source: string;
  detailType: string;
  detail: Detail;
  convert: (event: Envelope<z.output<Detail>>) => Signal;
}): EventKind {
  const schema = z.object({ ...envelopeFields, detail: spec.detail });
  return {
    source: spec.source,
    detailType: spec.detailType,
    // The cast only restates what zod infers: it cannot relate a generic shape's output to Envelope.
    schema: schema.transform((event) => spec.convert(event as Envelope<z.output<Detail>>)),
  };
}
