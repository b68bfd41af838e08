import { INSTANCE_STATES, parseEvent, type ParsedEvent, type Rejection } from '../../../lambda/events';
import { eventWith, fixturePolicy, loadEvent, type EventChanges } from '../../support/fixtures';

const TERMINATE = 'spot-interruption-warning/terminate.json';
const RECOMMENDATION = 'rebalance-recommendation/recommendation.json';
const SHUTTING_DOWN = 'instance-state-change/shutting-down.json';
const FULFILLMENT = 'EC2 Spot Instance Request Fulfillment';
const ANYWHERE = { accounts: '*', regions: '*' } as const;

function rejection(parsed: ParsedEvent): Rejection {
  if (parsed.ok) throw new Error(`expected a rejection, got ${JSON.stringify(parsed.signal)}`);
  return parsed.rejection;
}

function reasonFor(changes: EventChanges, base = TERMINATE): string {
  return rejection(parseEvent(eventWith(loadEvent(base), changes), fixturePolicy())).reason;
}

describe('envelope fields', () => {
  it.each<[string, EventChanges, string]>([
    ['version missing', { version: undefined }, 'version is missing'],
    ['version not a string', { version: 0 }, 'version must be a string, got number'],
    ['id not a string', { id: 42 }, 'id must be a string, got number'],
    ['id empty', { id: '' }, 'id "" is not a usable event id (1 to 256 printable characters, no spaces)'],
    ['id with spaces', { id: 'my event' }, 'id "my event" is not a usable event id (1 to 256 printable characters, no spaces)'],
    ['detail-type missing', { 'detail-type': undefined }, 'detail-type is missing'],
    ['detail-type not a string', { 'detail-type': ['EC2 Spot Instance Interruption Warning'] }, 'detail-type must be a string, got array'],
    ['source missing', { source: undefined }, 'source is missing'],
    ['source not a string', { source: null }, 'source must be a string, got null'],
    ['account missing', { account: undefined }, 'account is missing'],
    ['account a number', { account: 123456789012 }, 'account must be a string, got number'],
    ['account too short', { account: '12345678901' }, 'account "12345678901" is not a 12-digit AWS account id'],
    ['account with letters', { account: '12345678901a' }, 'account "12345678901a" is not a 12-digit AWS account id'],
    ['time missing', { time: undefined }, 'time is missing'],
    ['time as epoch millis', { time: 1741083330000 }, 'time must be a string, got number'],
    ['time in words', { time: 'yesterday' }, 'time "yesterday" is not an ISO-8601 date and time with a time zone'],
    ['time without zone', { time: '2025-03-04T10:15:30' }, 'time "2025-03-04T10:15:30" is not an ISO-8601 date and time with a time zone'],
    ['time with a space', { time: '2025-03-04 10:15:30Z' }, 'time "2025-03-04 10:15:30Z" is not an ISO-8601 date and time with a time zone'],
    ['time on a day that does not exist', { time: '2025-02-30T10:15:30Z' }, 'time "2025-02-30T10:15:30Z" is not an ISO-8601 date and time with a time zone'],
    ['time past midnight', { time: '2025-03-04T24:00:00Z' }, 'time "2025-03-04T24:00:00Z" is not an ISO-8601 date and time with a time zone'],
    ['region missing', { region: undefined }, 'region is missing'],
    ['region in capitals', { region: 'US-EAST-1' }, 'region "US-EAST-1" is not an AWS region name'],
    ['region without a number', { region: 'us-east' }, 'region "us-east" is not an AWS region name'],
    ['region an availability zone', { region: 'us-east-1b' }, 'region "us-east-1b" is not an AWS region name'],
    ['resources missing', { resources: undefined }, 'resources is missing'],
    ['resources a string', { resources: 'arn:aws:ec2:us-east-1b:instance/i-1234567890abcdef0' }, 'resources must be an array, got string'],
    ['resources holding a number', { resources: ['arn:aws:ec2:us-east-1b:instance/i-1234567890abcdef0', 7] }, 'resources[1] must be a string, got number'],
    ['detail missing', { detail: undefined }, 'detail is missing'],
    ['detail null', { detail: null }, 'detail must be an object, got null'],
    ['detail an array', { detail: [] }, 'detail must be an object, got array'],
    ['detail a string', { detail: '{"instance-id":"i-1234567890abcdef0"}' }, 'detail must be an object, got string'],
  ])('%s', (_name, changes, reason) => {
    // Act
    const actual = reasonFor(changes);

    // Assess
    expect(actual).toBe(reason);
  });
});

