// Issues 9.4 and 9.10 through the responder and the real adapters over mocked clients: what
// is sent to AWS, what is recorded, and that nothing is thrown (a throw makes Lambda retry,
// dead-letter and alarm). moto can show neither: it answers every call whatever the IAM policy,
// and ignores suspended processes.
import 'aws-sdk-client-mock-jest';
import {
  DescribeAutoScalingGroupsCommand,
  DetachInstancesCommand,
  TerminateInstanceInAutoScalingGroupCommand,
} from '@aws-sdk/client-auto-scaling';
import { DeregisterTargetsCommand } from '@aws-sdk/client-elastic-load-balancing-v2';
import { DEFAULT_BEHAVIOUR, type ResponderBehaviour } from '../../../lambda/core/behaviour';
import { loadEvent } from '../../support/fixtures';
import { FLEET, deregistrationsSent, finishedRecord, groupReply, terminateWarning, worldFor } from '../../support/mock-aws';

const scoped = (autoScalingGroupNames: string[], targetGroupNames: string[]): ResponderBehaviour => ({
  ...DEFAULT_BEHAVIOUR,
  scope: { autoScalingGroupNames, targetGroupNames },
});

function groupWithSuspended(...processes: string[]) {
  const reply = groupReply();
  const group = reply.AutoScalingGroups?.[0];
  if (!group) throw new Error('groupReply has no group');
  return { ...reply, AutoScalingGroups: [{ ...group, SuspendedProcesses: processes.map((ProcessName) => ({ ProcessName })) }] };
}

describe('issue 9.4: scope', () => {
  it('issue 9.4: an instance whose group and target groups are all out of scope is skipped: no mutating call, no throw', async () => {
    // Prepare: the fleet is web-*, the deployment covers batch-* only.
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    const record = await aws.handler({ behaviour: scoped(['batch-*'], ['batch-*']) })(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'skipped', skipKind: 'out-of-scope' });
    expect(record.reason).toContain('Auto Scaling group web-asg is out of scope (autoScalingGroupNames: batch-*)');
    expect(record.reason).toContain('target group admin is out of scope');
    expect(aws.elbv2).not.toHaveReceivedCommand(DeregisterTargetsCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(aws.autoScaling).not.toHaveReceivedCommand(TerminateInstanceInAutoScalingGroupCommand);
    expect(finishedRecord(aws)).toMatchObject({ outcome: 'skipped', skipKind: 'out-of-scope' });
  });

  it('issue 9.4: an in-scope instance with one registration outside targetGroupNames handles the rest and records that one as skipped', async () => {
    // Prepare: the index knows a registration in "admin", outside web-*.
    const event = terminateWarning();
    const aws = worldFor(event);

    // Act
    const record = await aws.handler({ behaviour: scoped(['web-*'], ['web-*']) })(event);

    // Assess
    expect(record.outcome).toBe('handled');
    expect(deregistrationsSent(aws).map((d) => d.TargetGroupArn).sort()).toEqual([...FLEET.asgTargetGroups].sort());
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(record.actions).toContainEqual(
      expect.objectContaining({
        action: 'deregister',
        target: FLEET.indexedGroup,
        result: 'skipped',
        reason: 'target group admin is out of scope (targetGroupNames: web-*)',
      }),
    );
    expect(record.targetGroups).toContain(FLEET.indexedGroup);
    expect(record.deregisteredFrom).not.toContain(FLEET.indexedGroup);
  });
});

describe('issue 9.10: suspended processes (moto ignores suspension: unit only)', () => {
  it('issue 9.10: with Launch suspended, a stop warning deregisters only and keeps the instance in its group', async () => {
    // Prepare
    const event = loadEvent('spot-interruption-warning/stop.json');
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupWithSuspended('Launch'));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(record).toMatchObject({ outcome: 'handled', detached: false });
    expect(aws.autoScaling).not.toHaveReceivedCommand(DetachInstancesCommand);
    expect(deregistrationsSent(aws)).toHaveLength(3);
    expect(record.actions).toContainEqual(
      expect.objectContaining({ action: 'detach', result: 'skipped', reason: expect.stringContaining('Launch is suspended on web-asg') }),
    );
  });

  it('issue 9.10: with Launch suspended, a terminate warning detaches and notes that no replacement comes until Launch resumes', async () => {
    // Prepare
    const event = terminateWarning();
    const aws = worldFor(event);
    aws.autoScaling.on(DescribeAutoScalingGroupsCommand).resolves(groupWithSuspended('Launch'));

    // Act
    const record = await aws.handler()(event);

    // Assess
    expect(aws.autoScaling).toHaveReceivedCommandTimes(DetachInstancesCommand, 1);
    expect(record.notes).toContain('Launch is suspended on web-asg: no replacement will launch until Launch resumes');
  });
});
