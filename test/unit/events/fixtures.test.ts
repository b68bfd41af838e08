import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ec2Signal } from '../../../lambda/core/model';
import { parseEvent, type ParsedEvent, type Rejection } from '../../../lambda/events';
import {
  EVENT_FIXTURES_DIR,
  eventWith,
  fixturePaths,
  fixturePolicy,
  loadEvent,
  loadJson,
  validFixturePaths,
} from '../../support/fixtures';

const SPOT = 'EC2 Spot Instance Interruption Warning';
const REBALANCE = 'EC2 Instance Rebalance Recommendation';
const STATE_CHANGE = 'EC2 Instance State-change Notification';
const INSTANCE = 'i-1234567890abcdef0';
const FROM_FIXTURE_ACCOUNT = { account: '123456789012', region: 'us-east-1' } as const;

/** What the fixtures under invalid/ salvage unless a test says otherwise. */
const salvagedFromInvalid: Omit<Rejection, 'reason' | 'eventId'> = {
  kind: 'invalid',
  eventTime: '2025-03-05T08:30:00Z',
  detailType: SPOT,
  instanceId: INSTANCE,
  instanceAction: 'terminate',
  account: '123456789012',
  region: 'us-east-1',
};

function rejected(rejection: Rejection): ParsedEvent {
  return { ok: false, rejection };
}

function signalOf(relPath: string): Ec2Signal {
  const parsed = parseEvent(loadEvent(relPath), fixturePolicy());
  if (!parsed.ok) throw new Error(`${relPath} was rejected: ${parsed.rejection.reason}`);
  return parsed.signal;
}

describe('valid fixtures', () => {
  it.each([
    ['terminate', '7bf73129-1428-4cd3-a780-95db273d1602', '2025-03-04T10:15:30Z'],
    ['stop', '3c6f9a2e-5b1d-4e8f-9a7c-2d4b6e8f0a13', '2025-03-04T11:02:07Z'],
    ['hibernate', 'e4d8b2c6-7a91-4f3e-b5d0-6c1a9e2f4b87', '2025-03-04T12:45:59Z'],
  ] as const)('spot-interruption-warning/%s.json becomes a SpotWarning', (action, id, time) => {
    // Prepare
    const event = loadEvent(`spot-interruption-warning/${action}.json`);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual({
      ok: true,
      signal: {
        kind: 'spot-interruption-warning',
        eventId: id,
        eventTime: time,
        ...FROM_FIXTURE_ACCOUNT,
        instanceId: INSTANCE,
        instanceAction: action,
      },
    });
  });

  it('rebalance-recommendation/recommendation.json becomes a RebalanceRecommendation', () => {
    // Prepare
    const event = loadEvent('rebalance-recommendation/recommendation.json');

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual({
      ok: true,
      signal: {
        kind: 'rebalance-recommendation',
        eventId: 'f0a3c5e7-19b2-4d64-a8f1-3e5c7b9d1f20',
        eventTime: '2025-03-04T10:05:00Z',
        ...FROM_FIXTURE_ACCOUNT,
        instanceId: INSTANCE,
      },
    });
  });

  it.each([
    ['shutting-down', 'a1b3d5f7-2c4e-4a68-9b0d-4f6a8c0e2b31', '2025-03-04T10:17:28Z'],
    ['terminated', 'b2c4e6a8-3d5f-4b79-8c1e-5a7b9d1f3c42', '2025-03-04T10:18:00Z'],
    ['stopping', 'c3d5f7b9-4e60-4c8a-9d2f-6b8c0e2a4d53', '2025-03-04T11:04:05Z'],
    ['stopped', 'd4e6a8c0-5f71-4d9b-8e3a-7c9d1f3b5e64', '2025-03-04T11:04:37Z'],
    ['running', 'e5f7b9d1-6a82-4eac-9f4b-8d0e2a4c6f75', '2025-03-04T11:32:07Z'],
  ] as const)('instance-state-change/%s.json becomes an InstanceStateChange', (state, id, time) => {
    // Prepare
    const event = loadEvent(`instance-state-change/${state}.json`);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual({
      ok: true,
      signal: {
        kind: 'instance-state-change',
        eventId: id,
        eventTime: time,
        ...FROM_FIXTURE_ACCOUNT,
        instanceId: INSTANCE,
        state,
      },
    });
  });

  it('tell the lifecycle in order: recommendation, warning, then the state changes it foretold', () => {
    // Act
    const at = (relPath: string): number => Date.parse(signalOf(relPath).eventTime);
    const secondsAfter = (relPath: string, warning: string): number => (at(relPath) - at(warning)) / 1000;
    const terminate = 'spot-interruption-warning/terminate.json';
    const stop = 'spot-interruption-warning/stop.json';

    // Assess
    expect(at('rebalance-recommendation/recommendation.json')).toBeLessThan(at(terminate));
    expect(secondsAfter('instance-state-change/shutting-down.json', terminate)).toBe(118);
    expect(secondsAfter('instance-state-change/terminated.json', terminate)).toBe(150);
    expect(secondsAfter('instance-state-change/stopping.json', stop)).toBe(118);
    expect(secondsAfter('instance-state-change/stopped.json', stop)).toBe(150);
    expect(at('instance-state-change/running.json')).toBeGreaterThan(at('instance-state-change/stopped.json'));
  });

  it('all concern the same instance, in the fixture account and region, each with its own id', () => {
    // Act
    const signals = validFixturePaths().map(signalOf);

    // Assess
    expect(signals).toHaveLength(11);
    for (const signal of signals) expect(signal).toMatchObject({ instanceId: INSTANCE, ...FROM_FIXTURE_ACCOUNT });
    expect(new Set(signals.map((signal) => signal.eventId)).size).toBe(signals.length);
  });
});

