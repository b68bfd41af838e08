// One way to get test events: a fresh copy of a fixture under test/fixtures/events, changed
// in one place per test, so no test can leak a change into another.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { AcceptPolicy } from '../../lambda/events';

export const EVENT_FIXTURES_DIR = join(__dirname, '..', 'fixtures', 'events');

/** The policy that accepts the fixtures' own account and region, and nothing else. */
export function fixturePolicy(): AcceptPolicy {
  return { accounts: ['123456789012'], regions: ['us-east-1'] };
}

/** An EventBridge envelope as it arrives: checked by nothing yet. */
export type RawEvent = Record<string, unknown>;

/**
 * Changes to make to an event. A value of `undefined` removes the field (JSON has no
 * undefined); `detail`, when both sides are objects, is changed key by key the same way.
 */
export type EventChanges = Record<string, unknown>;

/** Any fixture, parsed afresh: arrays and strings included. */
export function loadJson(relPath: string): unknown {
  return JSON.parse(readFileSync(join(EVENT_FIXTURES_DIR, relPath), 'utf8')) as unknown;
}

/** Every `.json` fixture under `dir` (default: all of them), as paths `loadJson` takes, sorted. */
export function fixturePaths(dir = ''): string[] {
  const walk = (path: string): string[] =>
    readdirSync(path, { withFileTypes: true }).flatMap((entry) => {
      const child = join(path, entry.name);
      if (entry.isDirectory()) return walk(child);
      return entry.name.endsWith('.json') ? [relative(EVENT_FIXTURES_DIR, child)] : [];
    });
  return walk(join(EVENT_FIXTURES_DIR, dir)).sort();
}

/** The fixtures AWS could send and the fixture policy accepts: everything outside invalid/. */
export function validFixturePaths(): string[] {
  return fixturePaths().filter((path) => !path.startsWith('invalid/'));
}

/** An envelope fixture, e.g. `loadEvent('spot-interruption-warning/terminate.json')`. */
export function loadEvent(relPath: string): RawEvent {
  const value = loadJson(relPath);
  if (!isRecord(value)) throw new Error(`fixture ${relPath} is not a JSON object; use loadJson`);
  return value;
}

/** A deep copy of `base` with `changes` applied; `base` is left as it was. */
export function eventWith(base: RawEvent, changes: EventChanges): RawEvent {
  const event = structuredClone(base);
  for (const [key, value] of Object.entries(structuredClone(changes))) {
    const current = event[key];
    if (key === 'detail' && isRecord(current) && isRecord(value)) event[key] = apply(current, value);
    else if (value === undefined) delete event[key];
    else set(event, key, value);
  }
  return event;
}

function apply(target: Record<string, unknown>, changes: Record<string, unknown>): Record<string, unknown> {
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete target[key];
    else set(target, key, value);
  }
  return target;
}

/** Defines rather than assigns, so a key such as "__proto__" stays a plain field, as in JSON. */
function set(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
