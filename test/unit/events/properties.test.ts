import fc from 'fast-check';
import { INSTANCE_ACTIONS, type Ec2Signal } from '../../../lambda/core/model';
import { INSTANCE_STATES, parseEvent, SUPPORTED_DETAIL_TYPES, type AcceptPolicy, type ParsedEvent } from '../../../lambda/events';
import { fixturePolicy, loadEvent, validFixturePaths, type RawEvent } from '../../support/fixtures';

const ANYWHERE: AcceptPolicy = { accounts: '*', regions: '*' };
const VALID_FIXTURES = validFixturePaths().map(loadEvent);
const ENVELOPE_KEYS = ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'];
const DETAIL_KEYS = ['instance-id', 'instance-action', 'state', 'command-id', 'document-name', 'status'];
const REJECTION_KINDS = ['invalid', 'unsupported', 'not-accepted'];

/** The contract: a result, never a throw; a rejection always says why, names the event and its kind. */
function assertWellFormed(parsed: ParsedEvent): void {
  if (parsed.ok) {
    const { signal } = parsed;
    expect(signal.instanceId).toMatch(/^i-[0-9a-f]{8}(?:[0-9a-f]{9})?$/);
    expect(Number.isNaN(Date.parse(signal.eventTime))).toBe(false);
    switch (signal.kind) {
      case 'spot-interruption-warning':
        expect(INSTANCE_ACTIONS).toContain(signal.instanceAction);
        break;
      case 'instance-state-change':
        expect(INSTANCE_STATES).toContain(signal.state);
        break;
      case 'rebalance-recommendation':
        expect(Object.keys(signal).sort()).toEqual(['account', 'eventId', 'eventTime', 'instanceId', 'kind', 'region']);
        break;
      case 'shutdown-command-status':
        expect(signal.commandId).not.toBe('');
        expect(signal.status).not.toBe('');
        break;
    }
  } else {
    expect(REJECTION_KINDS).toContain(parsed.rejection.kind);
    expect(parsed.rejection.reason.trim()).not.toBe('');
    expect(parsed.rejection.eventId).toMatch(/^\S+$/);
  }
}

const instanceId = fc.oneof(fc.stringMatching(/^i-[0-9a-f]{17}$/), fc.stringMatching(/^i-[0-9a-f]{8}$/));

/** A well-formed envelope of each supported detail-type, with the signal it must become. */
const wellFormed = fc
  .record({
    version: fc.constant('0'),
    id: fc.uuid(),
    account: fc.stringMatching(/^\d{12}$/),
    time: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
    region: fc.constantFrom('us-east-1', 'eu-central-2', 'ap-southeast-4', 'us-gov-west-1', 'cn-north-1'),
    resources: fc.array(fc.string(), { maxLength: 2 }),
    instanceId,
    detail: fc.oneof(
      fc.record({ 'detail-type': fc.constant('EC2 Spot Instance Interruption Warning'), 'instance-action': fc.constantFrom(...INSTANCE_ACTIONS) }),
      fc.record({ 'detail-type': fc.constant('EC2 Instance Rebalance Recommendation') }),
      fc.record({ 'detail-type': fc.constant('EC2 Instance State-change Notification'), state: fc.constantFrom(...INSTANCE_STATES) }),
      fc.record({
        'detail-type': fc.constant('EC2 Command Invocation Status-change Notification'),
        'command-id': fc.uuid(),
        'document-name': fc.constantFrom('SpotResponder-GracefulShutdown', 'AWS-RunShellScript'),
        status: fc.constantFrom('Pending', 'InProgress', 'Success', 'Failed', 'TimedOut', 'Cancelled', 'Undeliverable'),
      }),
    ),
  })
  .map(({ instanceId: id, detail: { 'detail-type': detailType, ...detail }, ...envelope }) => {
    const source = 'command-id' in detail ? 'aws.ssm' : 'aws.ec2';
    const event = { ...envelope, source, 'detail-type': detailType, detail: { 'instance-id': id, ...detail } };
    const common = { eventId: envelope.id, eventTime: envelope.time, account: envelope.account, region: envelope.region, instanceId: id };
    const signal: Ec2Signal =
      'instance-action' in detail
        ? { kind: 'spot-interruption-warning', ...common, instanceAction: detail['instance-action'] }
        : 'state' in detail
          ? { kind: 'instance-state-change', ...common, state: detail.state }
          : 'command-id' in detail
            ? { kind: 'shutdown-command-status', ...common, commandId: detail['command-id'], documentName: detail['document-name'], status: detail.status }
            : { kind: 'rebalance-recommendation', ...common };
    return { event, signal };
  });

