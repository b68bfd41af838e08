// Graceful shutdown on the instance: which command a warned instance gets through the
// construct's SSM Run Command document, if any. Pure: the plan asks here, the adapter sends what
// it answers, the construct validates its prop with the same patterns the document enforces.
//
// The command travels as document parameters, never as shell text: the document
// (lib/shutdown-document.ts) declares each parameter with an allowedPattern, and SSM refuses a
// SendCommand whose values do not match (InvalidParameters), so nothing a tag says can reach the
// shell as code. The patterns below are the same strings, checked here first so that a bad tag is
// a recorded skip with its reason, not a failed call.
import type { InterruptionNotice } from './model';

/**
 * What to run on the instance when its warning comes:
 * - `systemdUnit`: `systemctl stop <unit>`: systemd sends the unit's KillSignal (SIGTERM unless
 *   the unit says otherwise) to its processes, waits for them up to its TimeoutStopSec, bounded
 *   by the seconds left;
 * - `script`: runs the executable at this absolute path with the seconds left before the
 *   interruption as its only argument (`/opt/app/drain.sh 117`).
 */
export type ShutdownCommand = { systemdUnit: string } | { script: string };

/**
 * systemd unit names (systemd.unit(5)): ASCII letters, digits, `:-_.\@`, at most 256 characters,
 * with a type suffix. `\` is left out: it is a shell escape character, and unit names that need
 * it (escaped paths) can be stopped by a script instead.
 */
export const SYSTEMD_UNIT_PATTERN = '^[A-Za-z0-9:_.@-]{1,240}\\.(service|scope|target|socket|slice|mount|timer)$';

/**
 * An absolute path of plain characters: no spaces, quotes, `$`, `;` or globs. Written without
 * lookahead so SSM's allowedPattern and JavaScript read it alike; `..` segments are refused by
 * parseShutdownCommand (the responder never sends one).
 */
export const SCRIPT_PATH_PATTERN = '^/[A-Za-z0-9._/+-]{1,1023}$';

/** Seconds left before the interruption: 1 to 120 (the notice); the document's execution timeout too. */
export const SECONDS_LEFT_PATTERN = '^([1-9]|[1-9][0-9]|1[01][0-9]|120)$';

/** The document's parameter names, as the construct declares them and SendCommand fills them. */
export const SHUTDOWN_PARAMETERS = {
  action: 'Action',
  unit: 'Unit',
  script: 'Script',
  secondsLeft: 'SecondsLeft',
} as const;

/** The document's `Action` values. */
export const SHUTDOWN_ACTIONS = ['stop-unit', 'run-script'] as const;

/** SendCommand takes at most 50 instance ids per call (SSM API reference, SendCommand InstanceIds). */
export const SEND_COMMAND_INSTANCE_LIMIT = 50;

/** The instance (or group) tag that overrides the default command; suffixed to the deployment's tag key. */
export const SHUTDOWN_TAG_SUFFIX = ':shutdown';

/** What the responder knows about graceful shutdown: set only when the construct deployed the document. */
export interface ShutdownSettings {
  /** The SSM document's name (the construct's AWS::SSM::Document). */
  documentName: string;
  /** The command for instances without a shutdown tag; absent: only tagged instances get one. */
  defaultCommand?: ShutdownCommand;
  /** The tag read per instance (then its group): `<tagKey>:shutdown`. */
  tagKey: string;
}

export type PlannedShutdown =
  | { send: true; command: ShutdownCommand; source: 'default' | 'instance tag' | 'group tag' }
  | { send: false; reason: string };

const OFF_VALUES = new Set(['off', 'false', 'disabled', 'no', 'none']);

/**
 * A command as text, the form of the tag and of the SHUTDOWN_DEFAULT_COMMAND variable:
 * `unit:<name>` or `script:<absolute path>`. Returns the command, or why the text is not one.
 */
