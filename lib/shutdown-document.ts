// The graceful-shutdown SSM document's content (schemaVersion 2.2, one aws:runShellScript step).
// Plain data with no CDK import: the construct deploys it (lib/graceful-shutdown.ts), the demo
// and the integration test register it with the emulator.
import {
  SCRIPT_PATH_PATTERN,
  SECONDS_LEFT_PATTERN,
  SHUTDOWN_ACTIONS,
  SHUTDOWN_PARAMETERS,
  SYSTEMD_UNIT_PATTERN,
} from '../lambda/core/shutdown';

/** The document's shell script: every value arrives through a parameter its allowedPattern checked. */
const RUN_COMMAND = [
  'set -u',
  `seconds='{{ ${SHUTDOWN_PARAMETERS.secondsLeft} }}'`,
  `case '{{ ${SHUTDOWN_PARAMETERS.action} }}' in`,
  '  stop-unit)',
  `    unit='{{ ${SHUTDOWN_PARAMETERS.unit} }}'`,
  '    echo "spot-responder: stopping $unit, $seconds s before the Spot interruption"',
  '    exec timeout --kill-after=2 "$seconds" systemctl stop "$unit"',
  '    ;;',
  '  run-script)',
  `    script='{{ ${SHUTDOWN_PARAMETERS.script} }}'`,
  '    if [ ! -x "$script" ]; then echo "spot-responder: $script is not an executable file" >&2; exit 2; fi',
  '    echo "spot-responder: running $script $seconds before the Spot interruption"',
  '    exec timeout --kill-after=2 "$seconds" "$script" "$seconds"',
  '    ;;',
  'esac',
];

/** An allowedPattern that also accepts the empty default of a parameter the chosen action does not use. */
function orEmpty(pattern: string): string {
  return `^$|${pattern}`;
}

/** The document's content (schemaVersion 2.2, one aws:runShellScript step). */
export function shutdownDocumentContent(): Record<string, unknown> {
  const P = SHUTDOWN_PARAMETERS;
  return {
    schemaVersion: '2.2',
    description:
      'spot-responder graceful shutdown: before a Spot interruption, stop a systemd unit (SIGTERM) or run a script with the seconds left.',
    parameters: {
      [P.action]: { type: 'String', description: 'stop-unit or run-script', allowedValues: [...SHUTDOWN_ACTIONS] },
      [P.unit]: { type: 'String', description: 'The systemd unit to stop (stop-unit).', default: '', allowedPattern: orEmpty(SYSTEMD_UNIT_PATTERN) },
      [P.script]: { type: 'String', description: 'The executable to run (run-script), by absolute path.', default: '', allowedPattern: orEmpty(SCRIPT_PATH_PATTERN) },
      [P.secondsLeft]: {
        type: 'String',
        description: 'Seconds left before the interruption: the script argument and the execution timeout.',
        allowedPattern: SECONDS_LEFT_PATTERN,
      },
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'gracefulShutdown',
        precondition: { StringEquals: ['platformType', 'Linux'] },
        inputs: { timeoutSeconds: `{{ ${P.secondsLeft} }}`, runCommand: RUN_COMMAND },
      },
    ],
  };
}

