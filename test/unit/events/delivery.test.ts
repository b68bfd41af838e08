// The source guard's decisions (lambda/events/delivery.ts), pure: which input the responder
// answers, and the rejection it records for the rest (issue 9, item 9).
import { directVerdict, sqsRecordVerdict, untrustedRejection } from '../../../lambda/events/delivery';

const WARNINGS = 'arn:aws:sqs:us-east-1:123456789012:spot-responder-WarningQueue';
const STATE_CHANGES = 'arn:aws:sqs:us-east-1:123456789012:spot-responder-StateChangeQueue';
const SOURCES = { queueArns: [WARNINGS, STATE_CHANGES] };

describe('which SQS records are answered', () => {
  it.each([WARNINGS, STATE_CHANGES])('answers a record of the configured queue %s', (arn) => {
    expect(sqsRecordVerdict(arn, SOURCES)).toEqual({ accepted: true });
  });

  it('refuses a record of another queue, naming it', () => {
    const other = 'arn:aws:sqs:us-east-1:123456789012:someone-elses';
    expect(sqsRecordVerdict(other, SOURCES)).toEqual({
      accepted: false,
      source: `SQS queue "${other}"`,
      reason: `delivered by SQS queue "${other}", not by the responder's queues`,
    });
  });

  it('refuses a record of a queue whose ARN only starts like a configured one', () => {
    expect(sqsRecordVerdict(`${WARNINGS}-copy`, SOURCES)).toMatchObject({ accepted: false });
  });

  it.each([undefined, 42, null])('refuses a record whose eventSourceARN is %p', (arn) => {
    expect(sqsRecordVerdict(arn, SOURCES)).toEqual({
      accepted: false,
      source: 'an SQS record without eventSourceARN',
      reason: "delivered by an SQS record without eventSourceARN, not by the responder's queues",
    });
  });

  it('answers every record when no source is configured (outside the construct)', () => {
    expect(sqsRecordVerdict('arn:aws:sqs:us-east-1:123456789012:any', undefined)).toEqual({ accepted: true });
    expect(sqsRecordVerdict(undefined, undefined)).toEqual({ accepted: true });
  });
});

describe('a direct invocation', () => {
  it('is refused when sources are configured: no rule invokes the function directly', () => {
    expect(directVerdict(SOURCES)).toEqual({
      accepted: false,
      source: 'a direct invocation',
      reason: "invoked directly, not through the responder's queues",
    });
  });

  it('is answered when no source is configured', () => {
    expect(directVerdict(undefined)).toEqual({ accepted: true });
  });
});

describe('the rejection recorded for refused input', () => {
  const refused = { accepted: false as const, source: 'a direct invocation', reason: "invoked directly, not through the responder's queues" };

  it("never takes the event's own id, shows the id it claims, and reads nothing else from it", () => {
    const forged = { id: 'a9d1c7a2-real-event-id', source: 'aws.ec2', detail: { 'instance-id': 'i-0123456789abcdef0' } };
    const rejection = untrustedRejection(forged, refused);
    expect(rejection).toEqual({
      kind: 'not-accepted',
      reason: `invoked directly, not through the responder's queues (event id "a9d1c7a2-real-event-id"); not acted on`,
      eventId: expect.stringMatching(/^untrusted-[0-9a-f]{16}$/),
      eventTime: null,
      detailType: null,
      instanceId: null,
      instanceAction: null,
      account: null,
      region: null,
    });
  });

  it('gives the same input from the same source the same id (a repeat is recorded once), and differs by source and input', () => {
    const event = { id: 'e-1' };
    const same = untrustedRejection(event, refused).eventId;
    expect(untrustedRejection({ id: 'e-1' }, refused).eventId).toBe(same);
    expect(untrustedRejection({ id: 'e-2' }, refused).eventId).not.toBe(same);
    expect(untrustedRejection(event, { ...refused, source: 'SQS queue "x"' }).eventId).not.toBe(same);
  });

  it('bounds a long claimed id, and says when none is claimed', () => {
    expect(untrustedRejection({ id: 'x'.repeat(100_000) }, refused).reason.length).toBeLessThan(200);
    expect(untrustedRejection('not even an object', refused).reason).toContain('(event id missing)');
    expect(untrustedRejection(null, refused).reason).toContain('(event id missing)');
  });

  it('still gives an id to input that cannot be serialized', () => {
    const circular: Record<string, unknown> = { id: 'loop' };
    circular.self = circular;
    expect(untrustedRejection(circular, refused).eventId).toMatch(/^untrusted-[0-9a-f]{16}$/);
    expect(untrustedRejection(undefined, refused).eventId).toMatch(/^untrusted-[0-9a-f]{16}$/);
  });
});
