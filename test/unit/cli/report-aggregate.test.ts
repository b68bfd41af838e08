// The report's aggregation (cli/report/aggregate.ts): pure, so each rule is shown on plain
// records, and the invariants that must hold for any history are checked with fast-check.
import fc from 'fast-check';
import { buildReport, interruptionRow, spread, NO_GROUP, UNKNOWN } from '../../../cli/report/aggregate';
import type { Outcome, ResponseRecord, TimelineEntry } from '../../../lambda/core/model';
import { REBALANCE_RECOMMENDATION, SPOT_INTERRUPTION_WARNING } from '../../../lambda/events/detail-types';

const SINCE = '2026-11-01T00:00:00.000Z';
const UNTIL = '2026-11-08T00:00:00.000Z';

function record(extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    eventId: 'evt-1',
    eventTime: '2026-11-03T10:00:00Z',
    detailType: SPOT_INTERRUPTION_WARNING,
    instanceId: 'i-1',
    instanceAction: 'terminate',
    account: '111122223333',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: 'web',
    instanceType: 'm5.large',
    availabilityZone: 'eu-west-1a',
    targetGroups: [],
    deregisteredFrom: [],
    detached: true,
    actions: [],
    deadline: '2026-11-03T10:02:00Z',
    msLeftAtFinish: 110_000,
    receivedAt: '2026-11-03T10:00:01.000Z',
    finishedAt: '2026-11-03T10:00:10.000Z',
    ...extra,
  };
}

const at = (event: TimelineEntry['event'], iso: string): TimelineEntry => ({ event, at: iso });

describe('interruptionRow', () => {
  it('measures the real notice from the warning to the shutting-down state change on the timeline', () => {
    // Prepare
    const r = record({
      timeline: [
        at('warning-received', '2026-11-03T10:00:00Z'),
        at('traffic-stopped', '2026-11-03T10:00:02.500Z'),
        at('instance-terminated', '2026-11-03T10:02:30Z'),
        at('instance-shutting-down', '2026-11-03T10:01:58Z'),
      ],
      replacement: { instanceId: 'i-2', seenAt: '2026-11-03T10:00:05.000Z', msFromSignal: 5_000 },
    });

    // Act
    const row = interruptionRow(r);

    // Assess
    expect(row).toMatchObject({
      pool: 'm5.large eu-west-1a',
      noticeMs: 118_000,
      trafficStoppedMs: 2_500,
      replacementLagMs: 5_000,
      failure: null,
    });
  });

  it("falls back to the record's noticeMs, and to null when no state change came", () => {
    expect(interruptionRow(record({ noticeMs: 119_000 }))?.noticeMs).toBe(119_000);
    expect(interruptionRow(record())?.noticeMs).toBeNull();
  });

  it('counts a rebalance response the warning landed on, and no duplicate, rejected or plain rebalance record', () => {
    const rebalanceThenWarned = record({
      detailType: REBALANCE_RECOMMENDATION,
      eventTime: '2026-11-03T09:58:00Z',
      timeline: [at('rebalance-recommended', '2026-11-03T09:58:00Z'), at('warning-received', '2026-11-03T10:00:00Z')],
    });
    expect(interruptionRow(rebalanceThenWarned)).toMatchObject({ warnedAt: '2026-11-03T10:00:00Z' });
    expect(interruptionRow(record({ outcome: 'duplicate' }))).toBeNull();
    expect(interruptionRow(record({ outcome: 'rejected' }))).toBeNull();
    expect(interruptionRow(record({ detailType: REBALANCE_RECOMMENDATION }))).toBeNull();
  });

  it('does not count a warning for an instance EC2 does not know (a replayed sample, an instance long gone)', () => {
    expect(interruptionRow(record({ outcome: 'skipped', skipKind: 'unknown-instance', reason: 'instance not found' }))).toBeNull();
    expect(interruptionRow(record({ outcome: 'skipped', skipKind: 'out-of-scope', reason: 'outside the scope' }))).not.toBeNull();
  });

  it.each<[string, Partial<ResponseRecord>, RegExp]>([
    ['a failed response', { outcome: 'failed', reason: 'deregister arn:tg/a: AccessDenied' }, /^failed: deregister/],
    ['an abandoned claim', { outcome: 'abandoned', reason: 'lease ran out' }, /^abandoned/],
    ['a warning too late to act on', { outcome: 'skipped', skipKind: 'too-late', reason: 'arrived 130 s after' }, /^too late/],
    ['a response that finished after the deadline', { msLeftAtFinish: -1_500 }, /1\.5 s after the deadline/],
  ])('names %s as a failure', (_what, extra, why) => {
    expect(interruptionRow(record(extra))?.failure).toMatch(why);
  });

  it('leaves the pool unknown for a record written before records carried it', () => {
    const { instanceType: _t, availabilityZone: _z, ...old } = record();
    expect(interruptionRow(old as ResponseRecord)).toMatchObject({ pool: UNKNOWN, instanceType: null, availabilityZone: null });
  });
});

