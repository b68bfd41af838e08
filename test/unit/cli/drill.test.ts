// `spot-responder drill` (cli/drill/): the FIS calls through aws-sdk-client-mock (moto has no
// FIS, so no FIS call is shown against the emulator; the scoring is, on moto's records, in
// test/integration/drill.test.ts), the wait, and the scoring rules on plain records.
import 'aws-sdk-client-mock-jest';
import {
  FisClient,
  FisServiceException,
  GetExperimentCommand,
  ListExperimentResolvedTargetsCommand,
  StartExperimentCommand,
} from '@aws-sdk/client-fis';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';
import { runDrill, type DrillDeps } from '../../../cli/drill';
import { recordsByInstance, scoreDrill } from '../../../cli/drill/score';
import type { HistoryQuery } from '../../../lambda/core/ports';
import type { ResponseRecord, TimelineEntry } from '../../../lambda/core/model';
import { SPOT_INTERRUPTION_WARNING } from '../../../lambda/events/detail-types';

// @aws-sdk/client-fis is 3.523 here (the newest the registry offers), built on older @smithy
// types than aws-sdk-client-mock's: the mock works the same at run time (it stubs `send`), only
// the compile-time types disagree, hence the casts through `never` in this file.
const fisMock: AwsStub<any, any, any> = mockClient(FisClient as never);
const Start = StartExperimentCommand as never;
const Get = GetExperimentCommand as never;
const ListTargets = ListExperimentResolvedTargetsCommand as never;
const TEMPLATE = 'EXTabc123';
const STARTED = new Date('2026-11-03T10:00:00.000Z');
const WARNED = '2026-11-03T10:00:05Z';

const at = (event: TimelineEntry['event'], secondsAfterWarning: number): TimelineEntry => ({
  event,
  at: new Date(Date.parse(WARNED) + secondsAfterWarning * 1000).toISOString(),
});

function drilled(instanceId: string, extra: Partial<ResponseRecord> = {}): ResponseRecord {
  return {
    eventId: `evt-${instanceId}`,
    eventTime: WARNED,
    detailType: SPOT_INTERRUPTION_WARNING,
    instanceId,
    instanceAction: 'terminate',
    account: '111122223333',
    region: 'eu-west-1',
    outcome: 'handled',
    autoScalingGroup: 'web',
    targetGroups: ['arn:tg/web'],
    deregisteredFrom: ['arn:tg/web'],
    detached: true,
    actions: [],
    deadline: '2026-11-03T10:02:05Z',
    msLeftAtFinish: 110_000,
    receivedAt: WARNED,
    finishedAt: WARNED,
    replacement: { instanceId: `${instanceId}-new`, seenAt: at('replacement-launched', 4).at, msFromSignal: 4_000 },
    timeline: [at('warning-received', 0), at('traffic-stopped', 2), at('detached', 2), at('replacement-launched', 4), at('replacement-healthy', 200)],
    ...extra,
  };
}

/** A clock the fake sleep advances, and a history whose answers change as the drill re-reads. */
function world(answers: ResponseRecord[][]) {
  let clock = STARTED.getTime();
  const queries: HistoryQuery[] = [];
  const deps: DrillDeps = {
    fis: new FisClient({ region: 'eu-west-1' }),
    history: {
      history: async (q) => {
        queries.push(q);
        return answers[Math.min(queries.length - 1, answers.length - 1)] ?? [];
      },
    },
    now: () => clock,
    sleep: async (ms) => {
      clock += ms;
    },
  };
  return { deps, queries, lines: [] as string[] };
}