describe('invalid fixtures', () => {
  it.each<[string, Rejection]>([
    [
      'missing-instance-id',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-id is missing',
        eventId: '0d6e3f4a-1b2c-4d5e-8f90-a1b2c3d4e5f6',
        instanceId: null,
      },
    ],
    [
      'instance-id-wrong-type',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-id must be a string, got number',
        eventId: '1e7f4a5b-2c3d-4e6f-9a01-b2c3d4e5f6a7',
        instanceId: null,
      },
    ],
    [
      'malformed-instance-id',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-id "1234567890abcdef0" is not an EC2 instance id',
        eventId: '2f8a5b6c-3d4e-4f70-8b12-c3d4e5f6a7b8',
        instanceId: null,
      },
    ],
    [
      'unknown-instance-action',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-action "reboot" is not one of terminate, stop, hibernate',
        eventId: '3a9b6c7d-4e5f-4081-9c23-d4e5f6a7b8c9',
        instanceAction: null,
      },
    ],
    [
      'missing-detail',
      {
        ...salvagedFromInvalid,
        reason: 'detail is missing',
        eventId: '4b0c7d8e-5f60-4192-8d34-e5f6a7b8c9d0',
        instanceId: null,
        instanceAction: null,
      },
    ],
    [
      'wrong-detail-type',
      {
        ...salvagedFromInvalid,
        kind: 'unsupported',
        reason: 'unsupported detail-type "EC2 Spot Instance Request Fulfillment"',
        eventId: '5c1d8e9f-6071-42a3-9e45-f6a7b8c9d0e1',
        detailType: 'EC2 Spot Instance Request Fulfillment',
        instanceAction: null,
      },
    ],
    [
      'wrong-source',
      {
        ...salvagedFromInvalid,
        kind: 'unsupported',
        reason: 'source "com.example.spot-drill" is not supported (expected "aws.ec2", "aws.ssm")',
        eventId: '6d2e9f0a-7182-43b4-8f56-a7b8c9d0e1f2',
      },
    ],
    [
      'foreign-account',
      {
        ...salvagedFromInvalid,
        kind: 'not-accepted',
        reason: 'account "210987654321" is not accepted (to respond to it, add it to acceptedAccounts: the construct prop or the spotResponder:acceptedAccounts context key; replay: --account)',
        eventId: '7e3f0a1b-8293-44c5-9067-b8c9d0e1f2a3',
        account: '210987654321',
      },
    ],
    [
      'foreign-region',
      {
        ...salvagedFromInvalid,
        kind: 'not-accepted',
        reason: 'region "eu-west-1" is not accepted (to respond to it, add it to acceptedRegions: the construct prop or the spotResponder:acceptedRegions context key)',
        eventId: '8f4a1b2c-93a4-45d6-8178-c9d0e1f2a3b4',
        region: 'eu-west-1',
      },
    ],
    [
      'bad-time',
      {
        ...salvagedFromInvalid,
        reason: 'time "2025-03-05T08:30:00" is not an ISO-8601 date and time with a time zone',
        eventId: '9a5b2c3d-a4b5-46e7-9289-d0e1f2a3b4c5',
        eventTime: null,
      },
    ],
    [
      'missing-id',
      {
        ...salvagedFromInvalid,
        reason: 'id is missing',
        eventId: 'unidentified-708e6a030300daf4',
      },
    ],
    [
      'many-problems',
      {
        kind: 'invalid',
        reason: [
          'account "12345" is not a 12-digit AWS account id',
          'time "yesterday" is not an ISO-8601 date and time with a time zone',
          'region "US-EAST-1" is not an AWS region name',
          'detail.instance-action "reboot" is not one of terminate, stop, hibernate',
        ].join('; '),
        eventId: 'cd8e5f60-d7e8-491a-85bc-a3b4c5d6e7f8',
        eventTime: null,
        detailType: SPOT,
        instanceId: INSTANCE,
        instanceAction: null,
        account: null,
        region: null,
      },
    ],
    [
      'rebalance-missing-instance-id',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-id is missing',
        eventId: 'de9f6071-e8f9-4a2b-96cd-b4c5d6e7f809',
        detailType: REBALANCE,
        instanceId: null,
        instanceAction: null,
      },
    ],
    [
      'rebalance-malformed-instance-id',
      {
        ...salvagedFromInvalid,
        reason: 'detail.instance-id "arn:aws:ec2:us-east-1:123456789012:instance/i-1234567890abcdef0" is not an EC2 instance id',
        eventId: 'ef0a7182-f90a-4b3c-87de-c5d6e7f8091a',
        detailType: REBALANCE,
        instanceId: null,
        instanceAction: null,
      },
    ],
    [
      'state-change-unknown-state',
      {
        ...salvagedFromInvalid,
        reason: 'detail.state "rebooting" is not one of pending, running, stopping, stopped, shutting-down, terminated',
        eventId: 'f01b8293-0a1b-4c4d-98ef-d6e7f8091a2b',
        detailType: STATE_CHANGE,
        instanceAction: null,
      },
    ],
    [
      'state-change-missing-state',
      {
        ...salvagedFromInvalid,
        reason: 'detail.state is missing',
        eventId: '012c93a4-1b2c-4d5e-89f0-e7f8091a2b3c',
        detailType: STATE_CHANGE,
        instanceAction: null,
      },
    ],
    [
      'state-change-state-wrong-type',
      {
        ...salvagedFromInvalid,
        reason: 'detail.state must be a string, got object',
        eventId: '123da4b5-2c3d-4e6f-9a01-f8091a2b3c4d',
        detailType: STATE_CHANGE,
        instanceAction: null,
      },
    ],
  ])('invalid/%s.json is rejected', (name, rejection) => {
    // Prepare
    const event = loadEvent(`invalid/${name}.json`);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual(rejected(rejection));
  });

  it.each([
    ['not-an-object', 'event is not a JSON object (got array)', 'unidentified-036c7e229df29ee0'],
    ['double-encoded', 'event is not a JSON object (got string)', 'unidentified-6f975a1d18215469'],
  ])('invalid/%s.json is rejected without salvaging anything', (name, reason, eventId) => {
    // Prepare
    const event = loadJson(`invalid/${name}.json`);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual(
      rejected({
        kind: 'invalid',
        reason,
        eventId,
        eventTime: null,
        detailType: null,
        instanceId: null,
        instanceAction: null,
        account: null,
        region: null,
      }),
    );
  });
});

