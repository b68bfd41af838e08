// Issue 9.6: timers and sizes. No event may overflow a timer or make a record DynamoDB refuses.
import { MAX_TIMER_MS, responseWindow, timerMs } from '../../../lambda/core/plan';
import type { ActionResult, ResponseRecord, SpotWarning } from '../../../lambda/core/model';
import { BOUNDS, DYNAMODB_ITEM_LIMIT_BYTES, TRUNCATION_MARKER, boundRecord, boundText } from '../../../lambda/events/bounds';
import { parseEvent } from '../../../lambda/events';
import { rejectedRecord } from '../../../lambda/response/records';
import { eventWith, fixturePolicy, loadEvent } from '../../support/fixtures';

const HUGE = 'x'.repeat(500 * 1024);
const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), 'utf8');

describe('issue 9.6: timers', () => {
  const NOW = Date.parse('2026-11-21T05:00:00Z');
  const future: SpotWarning = {
    kind: 'spot-interruption-warning',
    eventId: 'e-1',
    eventTime: new Date(NOW + 30 * 86_400_000).toISOString(),
    account: '123456789012',
    region: 'us-east-1',
    instanceId: 'i-0123456789abcdef0',
    instanceAction: 'terminate',
  };

  it('issue 9.6: an event dated 30 days ahead gets a deadline two minutes after its receipt, and says why', () => {
    // Act
    const window = responseWindow(future, NOW);

    // Assess
    expect(window.deadline).toBe(NOW + 120_000);
    expect(window.note).toBe(`event time is 30 d 0 h in the future; the response was bounded by its own two-minute budget`);
  });

  it('issue 9.6: every timer delay is between 1 ms and the most Node allows, so AbortSignal.timeout never overflows', () => {
    expect(timerMs(NOW + 30 * 86_400_000, NOW)).toBe(MAX_TIMER_MS);
    expect(timerMs(NOW - 5, NOW)).toBe(1);
    expect(timerMs(NOW + 1_500.2, NOW)).toBe(1_501);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const signal = AbortSignal.timeout(timerMs(NOW + 30 * 86_400_000, NOW));
      expect(signal.aborted).toBe(false);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
  });
});

describe('issue 9.6: sizes', () => {
  it('issue 9.6: a rejected event with a 500 KB detail-type makes a record well under 400 KB, the cut marked', () => {
    // Prepare
    const event = eventWith(loadEvent('spot-interruption-warning/terminate.json'), { 'detail-type': HUGE, source: HUGE });

    // Act
    const parsed = parseEvent(event, fixturePolicy());
    if (parsed.ok) throw new Error('expected a rejection');
    const record = rejectedRecord(parsed.rejection, 0, 1);

    // Assess
    expect(record.detailType).toHaveLength(BOUNDS.field);
    expect(record.detailType).toContain(TRUNCATION_MARKER);
    expect(bytes(record)).toBeLessThan(8 * 1024);
  });

  it('issue 9.6: an error message that cannot be read is bounded too', () => {
    // Prepare
    const raw = new Proxy({}, { get: () => { throw new Error(HUGE); } });

    // Act
    const parsed = parseEvent(raw, fixturePolicy());
    if (parsed.ok) throw new Error('expected a rejection');
    const record = rejectedRecord(parsed.rejection, 0, 1);

    // Assess
    expect(record.reason?.length).toBe(BOUNDS.text);
    expect(record.reason).toMatch(/…\[truncated \d+ chars\]$/);
  });

  it('issue 9.6: the largest possible record stays under DynamoDB\'s 400 KB item limit', () => {
    // Prepare: every string at 500 KB of 3-byte characters, every list far over its bound.
    const wide = '€'.repeat(500 * 1024);
    const action: ActionResult = {
      action: 'deregister',
      target: wide,
      targetId: wide,
      port: 65535,
      result: 'failed',
      latencyMs: 120_000,
      reason: wide,
      error: { name: wide, message: wide, retryable: true },
    };
    const record: ResponseRecord = {
      eventId: wide,
      eventTime: wide,
      detailType: wide,
      instanceId: wide,
      instanceAction: 'terminate',
      account: wide,
      region: wide,
      outcome: 'failed',
      reason: wide,
      duplicateOf: wide,
      autoScalingGroup: wide,
      lifecycleState: wide,
      targetGroups: Array.from({ length: 5_000 }, () => wide.slice(0, 1_000)),
      deregisteredFrom: Array.from({ length: 5_000 }, () => wide.slice(0, 1_000)),
      detached: false,
      actions: Array.from({ length: 5_000 }, () => action),
      deadline: '2026-11-21T05:02:00.000Z',
      msLeftAtFinish: 0,
      indexRefreshedAt: '2026-11-21T05:00:00.000Z',
      notes: Array.from({ length: 5_000 }, () => wide),
      receivedAt: '2026-11-21T05:00:00.000Z',
      finishedAt: '2026-11-21T05:02:00.000Z',
      replacement: { instanceId: wide, seenAt: '2026-11-21T05:01:00.000Z', msFromSignal: 60_000 },
      timeline: Array.from({ length: 5_000 }, () => ({ event: 'detached' as const, at: wide, detail: wide })),
    };

    // Act
    const bounded = boundRecord(record);

    // Assess
    expect(bytes(bounded)).toBeLessThan(DYNAMODB_ITEM_LIMIT_BYTES);
    expect(bounded.actions).toHaveLength(BOUNDS.listItems);
    expect(bounded.actions.at(-1)?.reason).toBe(`…[${5_000 - BOUNDS.listItems + 1} more actions not stored]`);
  });

  it('issue 9.6: leaves a string within its bound alone and cuts one past it to exactly the bound', () => {
    expect(boundText('abc', 3)).toBe('abc');
    expect(boundText('a'.repeat(300), 256)).toHaveLength(256);
  });
});
