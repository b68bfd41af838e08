// The holder's heartbeat (response/heartbeat.ts): renews while it works, stops when told or
// when another delivery took the claim over, and survives a failed renewal.
import type { ClaimKeys } from '../../../lambda/core/ports';
import { startHeartbeat } from '../../../lambda/response/heartbeat';
import { LEASE_MS } from '../../../lambda/response/deps';

const KEYS: ClaimKeys = { eventId: 'evt-1', signal: 'spot-interruption-warning', instanceId: 'i-1', eventTime: '2024-05-03T10:00:00Z' };
const log = { debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn(), child: jest.fn() };
log.child.mockReturnValue(log);

describe('startHeartbeat', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('renews the lease to now + LEASE_MS at every beat until stopped', async () => {
    const renew = jest.fn(async () => true);
    const beat = startHeartbeat({ renew }, KEYS, 'tok', () => 1_000, log, 100);
    await jest.advanceTimersByTimeAsync(350);
    beat.stop();
    await jest.advanceTimersByTimeAsync(500);
    expect(renew).toHaveBeenCalledTimes(3);
    expect(renew).toHaveBeenCalledWith(KEYS, 'tok', new Date(1_000 + LEASE_MS), expect.anything());
  });

  it('keeps beating after a failed renewal, and stops once the claim was taken over', async () => {
    const renew = jest.fn().mockRejectedValueOnce(new Error('503')).mockResolvedValueOnce(false).mockResolvedValue(true);
    startHeartbeat({ renew }, KEYS, 'tok', () => 0, log, 100);
    await jest.advanceTimersByTimeAsync(1_000);
    expect(renew).toHaveBeenCalledTimes(2);
    expect(log.warn).toHaveBeenCalledWith(expect.stringContaining('taken over'), expect.anything());
  });

  it('is a no-op without a token (a dry run claims nothing)', async () => {
    const renew = jest.fn(async () => true);
    startHeartbeat({ renew }, KEYS, undefined, () => 0, log, 100).stop();
    await jest.advanceTimersByTimeAsync(1_000);
    expect(renew).not.toHaveBeenCalled();
  });
});
