import type { ResponseRecord } from '../../../lambda/core/model';
import { formatRecord, recordSummary } from '../../../cli/format';

const skipped: ResponseRecord = {
  eventId: 'e-1',
  eventTime: '2026-11-21T05:00:00Z',
  detailType: 'EC2 Spot Instance Interruption Warning',
  instanceId: 'i-0123456789abcdef0',
  instanceAction: 'terminate',
  account: '123456789012',
  region: 'us-east-1',
  outcome: 'skipped',
  reason: 'instance is already terminated',
  skipKind: 'already-terminated',
  autoScalingGroup: null,
  targetGroups: [],
  deregisteredFrom: [],
  detached: false,
  actions: [],
  deadline: '2026-11-21T05:02:00.000Z',
  msLeftAtFinish: 110_000,
  receivedAt: '2026-11-21T05:00:05.000Z',
  finishedAt: '2026-11-21T05:00:10.000Z',
};

describe('a skipped record', () => {
  it('carries its kind beside the reason in the JSON summary (history --json, replay --json)', () => {
    expect(recordSummary(skipped)).toMatchObject({ reason: 'instance is already terminated', skipKind: 'already-terminated' });
    expect(recordSummary({ ...skipped, outcome: 'handled', skipKind: undefined, reason: undefined })).toMatchObject({
      reason: null,
      skipKind: null,
    });
  });

  it('shows its kind after the reason in text', () => {
    expect(formatRecord(skipped)).toContain('  reason: instance is already terminated [already-terminated]');
  });
});