function fisAnswers(status: 'completed' | 'failed' = 'completed', ids = ['i-0aaaaaaaaaaaaaaa1', 'i-0aaaaaaaaaaaaaaa2']) {
  fisMock.on(Start).resolves({ experiment: { id: 'EXP1', state: { status: 'initiating' }, startTime: STARTED } });
  fisMock
    .on(Get)
    .resolvesOnce({ experiment: { id: 'EXP1', state: { status: 'running' } } })
    .resolves({ experiment: { id: 'EXP1', state: { status, ...(status === 'failed' ? { reason: 'Target resolution failed' } : {}) }, endTime: new Date('2026-11-03T10:06:00Z') } });
  fisMock.on(ListTargets).resolves({
    resolvedTargets: ids.map((id) => ({ resourceType: 'aws:ec2:spot-instance', targetName: 'SpotInstances', targetInformation: { identifier: `arn:aws:ec2:eu-west-1:111122223333:instance/${id}` } })),
  });
}

describe('runDrill', () => {
  beforeEach(() => fisMock.reset());

  it('starts the template once, waits for the end, and passes when every interrupted instance passes', async () => {
    // Prepare
    fisAnswers();
    const w = world([[drilled('i-0aaaaaaaaaaaaaaa1'), drilled('i-0aaaaaaaaaaaaaaa2')]]);

    // Act
    const report = await runDrill({ experimentTemplateId: TEMPLATE, json: false }, w.deps, (l) => w.lines.push(l));

    // Assess
    expect(fisMock).toHaveReceivedCommandWith(Start, { experimentTemplateId: TEMPLATE, clientToken: expect.any(String) });
    expect(fisMock).toHaveReceivedCommandTimes(Start, 1);
    expect(fisMock).toHaveReceivedCommandTimes(Get, 2);
    expect(fisMock).toHaveReceivedCommandWith(ListTargets, { experimentId: 'EXP1' });
    expect(w.queries[0]).toEqual({ since: STARTED.toISOString() });
    expect(report).toMatchObject({ experimentStatus: 'completed', targetsFrom: 'fis', exitCode: 0, score: { passed: 2, failed: 0, pass: true } });
    expect(w.lines.join('\n')).toMatch(/^PASS {2}experiment EXP1 completed: 2 of 2 instance\(s\) passed/m);
  });

  it('reads the records again until the replacement is seen healthy, within the settle time', async () => {
    fisAnswers('completed', ['i-0aaaaaaaaaaaaaaa1']);
    const notYet = drilled('i-0aaaaaaaaaaaaaaa1', { timeline: [at('warning-received', 0), at('traffic-stopped', 2), at('replacement-launched', 4)] });
    const w = world([[notYet], [notYet], [drilled('i-0aaaaaaaaaaaaaaa1')]]);

    const report = await runDrill({ experimentTemplateId: TEMPLATE, json: true, pollMs: 1_000 }, w.deps, (l) => w.lines.push(l));

    expect(w.queries).toHaveLength(3);
    expect(report.exitCode).toBe(0);
    expect(JSON.parse(w.lines[0] ?? '')).toMatchObject({ experimentId: 'EXP1', score: { pass: true } });
  });

  it('fails (exit 1) and says why when an instance was never warned, once the settle time is over', async () => {
    fisAnswers();
    const w = world([[drilled('i-0aaaaaaaaaaaaaaa1')]]);

    const report = await runDrill({ experimentTemplateId: TEMPLATE, json: false, settleMs: 60_000, pollMs: 10_000 }, w.deps, (l) => w.lines.push(l));

    expect(report).toMatchObject({ exitCode: 1, score: { passed: 1, failed: 1, pass: false } });
    expect(w.queries.length).toBeGreaterThanOrEqual(6);
    expect(w.lines.join('\n')).toMatch(/i-0aaaaaaaaaaaaaaa2: no record: the warning never reached the responder/);
  });

  it('fails when the experiment itself failed, naming FIS reason', async () => {
    fisAnswers('failed', []);
    const w = world([[]]);
    const report = await runDrill({ experimentTemplateId: TEMPLATE, json: false, settleMs: 0 }, w.deps, (l) => w.lines.push(l));
    expect(report).toMatchObject({ exitCode: 1, experimentStatus: 'failed', experimentReason: 'Target resolution failed', targetsFrom: 'records' });
    expect(w.lines.join('\n')).toMatch(/no interrupted instance found/);
  });

  it('gives up on an experiment that does not end within its timeout', async () => {
    fisMock.on(Start).resolves({ experiment: { id: 'EXP1', state: { status: 'initiating' }, startTime: STARTED } });
    fisMock.on(Get).resolves({ experiment: { id: 'EXP1', state: { status: 'running' } } });
    const w = world([[]]);
    await expect(runDrill({ experimentTemplateId: TEMPLATE, json: false, experimentTimeoutMs: 60_000 }, w.deps, () => undefined)).rejects.toThrow(/still running after the timeout/);
  });

  it("passes FIS's refusal on (no such template), starting nothing else", async () => {
    fisMock.on(Start).rejects(new FisServiceException({ name: 'ResourceNotFoundException', $fault: 'client', message: 'Experiment template not found', $metadata: {} }));
    const w = world([[]]);
    await expect(runDrill({ experimentTemplateId: 'EXTnope', json: false }, w.deps, () => undefined)).rejects.toThrow(/not found/);
    expect(fisMock).toHaveReceivedCommandTimes(Get, 0);
  });
});

