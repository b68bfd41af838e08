import { parseEvent, type AcceptPolicy, type RejectionKind } from '../../../lambda/events';
import { eventWith, fixturePolicy, loadEvent, type EventChanges } from '../../support/fixtures';

const TERMINATE = 'spot-interruption-warning/terminate.json';
const FOREIGN = { account: '210987654321' };

function kindOf(changes: EventChanges, policy: AcceptPolicy = fixturePolicy()): RejectionKind | null {
  const parsed = parseEvent(eventWith(loadEvent(TERMINATE), changes), policy);
  return parsed.ok ? null : parsed.rejection.kind;
}

describe('rejection kind', () => {
  it.each<[string, EventChanges]>([
    ['a source other than aws.ec2', { source: 'com.example.spot-drill' }],
    ['an unsupported detail-type', { 'detail-type': 'EC2 Spot Instance Request Fulfillment' }],
    ['an unsupported detail-type with invalid fields too', { 'detail-type': 'AWS Health Event', time: 'soon' }],
    ['an unsupported detail-type from a foreign account', { 'detail-type': 'AWS Health Event', ...FOREIGN }],
  ])('is unsupported for %s', (_name, changes) => {
    // Act
    const kind = kindOf(changes);

    // Assess
    expect(kind).toBe('unsupported');
  });

  it.each<[string, EventChanges]>([
    ['a missing source', { source: undefined }],
    ['a detail-type that is not a string', { 'detail-type': 7 }],
    ['a bad instance-id', { detail: { 'instance-id': 'abc' } }],
    ['a bad time', { time: 'yesterday' }],
    ['a malformed account', { account: '42' }],
    ['a bad field in an event from a foreign account', { detail: { 'instance-action': 'reboot' }, ...FOREIGN }],
  ])('is invalid for %s', (_name, changes) => {
    // Act
    const kind = kindOf(changes);

    // Assess
    expect(kind).toBe('invalid');
  });

  it.each<[string, EventChanges]>([
    ['a foreign account', FOREIGN],
    ['a foreign region', { region: 'eu-west-1' }],
    ['both', { ...FOREIGN, region: 'eu-west-1' }],
  ])('is not-accepted for an otherwise valid event from %s', (_name, changes) => {
    // Act
    const kind = kindOf(changes);

    // Assess
    expect(kind).toBe('not-accepted');
  });

  it.each<[string, unknown]>([
    ['not an object', [1, 2]],
    ['null', null],
  ])('is invalid for input that is %s', (_name, raw) => {
    // Act
    const parsed = parseEvent(raw, fixturePolicy());

    // Assess
    expect(parsed).toMatchObject({ ok: false, rejection: { kind: 'invalid' } });
  });
});