describe('dispatch on source, then detail-type', () => {
  it('rejects a source other than aws.ec2 and aws.ssm', () => {
    // Act
    const reason = reasonFor({ source: 'aws.autoscaling' });

    // Assess
    expect(reason).toBe('source "aws.autoscaling" is not supported (expected "aws.ec2", "aws.ssm")');
  });

  it('names the source even when the detail-type is one it supports from aws.ec2', () => {
    // Act
    const reason = reasonFor({ source: 'aws.autoscaling' }, SHUTTING_DOWN);

    // Assess
    expect(reason).toBe('source "aws.autoscaling" is not supported (expected "aws.ec2", "aws.ssm")');
  });

  it.each([FULFILLMENT, 'EC2 Capacity Reservation Instance Interruption Warning', 'ec2 spot instance interruption warning', 'EC2 Instance Rebalance Recommendation '])(
    'rejects detail-type "%s" as unsupported',
    (detailType) => {
      // Act
      const reason = reasonFor({ 'detail-type': detailType });

      // Assess
      expect(reason).toBe(`unsupported detail-type "${detailType}"`);
    },
  );

  it.each([
    ['EC2 Spot Instance Interruption Warning', 'spot-interruption-warning'],
    ['EC2 Instance Rebalance Recommendation', 'rebalance-recommendation'],
    ['EC2 Instance State-change Notification', 'instance-state-change'],
  ])('reads detail-type "%s" as a %s, whatever else the detail holds', (detailType, kind) => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), { 'detail-type': detailType, detail: { state: 'shutting-down' } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toMatchObject({ ok: true, signal: { kind, instanceId: 'i-1234567890abcdef0' } });
  });

  it('does not check the detail of an unsupported detail-type, only that it is an object', () => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), {
      'detail-type': FULFILLMENT,
      detail: { 'spot-instance-request-id': 'sir-1a2b3c4d', 'instance-action': 'reboot' },
    });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(rejection(parsed).reason).toBe(`unsupported detail-type "${FULFILLMENT}"`);
  });

  it('puts the dispatch problem first, then field problems in envelope order, then policy', () => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), {
      'detail-type': FULFILLMENT,
      time: 'soon',
      resources: undefined,
      region: 'eu-west-1',
    });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(rejection(parsed).reason).toBe(
      [
        `unsupported detail-type "${FULFILLMENT}"`,
        'time "soon" is not an ISO-8601 date and time with a time zone',
        'resources is missing',
        'region "eu-west-1" is not accepted (to respond to it, add it to acceptedRegions: the construct prop or the spotResponder:acceptedRegions context key)',
      ].join('; '),
    );
  });
});

describe('spot interruption warning detail', () => {
  it.each<[string, EventChanges, string]>([
    ['instance-id missing', { detail: { 'instance-id': undefined } }, 'detail.instance-id is missing'],
    ['instance-id a number', { detail: { 'instance-id': 1234567890 } }, 'detail.instance-id must be a string, got number'],
    ['instance-id an object', { detail: { 'instance-id': { id: 'i-1234567890abcdef0' } } }, 'detail.instance-id must be a string, got object'],
    ['instance-id in words', { detail: { 'instance-id': 'abc' } }, 'detail.instance-id "abc" is not an EC2 instance id'],
    ['instance-id empty', { detail: { 'instance-id': '' } }, 'detail.instance-id "" is not an EC2 instance id'],
    ['instance-id in capitals', { detail: { 'instance-id': 'i-1234567890ABCDEF0' } }, 'detail.instance-id "i-1234567890ABCDEF0" is not an EC2 instance id'],
    ['instance-id of 16 hex digits', { detail: { 'instance-id': 'i-1234567890abcdef' } }, 'detail.instance-id "i-1234567890abcdef" is not an EC2 instance id'],
    ['instance-id with padding', { detail: { 'instance-id': ' i-1234567890abcdef0' } }, 'detail.instance-id " i-1234567890abcdef0" is not an EC2 instance id'],
    ['instance-id an ARN', { detail: { 'instance-id': 'arn:aws:ec2:us-east-1b:instance/i-1234567890abcdef0' } }, 'detail.instance-id "arn:aws:ec2:us-east-1b:instance/i-1234567890abcdef0" is not an EC2 instance id'],
    ['instance-action missing', { detail: { 'instance-action': undefined } }, 'detail.instance-action is missing'],
    ['instance-action unknown', { detail: { 'instance-action': 'reboot' } }, 'detail.instance-action "reboot" is not one of terminate, stop, hibernate'],
    ['instance-action capitalised', { detail: { 'instance-action': 'Terminate' } }, 'detail.instance-action "Terminate" is not one of terminate, stop, hibernate'],
    ['instance-action a number', { detail: { 'instance-action': 1 } }, 'detail.instance-action must be a string, got number'],
    ['instance-action null', { detail: { 'instance-action': null } }, 'detail.instance-action must be a string, got null'],
    ['both missing', { detail: { 'instance-id': undefined, 'instance-action': undefined } }, 'detail.instance-id is missing; detail.instance-action is missing'],
  ])('%s', (_name, changes, reason) => {
    // Act
    const actual = reasonFor(changes);

    // Assess
    expect(actual).toBe(reason);
  });

  it.each(['i-1234abcd', 'i-0123456789abcdef0'])('accepts instance id %s (old 8-digit and current 17-digit forms)', (instanceId) => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), { detail: { 'instance-id': instanceId } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toMatchObject({ ok: true, signal: { instanceId } });
  });
});

