// Rejection reasons are read by people deciding what to fix, so each problem names the field,
// shows the value and says what is wrong with it, in one line.
import type { z } from 'zod';

/** Enough to recognise a value; a reason must not grow with the event. */
const SHOWN_CHARS = 64;
/** Problems listed in one reason; the rest are counted. Reasons are stored in DynamoDB items. */
const MAX_PROBLEMS = 20;

export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

export function show(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > SHOWN_CHARS ? `${value.slice(0, SHOWN_CHARS)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeName(value);
}

function fieldPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return 'event';
  return path
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}

/** Needs issues parsed with `reportInput: true`: the value is part of the sentence. */
export function describeIssue(issue: z.core.$ZodIssue): string {
  const field = fieldPath(issue.path);
  const input: unknown = issue.input;
  if (input === undefined) return `${field} is missing`;
  switch (issue.code) {
    case 'invalid_type': {
      const article = /^[aeiou]/.test(issue.expected) ? 'an' : 'a';
      return `${field} must be ${article} ${issue.expected}, got ${typeName(input)}`;
    }
    case 'invalid_value':
      return `${field} ${show(input)} is not one of ${issue.values.map(String).join(', ')}`;
    default:
      return `${field} ${show(input)} ${issue.message}`;
  }
}

export function joinProblems(problems: readonly string[]): string {
  if (problems.length <= MAX_PROBLEMS) return problems.join('; ');
  const more = problems.length - MAX_PROBLEMS;
  return `${problems.slice(0, MAX_PROBLEMS).join('; ')}; and ${more} more problem${more === 1 ? '' : 's'}`;
}
