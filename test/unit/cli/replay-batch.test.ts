// `replay --batch`: the clock a batch starts from, and the one-line summary of what returns to
// the queue. The batch itself against moto: test/integration/wave.test.ts and cli.test.ts.
import { batchSummary, newestEvent } from '../../../cli/replay';
import type { ResponseRecord } from '../../../lambda/core/model';

const event = (id: string, time?: unknown) => ({ id, ...(time !== undefined ? { time } : {}) });

describe('newestEvent', () => {
  it('is the event with the latest time: the batch reaches the Lambda after its newest event', () => {
    const events = [event('a', '2026-11-30T10:00:00Z'), event('b', '2026-11-30T10:00:07Z'), event('c', '2026-11-30T10:00:03Z')];
    expect(newestEvent(events)).toBe(events[1]);
  });

  it('skips events without a usable time, and falls back to the first when none has one', () => {
    const events = [event('a'), event('b', 'not a time'), event('c', '2026-11-30T10:00:00Z'), 'junk'];
    expect(newestEvent(events)).toBe(events[2]);
    const timeless = [event('a'), event('b', 42)];
    expect(newestEvent(timeless)).toBe(timeless[0]);
  });
});

describe('batchSummary', () => {
  const record = (eventId: string, outcome: ResponseRecord['outcome']) => ({ eventId, outcome }) as ResponseRecord;

  it('names the failed events, the ones the Lambda reports in batchItemFailures', () => {
    expect(batchSummary([record('e1', 'handled'), record('e2', 'failed'), record('e3', 'duplicate'), record('e4', 'failed')])).toBe(
      'batch of 4 events: 2 answered, 2 failed (back to the queue: e2, e4)',
    );
  });

  it('says so when nothing returns to the queue', () => {
    expect(batchSummary([record('e1', 'handled')])).toBe('batch of 1 event: 1 answered, 0 failed (none returns to the queue)');
  });
});
