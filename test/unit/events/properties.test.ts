import fc from 'fast-check';
import { INSTANCE_ACTIONS } from '../../../lambda/core/model';
import { parseEvent, type AcceptPolicy, type ParsedEvent } from '../../../lambda/events';
import { fixturePolicy, loadEvent, type RawEvent } from '../../support/fixtures';

const ANYWHERE: AcceptPolicy = { accounts: '*', regions: '*' };
const VALID_FIXTURES = ['terminate', 'stop', 'hibernate'].map((name) => loadEvent(`spot-interruption-warning/${name}.json`));
const ENVELOPE_KEYS = ['version', 'id', 'detail-type', 'source', 'account', 'time', 'region', 'resources', 'detail'];
const DETAIL_KEYS = ['instance-id', 'instance-action'];

/** The contract: a result, never a throw; a rejection always says why and names the event. */
function assertWellFormed(parsed: ParsedEvent): void {
  if (parsed.ok) {
    expect(parsed.warning.kind).toBe('spot-interruption-warning');
    expect(INSTANCE_ACTIONS).toContain(parsed.warning.instanceAction);
    expect(Number.isNaN(Date.parse(parsed.warning.eventTime))).toBe(false);
  } else {
    expect(parsed.rejection.reason.trim()).not.toBe('');
    expect(parsed.rejection.eventId).toMatch(/^\S+$/);
  }
}

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

  it('converts any well-formed warning faithfully', () => {
    const envelope = fc.record({
      version: fc.constant('0'),
      id: fc.uuid(),
      'detail-type': fc.constant('EC2 Spot Instance Interruption Warning'),
      source: fc.constant('aws.ec2'),
      account: fc.stringMatching(/^\d{12}$/),
      time: fc.date({ min: new Date('2000-01-01T00:00:00Z'), max: new Date('2100-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString()),
      region: fc.constantFrom('us-east-1', 'eu-central-2', 'ap-southeast-4', 'us-gov-west-1', 'cn-north-1'),
      resources: fc.array(fc.string(), { maxLength: 2 }),
      detail: fc.record({
        'instance-id': fc.oneof(fc.stringMatching(/^i-[0-9a-f]{17}$/), fc.stringMatching(/^i-[0-9a-f]{8}$/)),
        'instance-action': fc.constantFrom(...INSTANCE_ACTIONS),
      }),
    });
    fc.assert(
      fc.property(envelope, (event) => {
        // Act
        const parsed = parseEvent(event, ANYWHERE);

        // Assess
        expect(parsed).toEqual({
          ok: true,
          warning: {
            kind: 'spot-interruption-warning',
            eventId: event.id,
            eventTime: event.time,
            account: event.account,
            region: event.region,
            instanceId: event.detail['instance-id'],
            instanceAction: event.detail['instance-action'],
          },
        });
      }),
    );
  });
});
