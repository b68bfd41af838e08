import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseEvent, type ParsedEvent, type Rejection } from '../../../lambda/events';
import {
  EVENT_FIXTURES_DIR,
  eventWith,
  fixturePolicy,
  loadEvent,
  loadJson,
} from '../../support/fixtures';

const SPOT = 'EC2 Spot Instance Interruption Warning';
const INSTANCE = 'i-1234567890abcdef0';

/** What the fixtures under invalid/ salvage unless a test says otherwise. */
const salvagedFromInvalid: Omit<Rejection, 'reason' | 'eventId'> = {
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
      warning: {
        kind: 'spot-interruption-warning',
        eventId: id,
        eventTime: time,
        account: '123456789012',
        region: 'us-east-1',
        instanceId: INSTANCE,
        instanceAction: action,
      },
    });
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
        reason: 'unsupported detail-type "EC2 Instance State-change Notification"',
        eventId: '5c1d8e9f-6071-42a3-9e45-f6a7b8c9d0e1',
        eventTime: '2025-03-05T08:32:00Z',
        detailType: 'EC2 Instance State-change Notification',
        instanceAction: null,
      },
    ],
    [
      'wrong-source',
      {
        ...salvagedFromInvalid,
        reason: 'source "com.example.spot-drill" is not supported (expected "aws.ec2")',
        eventId: '6d2e9f0a-7182-43b4-8f56-a7b8c9d0e1f2',
      },
    ],
    [
      'foreign-account',
      {
        ...salvagedFromInvalid,
        reason: 'account "210987654321" is not accepted (configure ACCEPTED_ACCOUNTS to respond to it)',
        eventId: '7e3f0a1b-8293-44c5-9067-b8c9d0e1f2a3',
        account: '210987654321',
      },
    ],
    [
      'foreign-region',
      {
        ...salvagedFromInvalid,
        reason: 'region "eu-west-1" is not accepted (configure ACCEPTED_REGIONS to respond to it)',
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
  const fixtureFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? fixtureFiles(join(dir, entry.name)) : entry.name.endsWith('.json') ? [join(dir, entry.name)] : [],
    );

  it('README.md lists every fixture, and only fixtures that exist', () => {
    // Prepare
    const readme = readFileSync(join(EVENT_FIXTURES_DIR, 'README.md'), 'utf8');
    const onDisk = fixtureFiles(EVENT_FIXTURES_DIR).map((file) => relative(EVENT_FIXTURES_DIR, file)).sort();

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
