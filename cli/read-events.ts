// Event files for `replay`: one EventBridge event, or an array of them, per JSON file. A wrapped
// event (a Lambda on-failure record, an SQS message or batch, an SNS notification) is unwrapped.
import { readFile } from 'node:fs/promises';
import { unwrapEvent } from './wrapped-event';

export type EventFile =
  | { file: string; ok: true; events: unknown[] }
  | { file: string; ok: false; error: string };

export async function readEventFile(file: string): Promise<EventFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    return { file, ok: false, error: `${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { file, ok: false, error: `${file}: not valid JSON (${(err as Error).message})` };
  }
  const events = Array.isArray(value) ? value : [value];
  if (events.length === 0) return { file, ok: false, error: `${file}: holds an empty array, no events` };
  return { file, ok: true, events };
}

/**
 * Every event of every file, in order; unreadable files are reported and left out. With
 * `instanceId`, each event is pointed at that instance: a sample replayed against your own.
 */
export async function loadEventFiles(
  files: string[],
  printError: (line: string) => void,
  instanceId?: string,
): Promise<{ events: unknown[]; fileErrors: string[] }> {
  const loaded = await Promise.all(files.map(readEventFile));
  const fileErrors = loaded.flatMap((f) => (f.ok ? [] : [f.error]));
  fileErrors.forEach((e) => printError(`error: ${e}`));
  const events = loaded.flatMap((f) => {
    if (!f.ok) return [];
    return f.events.flatMap((value, i) => {
      const { events: inner, problems } = unwrapEvent(value);
      const where = f.events.length > 1 ? `${f.file} event ${i + 1}` : f.file;
      problems.forEach((p) => printError(`warning: ${where}: ${p}`));
      return inner.map((u) => u.event);
    });
  });
  return { events: instanceId ? events.map((e) => retarget(e, instanceId)) : events, fileErrors };
}

/** The event with `detail.instance-id` and the instance ARN in `resources` set to `instanceId`. */
export function retarget(event: unknown, instanceId: string): unknown {
  if (typeof event !== 'object' || event === null || Array.isArray(event)) return event; // rejected as it is
  const e = event as Record<string, unknown>;
  const detail = typeof e.detail === 'object' && e.detail !== null ? (e.detail as Record<string, unknown>) : {};
  const resources = Array.isArray(e.resources)
    ? e.resources.map((r) => (typeof r === 'string' ? r.replace(/instance\/i-[0-9a-f]+$/, `instance/${instanceId}`) : r))
    : e.resources;
  return { ...e, resources, detail: { ...detail, 'instance-id': instanceId } };
}

/** 2: a file could not be read; 1: an event failed; 0: neither. */
export function replayExitCode(outcomes: readonly { outcome: string }[], fileErrors: readonly string[]): number {
  return fileErrors.length > 0 ? 2 : outcomes.some((r) => r.outcome === 'failed') ? 1 : 0;
}