describe('buildReport', () => {
  it('groups interruptions per pool and per group, with rates over the window and failures', () => {
    // Prepare
    const records = [
      record({ eventId: 'a', instanceId: 'i-a', noticeMs: 120_000 }),
      record({ eventId: 'b', instanceId: 'i-b', noticeMs: 100_000, outcome: 'failed', reason: 'x' }),
      record({ eventId: 'c', instanceId: 'i-c', availabilityZone: 'eu-west-1b', autoScalingGroup: 'api' }),
      record({ eventId: 'd', instanceId: 'i-d', autoScalingGroup: null, instanceType: 'c5.large' }),
      record({ eventId: 'dup', outcome: 'duplicate', duplicateOf: 'a' }),
      record({ eventId: 'r', detailType: REBALANCE_RECOMMENDATION, outcome: 'skipped', skipKind: 'record-only', availabilityZone: 'eu-west-1c' }),
    ];

    // Act
    const report = buildReport(records, SINCE, UNTIL);

    // Assess
    expect(report.totals).toMatchObject({ interruptions: 4, failures: 1, rebalanceRecommendations: 1, perDay: 0.571 });
    expect(report.pools.map((p) => [p.pool, p.interruptions, p.rebalanceRecommendations])).toEqual([
      ['m5.large eu-west-1a', 2, 0],
      ['c5.large eu-west-1a', 1, 0],
      ['m5.large eu-west-1b', 1, 0],
      ['m5.large eu-west-1c', 0, 1],
    ]);
    expect(report.pools[0]).toMatchObject({ failures: 1, share: 0.5, notice: { count: 2, median: 100_000, max: 120_000 } });
    expect(report.groups.map((g) => [g.group, g.interruptions, g.rebalanceRecommendations])).toEqual([
      ['web', 2, 1],
      [NO_GROUP, 1, 0],
      ['api', 1, 0],
    ]);
    expect(report.groups[0]?.pools).toEqual(['m5.large eu-west-1a']);
    expect(report.daily).toHaveLength(8);
    expect(report.daily.find((d) => d.day === '2026-11-03')).toEqual({ day: '2026-11-03', interruptions: 4, failures: 1 });
  });

  it('does not count a recorded-only rebalance recommendation as one without a warning when the warning followed', () => {
    // Prepare: the demo's story, a record-only recommendation, then the warning for the same instance.
    const records = [
      record({ eventId: 'r', detailType: REBALANCE_RECOMMENDATION, outcome: 'skipped', skipKind: 'record-only', instanceType: undefined, availabilityZone: undefined }),
      record({ eventId: 'w', eventTime: '2026-11-03T10:01:00Z' }),
      record({ eventId: 'r2', instanceId: 'i-other', detailType: REBALANCE_RECOMMENDATION, outcome: 'skipped', skipKind: 'record-only' }),
    ];

    // Act
    const report = buildReport(records, SINCE, UNTIL);

    // Assess
    expect(report.totals).toMatchObject({ interruptions: 1, rebalanceRecommendations: 1 });
    expect(report.pools.map((p) => p.pool)).not.toContain(UNKNOWN);
  });

  it('refuses a window that is not two ISO times in order', () => {
    expect(() => buildReport([], UNTIL, SINCE)).toThrow(RangeError);
    expect(() => buildReport([], 'last week', UNTIL)).toThrow(/ISO/);
  });

  // Any history: random pools, groups, outcomes and timings.
  const outcomes: Outcome[] = ['handled', 'duplicate', 'skipped', 'rejected', 'failed', 'in-progress', 'abandoned'];
  const arbitraryRecord = fc
    .record({
      n: fc.nat(),
      outcome: fc.constantFrom(...outcomes),
      warning: fc.boolean(),
      type: fc.constantFrom('m5.large', 'c5.large', undefined),
      zone: fc.constantFrom('eu-west-1a', 'eu-west-1b', undefined),
      group: fc.constantFrom('web', 'api', null),
      offsetMs: fc.integer({ min: 0, max: 6 * 86_400_000 }),
      noticeMs: fc.option(fc.integer({ min: 0, max: 900_000 })),
    })
    .map(({ n, outcome, warning, type, zone, group, offsetMs, noticeMs }) => {
      const time = new Date(Date.parse(SINCE) + offsetMs).toISOString();
      const r = record({
        eventId: `e-${n}-${offsetMs}`,
        eventTime: time,
        detailType: warning ? SPOT_INTERRUPTION_WARNING : REBALANCE_RECOMMENDATION,
        outcome,
        autoScalingGroup: group,
        noticeMs,
      });
      delete r.instanceType;
      delete r.availabilityZone;
      return { ...r, ...(type ? { instanceType: type } : {}), ...(zone ? { availabilityZone: zone } : {}) };
    });

  it('counts every interruption once in the pools, once in the groups and once per day, whatever the history', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 40 }), (records) => {
        const report = buildReport(records, SINCE, UNTIL);
        const total = report.totals.interruptions;
        const sum = (xs: { interruptions: number }[]) => xs.reduce((a, x) => a + x.interruptions, 0);
        expect(sum(report.pools)).toBe(total);
        expect(sum(report.groups)).toBe(total);
        expect(sum(report.daily)).toBe(total);
        expect(total).toBe(records.filter((r) => r.detailType === SPOT_INTERRUPTION_WARNING && r.outcome !== 'duplicate' && r.outcome !== 'rejected').length);
        expect(report.totals.failures).toBe(report.pools.reduce((a, p) => a + p.failures, 0));
      }),
    );
  });

  it('gives the same report for the records in any order', () => {
    fc.assert(
      fc.property(fc.array(arbitraryRecord, { maxLength: 25 }).chain((rs) => fc.tuple(fc.constant(rs), fc.shuffledSubarray(rs, { minLength: rs.length }))), ([records, shuffled]) => {
        expect(buildReport(shuffled, SINCE, UNTIL)).toEqual(buildReport(records, SINCE, UNTIL));
      }),
    );
  });
});

describe('spread', () => {
  it('is nearest-rank: median and p90 are values that occurred', () => {
    expect(spread([5, 1, 3, null, 2, 4])).toEqual({ count: 5, median: 3, p90: 5, min: 1, max: 5 });
    expect(spread([])).toEqual({ count: 0, median: null, p90: null, min: null, max: null });
  });

  it('orders min <= median <= p90 <= max and picks from the values, for any values', () => {
    fc.assert(
      fc.property(fc.array(fc.option(fc.integer({ min: -1e6, max: 1e6 })), { maxLength: 50 }), (values) => {
        const s = spread(values);
        const present = values.filter((v): v is number => v !== null);
        expect(s.count).toBe(present.length);
        if (present.length === 0) return;
        expect(s.min! <= s.median! && s.median! <= s.p90! && s.p90! <= s.max!).toBe(true);
        expect(present).toContain(s.median);
        expect(present).toContain(s.p90);
      }),
    );
  });
});
