import { createHash } from 'node:crypto';
import { parseEvent, type ParsedEvent } from '../../../lambda/events';
import { eventWith, fixturePolicy, loadEvent, loadJson } from '../../support/fixtures';

const TERMINATE = 'spot-interruption-warning/terminate.json';
const UNIDENTIFIED = /^unidentified-[0-9a-f]{16}$/;

function eventIdOf(parsed: ParsedEvent): string {
  return parsed.ok ? parsed.signal.eventId : parsed.rejection.eventId;
}

/** An independent statement of the rule: sha256 of the JSON with every object's keys sorted. */
function expectedId(value: unknown): string {
  const sorted = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sorted)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, x]) => [k, sorted(x)]))
        : v;
  return `unidentified-${createHash('sha256').update(JSON.stringify(sorted(value))).digest('hex').slice(0, 16)}`;
}

describe('event id', () => {
  it('is the envelope id when it is usable, even for a rejected event', () => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), { detail: { 'instance-id': 'abc' } });

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(eventIdOf(parsed)).toBe('7bf73129-1428-4cd3-a780-95db273d1602');
  });

  it.each<[string, Record<string, unknown>]>([
    ['missing', { id: undefined }],
    ['a number', { id: 7 }],
    ['null', { id: null }],
    ['empty', { id: '' }],
    ['blank', { id: '   ' }],
  ])('falls back to a hash of the event when the id is %s', (_name, changes) => {
    // Prepare
    const event = eventWith(loadEvent(TERMINATE), changes);

    // Act
    const parsed = parseEvent(event, fixturePolicy());

    // Assess
    expect(eventIdOf(parsed)).toMatch(UNIDENTIFIED);
    expect(eventIdOf(parsed)).toBe(expectedId(event));
  });

  it('is the same for the same event delivered twice', () => {
    // Prepare
    const first = loadEvent('invalid/missing-id.json');
    const second = loadEvent('invalid/missing-id.json');

    // Act
    const ids = [parseEvent(first, fixturePolicy()), parseEvent(second, fixturePolicy())].map(eventIdOf);

    // Assess
    expect(ids).toEqual(['unidentified-708e6a030300daf4', 'unidentified-708e6a030300daf4']);
  });

  it('does not depend on the order of the keys', () => {
    // Prepare
    const event = loadEvent('invalid/missing-id.json');
    const reversed = Object.fromEntries(Object.entries(event).reverse());
    reversed.detail = Object.fromEntries(Object.entries(event.detail as object).reverse());

    // Act
    const ids = [parseEvent(event, fixturePolicy()), parseEvent(reversed, fixturePolicy())].map(eventIdOf);

    // Assess
    expect(ids[1]).toBe(ids[0]);
  });

  it('differs when the content differs', () => {
    // Prepare
    const event = loadEvent('invalid/missing-id.json');
    const other = eventWith(event, { detail: { 'instance-id': 'i-0fedcba9876543210' } });

    // Act
    const ids = [parseEvent(event, fixturePolicy()), parseEvent(other, fixturePolicy())].map(eventIdOf);

    // Assess
    expect(ids[1]).not.toBe(ids[0]);
  });

  it.each<[string, unknown]>([
    ['a string', 'not an event'],
    ['a number', 42],
    ['null', null],
    ['an array', [1, 2]],
    ['a double-encoded envelope', loadJson('invalid/double-encoded.json')],
  ])('is stable for input that is not an object: %s', (_name, raw) => {
    // Act
    const first = eventIdOf(parseEvent(raw, fixturePolicy()));
    const second = eventIdOf(parseEvent(structuredClone(raw), fixturePolicy()));

    // Assess
    expect(first).toBe(expectedId(raw));
    expect(second).toBe(first);
  });

  it('exists for input JSON cannot express', () => {
    // Act
    const ids = [undefined, 10n, Symbol('x')].map((raw) => eventIdOf(parseEvent(raw, fixturePolicy())));

    // Assess
    for (const id of ids) expect(id).toMatch(UNIDENTIFIED);
  });
});