/** One change to a valid envelope: set or remove a known or unknown field, top-level or in detail. */
const mutation = fc.record({
  inDetail: fc.boolean(),
  key: fc.oneof(fc.constantFrom(...ENVELOPE_KEYS, ...DETAIL_KEYS), fc.string({ maxLength: 12 })),
  value: fc.option(fc.jsonValue({ maxDepth: 3 }), { nil: undefined }),
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(base: RawEvent, mutations: Mutation[]): RawEvent {
  const event = structuredClone(base);
  for (const { inDetail, key, value } of mutations) {
    const detail = event.detail;
    const target = inDetail && typeof detail === 'object' && detail !== null && !Array.isArray(detail) ? (detail as RawEvent) : event;
    if (value === undefined) delete target[key];
    else Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return event;
}

describe('parseEvent properties', () => {
  it('never throws on arbitrary JSON values, and always says why it rejects', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (raw) => {
        assertWellFormed(parseEvent(raw, fixturePolicy()));
      }),
      { numRuns: 500 },
    );
  });

  it('never throws on arbitrary JavaScript values either', () => {
    fc.assert(
      fc.property(
        fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, withBoxedValues: true, withTypedArray: true }),
        (raw) => {
          assertWellFormed(parseEvent(raw, fixturePolicy()));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws on mutated valid envelopes, and gives the same answer for the same input', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, mutations) => {
        // Prepare
        const event = mutate(base, mutations);

        // Act
        const parsed = parseEvent(event, fixturePolicy());

        // Assess
        assertWellFormed(parsed);
        expect(parseEvent(structuredClone(event), fixturePolicy())).toEqual(parsed);
      }),
      { numRuns: 1000 },
    );
  });

  it('still accepts a valid envelope after any change to fields it does not know', () => {
    const unknownKey = fc.string({ maxLength: 12 }).filter((key) => !ENVELOPE_KEYS.includes(key) && !DETAIL_KEYS.includes(key));
    fc.assert(
      fc.property(
        fc.constantFrom(...VALID_FIXTURES),
        fc.array(fc.record({ inDetail: fc.boolean(), key: unknownKey, value: fc.jsonValue({ maxDepth: 2 }) }), { maxLength: 4 }),
        (base, mutations) => {
          // Act
          const parsed = parseEvent(mutate(base, mutations), fixturePolicy());

          // Assess
          expect(parsed).toEqual(parseEvent(base, fixturePolicy()));
        },
      ),
    );
  });

  it('converts any well-formed event of every supported detail-type faithfully', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(wellFormed, ({ event, signal }) => {
        // Act
        const parsed = parseEvent(event, ANYWHERE);

        // Assess
        expect(parsed).toEqual({ ok: true, signal });
        seen.add(event['detail-type']);
      }),
      { numRuns: 300 },
    );
    expect([...seen].sort()).toEqual([...SUPPORTED_DETAIL_TYPES].sort());
  });

  it('rejects a well-formed event as not-accepted exactly when the policy leaves out its account or region', () => {
    const policy = fc.record({
      accounts: fc.oneof(fc.constant('*' as const), fc.array(fc.stringMatching(/^\d{12}$/), { maxLength: 2 })),
      regions: fc.oneof(fc.constant('*' as const), fc.array(fc.constantFrom<string>('us-east-1', 'eu-central-2', 'cn-north-1'), { maxLength: 2 })),
    });
    fc.assert(
      fc.property(wellFormed, policy, fc.boolean(), ({ event, signal }, { accounts, regions }, listIt) => {
        // Prepare
        const withAccount = listIt && accounts !== '*' ? [...accounts, event.account] : accounts;
        const accepted = (withAccount === '*' || withAccount.includes(event.account)) && (regions === '*' || regions.includes(event.region));

        // Act
        const parsed = parseEvent(event, { accounts: withAccount, regions });

        // Assess
        if (accepted) expect(parsed).toEqual({ ok: true, signal });
        else expect(parsed).toMatchObject({ ok: false, rejection: { kind: 'not-accepted', eventId: event.id } });
      }),
    );
  });

  it('rejects a well-formed event with any other detail-type as unsupported', () => {
    const otherDetailType = fc.string({ maxLength: 40 }).filter((detailType) => !SUPPORTED_DETAIL_TYPES.includes(detailType));
    fc.assert(
      fc.property(wellFormed, otherDetailType, ({ event }, detailType) => {
        // Act
        const parsed = parseEvent({ ...event, 'detail-type': detailType }, ANYWHERE);

        // Assess
        expect(parsed).toMatchObject({ ok: false, rejection: { kind: 'unsupported', detailType } });
      }),
    );
  });

  it('gives a mutated event the same kind of rejection whatever the policy, unless only the policy objects', () => {
    fc.assert(
      fc.property(fc.constantFrom(...VALID_FIXTURES), fc.array(mutation, { minLength: 1, maxLength: 4 }), (base, mutations) => {
        // Prepare
        const event = mutate(base, mutations);

        // Act
        const strict = parseEvent(event, fixturePolicy());
        const open = parseEvent(event, ANYWHERE);

        // Assess
        if (strict.ok || strict.rejection.kind === 'not-accepted') expect(open.ok).toBe(true);
        else expect(open).toMatchObject({ ok: false, rejection: { kind: strict.rejection.kind } });
      }),
      { numRuns: 1000 },
    );
  });
});
