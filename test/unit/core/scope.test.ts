// Issue 9.4: the plan's scope check and the construct's IAM statements use one matcher, and agree
// with IAM's own wildcard matching of the full resource ARN for any name and any pattern.
import fc from 'fast-check';
import {
  autoScalingGroupResourceName,
  groupOutOfScope,
  iamPatternMatches,
  targetGroupNameOf,
  targetGroupOutOfScope,
  targetGroupResourceName,
} from '../../../lambda/core/scope';

const PREFIX = 'arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/';
const ASG_PREFIX = 'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:';

/** Target group names: 1-32 of A-Z a-z 0-9 - (ELBv2); patterns add IAM's * and ?. */
const tgChar = fc.constantFrom(...'abwe-19Z');
const tgName = fc.string({ unit: tgChar, minLength: 1, maxLength: 12 });
const tgPattern = fc.string({ unit: fc.constantFrom(...'abwe-19Z*?'), minLength: 1, maxLength: 8 });
/** Group names: anything but ':' and '/' (lib/validation.ts) — punctuation that means something in a regex included. */
const asgName = fc.string({ unit: fc.constantFrom(...'ab-. +()[]$^\\|{}'), minLength: 1, maxLength: 12 });
const asgPattern = fc.string({ unit: fc.constantFrom(...'ab-. +()[]$^\\|{}*?'), minLength: 1, maxLength: 8 });
const id = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 });
const uuid = fc.uuid();

describe('iamPatternMatches', () => {
  it.each([
    ['web-*', 'web-', true],
    ['web-*', 'web-blue', true],
    ['web-*', 'xweb-blue', false],
    ['web-?', 'web-1', true],
    ['web-?', 'web-12', false],
    ['web-?', 'web-', false],
    ['*', '', true],
    ['Web', 'web', false],
    ['a.b', 'axb', false],
    ['a+', 'aa', false],
  ])('issue 9.4: %p against %p is %p (whole value, case-sensitive, only * and ? are wildcards)', (pattern, value, expected) => {
    expect(iamPatternMatches(pattern, value)).toBe(expected);
  });
});

describe('issue 9.4: the Lambda and the construct agree on the scope', () => {
  it('issue 9.4: a target group is in the plan\'s scope exactly when the DeregisterTargets resource ARN matches its ARN (property)', () => {
    fc.assert(
      fc.property(tgPattern, tgName, id, (pattern, name, tgId) => {
        const arn = `${PREFIX}${name}/${tgId}`;
        const iamAllows = iamPatternMatches(`${PREFIX}${targetGroupResourceName(pattern)}`, arn);
        const planAllows = targetGroupOutOfScope({ autoScalingGroupNames: ['*'], targetGroupNames: [pattern] }, arn) === null;
        expect(planAllows).toBe(iamAllows);
      }),
      { numRuns: 2000 },
    );
  });

  it('issue 9.4: a group is in the plan\'s scope exactly when the DetachInstances resource ARN matches its ARN (property)', () => {
    fc.assert(
      fc.property(asgPattern, asgName, uuid, (pattern, name, groupId) => {
        const arn = `${ASG_PREFIX}${groupId}:autoScalingGroupName/${name}`;
        const iamAllows = iamPatternMatches(`${ASG_PREFIX}${autoScalingGroupResourceName(pattern)}`, arn);
        const planAllows = groupOutOfScope({ autoScalingGroupNames: [pattern], targetGroupNames: ['*'] }, name) === null;
        expect(planAllows).toBe(iamAllows);
      }),
      { numRuns: 2000 },
    );
  });

  it('issue 9.4: reads the name out of a target group ARN, and nothing out of anything else', () => {
    expect(targetGroupNameOf(`${PREFIX}web-tg/0123456789abcdef`)).toBe('web-tg');
    expect(targetGroupNameOf('web-tg')).toBeNull();
    expect(targetGroupOutOfScope({ autoScalingGroupNames: ['*'], targetGroupNames: ['*'] }, 'not-an-arn')).toBeNull();
    expect(targetGroupOutOfScope({ autoScalingGroupNames: ['*'], targetGroupNames: ['web-*'] }, 'not-an-arn')).toContain('out of scope');
  });
});