describe('fixture catalogue', () => {
  it('README.md lists every fixture, and only fixtures that exist', () => {
    // Prepare
    const readme = readFileSync(join(EVENT_FIXTURES_DIR, 'README.md'), 'utf8');
    const onDisk = fixturePaths();

    // Act
    const listed: string[] = [];
    let dir = '';
    for (const line of readme.split('\n')) {
      const heading = /^## (\S+)\//.exec(line);
      const item = /^- `([^`]+\.json)`/.exec(line);
      if (heading?.[1]) dir = heading[1];
      else if (item?.[1]) listed.push(`${dir}/${item[1]}`);
    }

    // Assess
    expect(listed.sort()).toEqual(onDisk);
  });

  it('every fixture under invalid/ is rejected, and every other one accepted', () => {
    // Act
    const accepted = fixturePaths().filter((path) => parseEvent(loadJson(path), fixturePolicy()).ok);

    // Assess
    expect(accepted).toEqual(validFixturePaths());
    expect(fixturePaths('invalid')).toHaveLength(fixturePaths().length - accepted.length);
  });
});

describe('test support', () => {
  it('loadEvent returns a fresh copy each time', () => {
    // Prepare
    const first = loadEvent('spot-interruption-warning/terminate.json');

    // Act
    (first.detail as Record<string, unknown>)['instance-id'] = 'i-00000000';
    const second = loadEvent('spot-interruption-warning/terminate.json');

    // Assess
    expect(second.detail).toEqual({ 'instance-id': INSTANCE, 'instance-action': 'terminate' });
  });

  it('eventWith changes one detail field, removes fields given undefined, and leaves the base alone', () => {
    // Prepare
    const base = loadEvent('spot-interruption-warning/terminate.json');
    const before = structuredClone(base);

    // Act
    const changed = eventWith(base, { region: 'us-west-2', id: undefined, detail: { 'instance-action': 'stop' } });

    // Assess
    expect(base).toEqual(before);
    expect(changed).toEqual({
      ...Object.fromEntries(Object.entries(before).filter(([key]) => key !== 'id')),
      region: 'us-west-2',
      detail: { 'instance-id': INSTANCE, 'instance-action': 'stop' },
    });
  });

  it('eventWith replaces detail outright when the change is not an object', () => {
    // Prepare
    const base = loadEvent('spot-interruption-warning/terminate.json');

    // Act
    const changed = eventWith(base, { detail: ['i-1234567890abcdef0'] });

    // Assess
    expect(changed.detail).toEqual(['i-1234567890abcdef0']);
  });

  it('loadEvent refuses a fixture that is not an object', () => {
    // Act / Assess
    expect(() => loadEvent('invalid/not-an-object.json')).toThrow('not a JSON object; use loadJson');
  });
});