describe('scoreDrill', () => {
  const score = (record: ResponseRecord) => scoreDrill([record.instanceId as string], recordsByInstance([record], STARTED.toISOString())).instances[0];

  it('times each milestone from the warning', () => {
    expect(score(drilled('i-1'))).toMatchObject({
      pass: true,
      warned: { result: 'pass' },
      trafficStoppedBeforeDeadline: { result: 'pass', ms: 2_000 },
      replacementLaunched: { result: 'pass', ms: 4_000 },
      replacementHealthy: { result: 'pass', ms: 200_000 },
    });
  });

  it('fails traffic stopped after the 120 s deadline', () => {
    const late = drilled('i-1', { timeline: [at('warning-received', 0), at('traffic-stopped', 121), at('replacement-healthy', 200)] });
    expect(score(late)).toMatchObject({ pass: false, trafficStoppedBeforeDeadline: { result: 'fail', ms: 121_000 } });
  });

  it('fails a failed response, and a replacement never launched', () => {
    expect(score(drilled('i-1', { outcome: 'failed', reason: 'DetachInstances: AccessDenied' }))).toMatchObject({ pass: false, warned: { result: 'fail', detail: expect.stringMatching(/AccessDenied/) } });
    const { replacement: _r, ...noReplacement } = drilled('i-1', { timeline: [at('warning-received', 0), at('traffic-stopped', 2)] });
    expect(score(noReplacement)).toMatchObject({ pass: false, replacementLaunched: { result: 'fail' }, replacementHealthy: { result: 'fail' } });
  });

  it('does not fail what does not apply: no target group, no Auto Scaling group', () => {
    const { replacement: _r, ...bare } = drilled('i-1', { autoScalingGroup: null, targetGroups: [], deregisteredFrom: [], detached: false, timeline: [at('warning-received', 0)] });
    expect(score(bare)).toMatchObject({
      pass: true,
      trafficStoppedBeforeDeadline: { result: 'n/a' },
      replacementLaunched: { result: 'n/a' },
      replacementHealthy: { result: 'n/a' },
    });
  });

  it('ignores an older interruption of the same instance, duplicates and rejected events', () => {
    const older = drilled('i-1', { eventId: 'old', eventTime: '2026-11-01T00:00:00Z', timeline: [at('warning-received', -200_000)] });
    const duplicate = drilled('i-1', { eventId: 'dup', outcome: 'duplicate' });
    const chosen = recordsByInstance([older, duplicate, drilled('i-1')], STARTED.toISOString());
    expect(chosen.get('i-1')?.eventId).toBe('evt-i-1');
    expect(recordsByInstance([older, duplicate], STARTED.toISOString()).size).toBe(0);
  });
});
