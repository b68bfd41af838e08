// The batch's heartbeat (response/heartbeat.ts): one renewAll of every claim held per beat,
// until released or stopped; a claim found lost stops being renewed and is remembered; a failed
// renewal is tried again at the next beat. Fake timers: no timed assertion.
import type { ClaimKeys, HeldClaim, Renewal } from '../../../lambda/core/ports';
import { startBatchHeartbeat } from '../../../lambda/response/heartbeat';
import { LEASE_MS } from '../../../lambda/response/deps';

const keys = (n: number): ClaimKeys => ({ eventId: `evt-${n}`, signal: 'spot-interruption-warning', instanceId: `i-${n}`, eventTime: '2024-05-03T10:00:00Z' });
const makeLog = () => {
  const log = { debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn(), child: jest.fn() };
  log.child.mockReturnValue(log);
  return log;
};
const held = (...outcomes: Renewal[]) =>
  jest.fn(async (claims: readonly HeldClaim[]) => claims.map((_, i) => outcomes[i] ?? { outcome: 'held' as const }));

describe('startBatchHeartbeat', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('renews every claim of the batch in one renewAll per beat, to now + LEASE_MS, until each is released', async () => {
    // Prepare
    const renewAll = held();
    const log = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 1_000, log, 100);
    beat.hold({ keys: keys(1), token: 'tok-1' }, log);
    beat.hold({ keys: keys(2), token: 'tok-2' }, log);

    // Act
    await jest.advanceTimersByTimeAsync(150);
    beat.release('evt-1');
    await jest.advanceTimersByTimeAsync(100);
    beat.release('evt-2');
    await jest.advanceTimersByTimeAsync(300);
    beat.stop();

    // Assess
    expect(renewAll).toHaveBeenCalledTimes(2);
    expect(renewAll).toHaveBeenNthCalledWith(1, [{ keys: keys(1), token: 'tok-1' }, { keys: keys(2), token: 'tok-2' }], new Date(1_000 + LEASE_MS), expect.anything());
    expect(renewAll).toHaveBeenNthCalledWith(2, [{ keys: keys(2), token: 'tok-2' }], new Date(1_000 + LEASE_MS), expect.anything());
  });

  it('stops renewing a claim found lost, remembers it, and logs it on the event', async () => {
    // Prepare: the second claim was taken over by another delivery.
    const renewAll = held({ outcome: 'held' }, { outcome: 'lost' });
    const batchLog = makeLog();
    const eventLog = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 0, batchLog, 100);
    beat.hold({ keys: keys(1), token: 'tok-1' }, batchLog);
    beat.hold({ keys: keys(2), token: 'tok-2' }, eventLog);

    // Act
    await jest.advanceTimersByTimeAsync(250);
    beat.stop();

    // Assess
    expect(beat.lost('evt-2')).toBe(true);
    expect(beat.lost('evt-1')).toBe(false);
    expect(eventLog.warn).toHaveBeenCalledWith(expect.stringContaining('taken over'), { lostClaim: true });
    expect(renewAll.mock.calls[1]?.[0]).toEqual([{ keys: keys(1), token: 'tok-1' }]);
  });

  it('drops quietly a claim found lost while its record is being written (the write closed it), still renewing until then', async () => {
    // Prepare: evt-1's final write is out; the beat's renewal meets the claim it just closed.
    const renewAll = jest.fn(async (claims: readonly HeldClaim[]): Promise<Renewal[]> =>
      claims.map((c) => ({ outcome: c.keys.eventId === 'evt-1' ? 'lost' : 'held' })),
    );
    const log = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 0, log, 100);
    beat.hold({ keys: keys(1), token: 'tok-1' }, log);
    beat.hold({ keys: keys(2), token: 'tok-2' }, log);
    beat.closing('evt-1');

    // Act
    await jest.advanceTimersByTimeAsync(250);
    beat.stop();

    // Assess
    expect(renewAll.mock.calls[0]?.[0]).toHaveLength(2);
    expect(log.warn).not.toHaveBeenCalled();
    expect(beat.lost('evt-1')).toBe(false);
    expect(renewAll.mock.calls[1]?.[0]).toEqual([{ keys: keys(2), token: 'tok-2' }]);
  });

  it('keeps renewing the claims whose renewal failed, logging the beat once', async () => {
    // Prepare
    const renewAll = jest
      .fn<Promise<Renewal[]>, [readonly HeldClaim[]]>()
      .mockResolvedValueOnce([{ outcome: 'failed', error: new Error('503') }, { outcome: 'failed', error: new Error('503') }])
      .mockImplementation(async (claims) => claims.map(() => ({ outcome: 'held' })));
    const log = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 0, log, 100);
    beat.hold({ keys: keys(1), token: 'tok-1' }, log);
    beat.hold({ keys: keys(2), token: 'tok-2' }, log);

    // Act
    await jest.advanceTimersByTimeAsync(250);
    beat.stop();

    // Assess
    expect(renewAll).toHaveBeenCalledTimes(2);
    expect(renewAll.mock.calls[1]?.[0]).toHaveLength(2);
    expect(log.warn).toHaveBeenCalledTimes(1);
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('trying again'), { claims: 2, error: 'Error: 503' });
    expect(beat.lost('evt-1')).toBe(false);
  });

  it('ignores what a renewal found for a claim released while it was out', async () => {
    // Prepare: the record of evt-1 was written while the beat's renewal was in flight.
    let answer: (renewals: Renewal[]) => void = () => undefined;
    const renewAll = jest.fn(() => new Promise<Renewal[]>((resolve) => (answer = resolve)));
    const log = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 0, log, 100);
    beat.hold({ keys: keys(1), token: 'tok-1' }, log);
    await jest.advanceTimersByTimeAsync(100);

    // Act
    beat.release('evt-1');
    answer([{ outcome: 'lost' }]);
    await jest.advanceTimersByTimeAsync(0);
    beat.stop();

    // Assess
    expect(beat.lost('evt-1')).toBe(false);
    expect(log.warn).not.toHaveBeenCalled();
  });

  it('renews nothing without a token (a dry run claims nothing) or with nothing held', async () => {
    const renewAll = held();
    const log = makeLog();
    const beat = startBatchHeartbeat({ renewAll }, () => 0, log, 100);
    beat.hold({ keys: keys(1), token: undefined }, log);
    await jest.advanceTimersByTimeAsync(1_000);
    beat.stop();
    expect(renewAll).not.toHaveBeenCalled();
  });
});
