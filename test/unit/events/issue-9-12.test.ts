// Issue 9.12: each test here kills a mutant that mutation testing (StrykerJS) found surviving in
// lambda/events: a change to the code that every other test let through.
import { createHash } from 'node:crypto';
import { parseEvent, type ParsedEvent } from '../../../lambda/events';
import { untrustedRejection } from '../../../lambda/events/delivery';
import { eventWith, fixturePolicy, loadEvent, type EventChanges } from '../../support/fixtures';

const TERMINATE = 'spot-interruption-warning/terminate.json';

function parsed(changes: EventChanges): ParsedEvent {
  return parseEvent(eventWith(loadEvent(TERMINATE), changes), { accounts: '*', regions: '*' });
}

function reason(changes: EventChanges): string | null {
  const p = parsed(changes);
  return p.ok ? null : p.rejection.reason;
}

describe('issue 9.12: the envelope patterns are anchored and bounded', () => {
  it.each([
    ['digits after a valid id', '1234567890123'],
    ['a prefix before a valid id', 'x123456789012'],
    ['a suffix after a valid id', '123456789012x'],
    ['eleven digits', '12345678901'],
  ])('issue 9.12: rejects an account id with %s (both anchors of the account pattern)', (_name, account) => {
    // Act
    const why = reason({ account });

    // Assess
    expect(why).toContain('is not a 12-digit AWS account id');
  });

  it('issue 9.12: accepts exactly 12 digits', () => {
    expect(parsed({ account: '000000000000' }).ok).toBe(true);
  });

  it('issue 9.12: accepts an event id of 256 characters and rejects one of 257', () => {
    // Prepare
    const longest = 'a'.repeat(256);

    // Act
    const atBound = parsed({ id: longest });
    const overBound = parsed({ id: `${longest}b` });

    // Assess
    expect(atBound.ok && atBound.signal.eventId).toBe(longest);
    expect(overBound.ok).toBe(false);
    if (!overBound.ok) expect(overBound.rejection.reason).toContain('is not a usable event id');
  });

  it.each([
    ['a prefix before a valid region', '1us-east-1'],
    ['text after the number', 'us-east-1x'],
    ['three digits', 'us-east-100'],
    ['no number', 'us-east-'],
    ['a leading space', ' us-east-1'],
  ])('issue 9.12: rejects a region with %s (anchors and digit count of the region pattern)', (_name, region) => {
    expect(reason({ region })).toContain('is not an AWS region name');
  });

  it.each(['us-east-1', 'ap-southeast-12', 'us-gov-west-1', 'eusc-de-east-1'])(
    'issue 9.12: accepts the region %s',
    (region) => {
      expect(parsed({ region }).ok).toBe(true);
    },
  );
});

describe('issue 9.12: an event whose fields throw when read', () => {
  it('issue 9.12: is rejected as invalid (not unsupported, not not-accepted), with an id derived from nothing it cannot read', () => {
    // Prepare: a getter that throws can only come from a caller, never from JSON.
    const event = eventWith(loadEvent(TERMINATE), {});
    Object.defineProperty(event, 'detail', {
      enumerable: true,
      get() {
        throw new Error('field read failed');
      },
    });

    // Act
    const result = parseEvent(event, fixturePolicy());

    // Assess
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.rejection.kind).toBe('invalid');
    expect(result.rejection.reason).toBe('event could not be read: field read failed');
    expect(result.rejection.eventId).toMatch(/^unidentified-[0-9a-f]{16}$/);
  });
});

describe('issue 9.12: the ids of events that name none are derived as documented (mutation testing, second run)', () => {
  const sha16 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 16);
  const refused = { accepted: false as const, source: 'a direct invocation', reason: 'invoked directly' };

  it('issue 9.12: an untrusted input is recorded under sha256 of its source, a newline, and its JSON', () => {
    // The newline keeps source and input apart: ("ab", "c") and ("a", "bc") must not share an id.
    const raw = { id: 'evt-1', detail: { 'instance-id': 'i-1' } };
    expect(untrustedRejection(raw, refused).eventId).toBe(`untrusted-${sha16(`a direct invocation\n${JSON.stringify(raw)}`)}`);
  });

  it('issue 9.12: input that cannot be serialized counts as empty text: every such input from one source shares one id', () => {
    const loop: Record<string, unknown> = { id: 'loop' };
    loop.self = loop;
    const other: Record<string, unknown> = { id: 'other' };
    other.self = other;
    expect(untrustedRejection(loop, refused).eventId).toBe(`untrusted-${sha16('a direct invocation\n')}`);
    expect(untrustedRejection(other, refused).eventId).toBe(untrustedRejection(loop, refused).eventId);
  });

  it('issue 9.12: an event whose fields cannot be read gets the id of empty text', () => {
    const unreadable = new Proxy(
      {},
      {
        get: () => {
          throw new Error('field read failed');
        },
      },
    );
    const p = parseEvent(unreadable, { accounts: '*', regions: '*' });
    expect(p.ok ? null : p.rejection.eventId).toBe(`unidentified-${sha16('')}`);
  });
});