describe('rebalance recommendation detail', () => {
  it.each<[string, EventChanges, string]>([
    ['detail empty', { detail: { 'instance-id': undefined } }, 'detail.instance-id is missing'],
    ['instance-id null', { detail: { 'instance-id': null } }, 'detail.instance-id must be a string, got null'],
    ['instance-id an array', { detail: { 'instance-id': ['i-1234567890abcdef0'] } }, 'detail.instance-id must be a string, got array'],
    ['instance-id without the prefix', { detail: { 'instance-id': '1234567890abcdef0' } }, 'detail.instance-id "1234567890abcdef0" is not an EC2 instance id'],
    ['instance-id of a Spot request', { detail: { 'instance-id': 'sir-1a2b3c4d' } }, 'detail.instance-id "sir-1a2b3c4d" is not an EC2 instance id'],
    ['detail a string', { detail: 'i-1234567890abcdef0' }, 'detail must be an object, got string'],
  ])('%s', (_name, changes, reason) => {
    // Act
    const actual = reasonFor(changes, RECOMMENDATION);

    // Assess
    expect(actual).toBe(reason);
  });

  it('needs no instance-action, and ignores one if present', () => {
    // Prepare
    const event = eventWith(loadEvent(RECOMMENDATION), { detail: { 'instance-action': 'reboot' } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual({
      ok: true,
      signal: {
        kind: 'rebalance-recommendation',
        eventId: 'f0a3c5e7-19b2-4d64-a8f1-3e5c7b9d1f20',
        eventTime: '2025-03-04T10:05:00Z',
        account: '123456789012',
        region: 'us-east-1',
        instanceId: 'i-1234567890abcdef0',
      },
    });
  });
});

describe('instance state-change detail', () => {
  const ALL_STATES = 'pending, running, stopping, stopped, shutting-down, terminated';

  it.each(INSTANCE_STATES)('accepts state %s', (state) => {
    // Prepare
    const event = eventWith(loadEvent(SHUTTING_DOWN), { detail: { state } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toMatchObject({ ok: true, signal: { kind: 'instance-state-change', state } });
  });

  it.each<[string, EventChanges, string]>([
    ['state missing', { detail: { state: undefined } }, 'detail.state is missing'],
    ['state unknown', { detail: { state: 'rebooting' } }, `detail.state "rebooting" is not one of ${ALL_STATES}`],
    ['state capitalised', { detail: { state: 'Running' } }, `detail.state "Running" is not one of ${ALL_STATES}`],
    ['state with an underscore', { detail: { state: 'shutting_down' } }, `detail.state "shutting_down" is not one of ${ALL_STATES}`],
    ['state empty', { detail: { state: '' } }, `detail.state "" is not one of ${ALL_STATES}`],
    ['state a code', { detail: { state: 48 } }, 'detail.state must be a string, got number'],
    ['state an object', { detail: { state: { code: 48, name: 'terminated' } } }, 'detail.state must be a string, got object'],
    ['state null', { detail: { state: null } }, 'detail.state must be a string, got null'],
    ['instance-id missing', { detail: { 'instance-id': undefined } }, 'detail.instance-id is missing'],
    ['instance-id malformed', { detail: { 'instance-id': 'i-xyz' } }, 'detail.instance-id "i-xyz" is not an EC2 instance id'],
    ['both missing', { detail: { 'instance-id': undefined, state: undefined } }, 'detail.instance-id is missing; detail.state is missing'],
  ])('%s', (_name, changes, reason) => {
    // Act
    const actual = reasonFor(changes, SHUTTING_DOWN);

    // Assess
    expect(actual).toBe(reason);
  });
});

describe('what is tolerated', () => {
  it('ignores fields it does not know, in the envelope and in the detail', () => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), {
      'replay-name': 'drill-1',
      detail: { 'availability-zone': 'us-east-1b', 'instance-type': 'm5.large' },
    });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed).toEqual({
      ok: true,
      signal: {
        kind: 'spot-interruption-warning',
        eventId: '7bf73129-1428-4cd3-a780-95db273d1602',
        eventTime: '2025-03-04T10:15:30Z',
        account: '123456789012',
        region: 'us-east-1',
        instanceId: 'i-1234567890abcdef0',
        instanceAction: 'terminate',
      },
    });
  });

  it.each(['2025-03-04T10:15:30.123Z', '2025-03-04T11:15:30+01:00', '2025-03-04T05:15:30.5-05:00'])(
    'keeps time %s exactly as written',
    (time) => {
      // Prepare
      const event = eventWith(loadEvent(TERMINATE), { time });

      // Act
      const parsed = parseEvent(event, fixturePolicy());

      // Assess
      expect(parsed).toMatchObject({ ok: true, signal: { eventTime: time } });
    },
  );

  it.each(['us-east-1', 'us-gov-west-1', 'cn-northwest-1', 'ap-southeast-4', 'us-isob-east-1', 'eusc-de-east-1'])(
    'accepts region name %s',
    (region) => {
      // Prepare
      const event = eventWith(loadEvent(TERMINATE), { region });

      // Act
      const parsed = parseEvent(event, ANYWHERE);

      // Assess
      expect(parsed).toMatchObject({ ok: true, signal: { region } });
    },
  );

  it.each<[string, EventChanges]>([
    ['an empty resources list', { resources: [] }],
    ['an envelope version other than "0"', { version: '1' }],
    ['an id that is not a UUID', { id: 'replay-2025-03-04-001' }],
  ])('accepts %s', (_name, changes) => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), changes);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(parsed.ok).toBe(true);
  });
});

