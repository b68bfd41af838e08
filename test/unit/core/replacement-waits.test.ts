// The rules that pick which waiting response a newly seen instance replaces.
import fc from 'fast-check';
import { decodeWait, earliestWait, encodeWait, REPLACEMENT_WAIT_MS } from '../../../lambda/core/replacement-waits';
import type { ReplacementWait } from '../../../lambda/core/ports';

const WARNING = 'EC2 Spot Instance Interruption Warning';

function wait(eventId: string, signalTime: string, instanceId = 'i-0123456789abcdef0'): ReplacementWait {
  return { eventId, instanceId, signalDetailType: WARNING, signalTime };
}

describe('encodeWait / decodeWait', () => {
  it('round-trip any event id (even one holding the separator), with the time in UTC', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 256 }), fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }), (eventId, date) => {
        const original = wait(eventId, date.toISOString());
        expect(decodeWait(encodeWait(original))).toEqual(original);
      }),
    );
  });

  it('sort by signal time as text', () => {
    const early = encodeWait(wait('b', '2024-05-03T10:00:00+02:00'));
    const late = encodeWait(wait('a', '2024-05-03T09:00:00Z'));
    expect([late, early].sort()).toEqual([early, late]);
  });

  it('refuse strings they did not write', () => {
    expect(decodeWait('nonsense')).toBeUndefined();
    expect(decodeWait('not-a-time|i-1|x|evt')).toBeUndefined();
    expect(decodeWait('2024-05-03T10:00:00.000Z||x|evt')).toBeUndefined();
    expect(decodeWait('2024-05-03T10:00:00.000Z|i-1|x|')).toBeUndefined();
  });
});

describe('earliestWait', () => {
  const seenAt = '2024-05-03T10:00:30.000Z';

  it('picks the earliest signal at or before the sighting', () => {
    const waits = [wait('late', '2024-05-03T10:00:20Z'), wait('early', '2024-05-03T10:00:10Z'), wait('after', '2024-05-03T10:00:31Z')].map(encodeWait);
    expect(earliestWait(waits, seenAt)?.wait.eventId).toBe('early');
    expect(earliestWait(waits, '2024-05-03T10:00:10.000Z')?.wait.eventId).toBe('early');
  });

  it('ignores waits older than REPLACEMENT_WAIT_MS and strings it cannot read', () => {
    const stale = wait('stale', new Date(Date.parse(seenAt) - REPLACEMENT_WAIT_MS - 1).toISOString());
    const edge = wait('edge', new Date(Date.parse(seenAt) - REPLACEMENT_WAIT_MS).toISOString());
    expect(earliestWait([encodeWait(stale), 'garbage'], seenAt)).toBeUndefined();
    expect(earliestWait([encodeWait(stale), encodeWait(edge)], seenAt)?.wait.eventId).toBe('edge');
  });

  it('breaks a tie of signal times by the encoded string, so every reader picks the same one', () => {
    const a = encodeWait(wait('a', '2024-05-03T10:00:10Z'));
    const b = encodeWait(wait('b', '2024-05-03T10:00:10Z'));
    expect(earliestWait([b, a], seenAt)?.encoded).toBe(a);
    expect(earliestWait([a, b], seenAt)?.encoded).toBe(a);
  });
});