export function parseShutdownCommand(text: string): { command: ShutdownCommand } | { problem: string } {
  const value = text.trim();
  const colon = value.indexOf(':');
  const kind = colon > 0 ? value.slice(0, colon).toLowerCase() : '';
  const arg = colon > 0 ? value.slice(colon + 1).trim() : '';
  if (kind === 'unit') {
    return new RegExp(SYSTEMD_UNIT_PATTERN).test(arg)
      ? { command: { systemdUnit: arg } }
      : { problem: `"${arg}" is not a systemd unit name (letters, digits, :_.@- and a suffix such as .service)` };
  }
  if (kind === 'script') {
    return new RegExp(SCRIPT_PATH_PATTERN).test(arg) && !arg.split('/').includes('..')
      ? { command: { script: arg } }
      : { problem: `"${arg}" is not an absolute path of plain characters (letters, digits, ._/+-, no ..)` };
  }
  return { problem: `"${value}" is neither unit:<name>, script:<absolute path> nor off` };
}

/** The text form of a command (parseShutdownCommand's input). */
export function formatShutdownCommand(command: ShutdownCommand): string {
  return 'systemdUnit' in command ? `unit:${command.systemdUnit}` : `script:${command.script}`;
}

/**
 * Whether a warned instance gets the shutdown command, and which. Only a Spot interruption
 * warning sends it (a rebalance recommendation has no interruption to prepare for), and not for
 * hibernate: hibernation starts with the warning, and a command the agent picked up after the
 * resume would stop the application on a running instance. The instance's tag
 * (`settings.tagKey`) wins over its group's; `off` (or false/disabled/no/none) sends nothing;
 * `unit:<name>` / `script:<path>` replaces the default; a malformed value sends nothing and says
 * why. Without a tag, the default command, if any.
 */
export function planShutdown(
  signal: InterruptionNotice,
  instanceTags: Record<string, string> | null,
  groupTags: Record<string, string> | undefined,
  settings: ShutdownSettings | undefined,
): PlannedShutdown | null {
  if (!settings) return null;
  if (signal.kind !== 'spot-interruption-warning') return null;
  if (signal.instanceAction === 'hibernate') {
    return { send: false, reason: 'hibernate: the instance hibernates at once; the command would run after it resumes' };
  }
  if (!instanceTags) {
    return { send: false, reason: `DescribeInstances failed: the instance's ${settings.tagKey} tag could not be read` };
  }
  const tagged: Array<['instance tag' | 'group tag', string | undefined]> = [
    ['instance tag', instanceTags[settings.tagKey]],
    ['group tag', groupTags?.[settings.tagKey]],
  ];
  const found = tagged.find(([, value]) => value !== undefined);
  if (found) {
    const [source, value] = found as ['instance tag' | 'group tag', string];
    if (OFF_VALUES.has(value.trim().toLowerCase())) return { send: false, reason: `${source} ${settings.tagKey}=${value}` };
    const parsed = parseShutdownCommand(value);
    if ('problem' in parsed) return { send: false, reason: `${source} ${settings.tagKey}: ${parsed.problem}` };
    return { send: true, command: parsed.command, source };
  }
  if (!settings.defaultCommand) {
    return { send: false, reason: `no default command and no ${settings.tagKey} tag on the instance or its group` };
  }
  return { send: true, command: settings.defaultCommand, source: 'default' };
}

/**
 * The whole seconds left before `deadline` (epoch ms) at `now`, capped at the notice (120):
 * what the script receives and the document's execution timeout. null when less than one second
 * is left: the command could not run before the interruption.
 */
export function secondsLeft(deadline: number, now: number): number | null {
  const seconds = Math.min(120, Math.floor((deadline - now) / 1000));
  return seconds >= 1 ? seconds : null;
}

/** SendCommand's Parameters for a command and the seconds left (every value one string, as SSM takes them). */
export function shutdownParameters(command: ShutdownCommand, seconds: number): Record<string, string[]> {
  const P = SHUTDOWN_PARAMETERS;
  return 'systemdUnit' in command
    ? { [P.action]: ['stop-unit'], [P.unit]: [command.systemdUnit], [P.secondsLeft]: [String(seconds)] }
    : { [P.action]: ['run-script'], [P.script]: [command.script], [P.secondsLeft]: [String(seconds)] };
}