describe('inputs that are not an event', () => {
  it.each<[string, unknown, string]>([
    ['null', null, 'event is not a JSON object (got null)'],
    ['undefined', undefined, 'event is not a JSON object (got undefined)'],
    ['a number', 42, 'event is not a JSON object (got number)'],
    ['a boolean', true, 'event is not a JSON object (got boolean)'],
    ['a string', 'EC2 Spot Instance Interruption Warning', 'event is not a JSON object (got string)'],
    ['an array', [], 'event is not a JSON object (got array)'],
  ])('rejects %s', (_name, raw, reason) => {
    // Act
    const parsed = parseEvent(raw, fixturePolicy());

    // Assess
    expect(rejection(parsed)).toMatchObject({
      reason,
      eventTime: null,
      detailType: null,
      instanceId: null,
      instanceAction: null,
      account: null,
      region: null,
    });
  });

  it('lists every missing field of an empty object', () => {
    // Act
    const parsed = parseEvent({}, fixturePolicy());

    // Assess
    expect(rejection(parsed).reason).toBe(
      'version is missing; id is missing; detail-type is missing; source is missing; account is missing; ' +
        'time is missing; region is missing; resources is missing; detail is missing',
    );
  });

  it('rejects, without throwing, an object whose fields cannot be read', () => {
    // Prepare
    const raw = new Proxy(
      {},
      {
        get: () => {
          throw new Error('field read failed');
        },
      },
    );

    // Act
    const parsed = parseEvent(raw, fixturePolicy());

    // Assess
    expect(rejection(parsed)).toMatchObject({ reason: 'event could not be read: field read failed', instanceId: null });
  });
});

describe('the rejection', () => {
  it('salvages every field that passed its own check, for the record', () => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), { account: 'none', detail: { 'instance-action': 'reboot' } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(rejection(parsed)).toEqual({
      kind: 'invalid',
      reason: [
        'account "none" is not a 12-digit AWS account id',
        'detail.instance-action "reboot" is not one of terminate, stop, hibernate',
      ].join('; '),
      eventId: '7bf73129-1428-4cd3-a780-95db273d1602',
      eventTime: '2025-03-04T10:15:30Z',
      detailType: 'EC2 Spot Instance Interruption Warning',
      instanceId: 'i-1234567890abcdef0',
      instanceAction: null,
      account: null,
      region: 'us-east-1',
    });
  });

  it.each([RECOMMENDATION, SHUTTING_DOWN])('never carries an instance-action for %s, even one in its detail', (path) => {
    // Prepare
    const event = eventWith(loadEvent(path), { account: 'none', detail: { 'instance-action': 'terminate' } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(rejection(parsed)).toMatchObject({ instanceId: 'i-1234567890abcdef0', instanceAction: null });
  });

  it('shows long values cut short', () => {
    // Prepare
    const detailType = 'x'.repeat(1000);

    // Act
    const reason = reasonFor({ 'detail-type': detailType });

    // Assess
    expect(reason).toBe(`unsupported detail-type "${'x'.repeat(64)}..."`);
  });

  it('lists the first 20 problems and counts the rest, so a record stays small', () => {
    // Prepare
    const resources = Array.from({ length: 25 }, (_, i) => i);

    // Act
    const reason = reasonFor({ resources });

    // Assess
    const listed = Array.from({ length: 20 }, (_, i) => `resources[${i}] must be a string, got number`);
    expect(reason).toBe(`${listed.join('; ')}; and 5 more problems`);
  });
});
