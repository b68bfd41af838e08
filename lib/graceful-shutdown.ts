// Graceful shutdown on the instance (opt-in): an SSM Run Command document the responder sends to
// a warned instance, in the same round as its deregistrations, so the application gets SIGTERM
// (or the user's script) while there is still time to save its state; and the rule that brings
// SSM's report of how the command ended back to the responder's state-change queue, which adds
// `shutdown-command-finished` to the warning's record.
//
// The command is chosen by parameters, never by shell text: each parameter has an allowedPattern
// (the same strings the responder checks first, lambda/core/shutdown.ts), and SSM refuses a
// SendCommand whose values do not match, so a tag value cannot become shell code.
// https://docs.aws.amazon.com/systems-manager/latest/userguide/documents-syntax-data-elements-parameters.html
import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { SIGNALS_ENV, type ResponseMode } from '../lambda/contract';
import { TAG_ON_VALUES } from '../lambda/core/plan';
import {
  SCRIPT_PATH_PATTERN,
  SECONDS_LEFT_PATTERN,
  SHUTDOWN_ACTIONS,
  SHUTDOWN_PARAMETERS,
  SYSTEMD_UNIT_PATTERN,
  formatShutdownCommand,
  type ShutdownCommand,
} from '../lambda/core/shutdown';
import { COMMAND_INVOCATION_STATUS_CHANGE, SSM_EVENT_SOURCE } from '../lambda/events/detail-types';
import { FINAL_COMMAND_STATUSES } from '../lambda/events/shutdown-command-status';
import { DELIVERY } from './defaults';
import { acknowledge, wildcardResourceFinding } from './nag';

/**
 * What a warned instance runs, when its `<tagKey>:shutdown` tag does not say otherwise (set at
 * most one). Neither: only instances (or groups) tagged `unit:<name>` or `script:<path>` get a
 * command. Instances need the SSM agent online (`spot-responder doctor` lists those without).
 */
export interface GracefulShutdownProps {
  /**
   * A systemd unit to stop (`systemctl stop`): systemd sends its KillSignal, SIGTERM unless the
   * unit says otherwise, and waits up to its TimeoutStopSec, cut at the seconds left.
   */
  readonly systemdUnit?: string;
  /** An executable on the instance, by absolute path, run as root with the seconds left as its only argument. */
  readonly script?: string;
}

export interface GracefulShutdownWiring {
  readonly responder: lambda.Function;
  /** The responder's state-change queue: SSM's status events join the instance state changes there. */
  readonly stateChangeQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  readonly eventBus?: events.IEventBus;
  /** The default command, from the props; undefined: tagged instances only. */
  readonly defaultCommand?: ShutdownCommand;
  /** `observe`: no ssm:SendCommand permission at all (observe mode only plans the command). */
  readonly mode: ResponseMode;
  /** 'tagged': SendCommand also requires the instance to carry `tagKey` with an opt-in value. */
  readonly permissionScope: 'names' | 'tagged';
  readonly tagKey: string;
}

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

/**
 * The graceful-shutdown document, the rule for its final statuses, the responder's permission to
 * send it (act mode) and the variables that turn it on in the responder.
 */
export class GracefulShutdown extends Construct {
  public readonly document: ssm.CfnDocument;
  /** The document's name (generated by CloudFormation; a Ref). */
  public readonly documentName: string;
  /** Routes the document's final invocation statuses to the state-change queue. */
  public readonly statusRule: events.Rule;

  constructor(scope: Construct, id: string, props: GracefulShutdownWiring) {
    super(scope, id);
    const stack = Stack.of(this);
    this.document = new ssm.CfnDocument(this, 'Document', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: shutdownDocumentContent(),
      // Content changes replace the document (a new generated name, followed by the Ref below).
      updateMethod: 'Replace',
    });
    this.documentName = this.document.ref;

    this.statusRule = new events.Rule(this, 'StatusRule', {
      description: 'Final statuses of the spot-responder graceful-shutdown command, to its state-change queue',
      eventBus: props.eventBus,
      eventPattern: {
        source: [SSM_EVENT_SOURCE],
        detailType: [COMMAND_INVOCATION_STATUS_CHANGE],
        detail: { 'document-name': [this.documentName], status: [...FINAL_COMMAND_STATUSES] },
      },
      targets: [new targets.SqsQueue(props.stateChangeQueue, { ...DELIVERY.instanceStateChange, deadLetterQueue: props.deadLetterQueue })],
    });

    props.responder.addEnvironment(SIGNALS_ENV.shutdownDocument, this.documentName);
    props.responder.addEnvironment(SIGNALS_ENV.shutdownCommand, props.defaultCommand ? formatShutdownCommand(props.defaultCommand) : '');

    if (props.mode !== 'act') return;
    const role = props.responder.role as iam.IRole;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SendShutdownDocument',
        actions: ['ssm:SendCommand'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'document', resourceName: this.documentName })],
      }),
    );
    const instances = stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SendShutdownToInstances',
        actions: ['ssm:SendCommand'],
        resources: [instances],
        // SSM's documented key for Run Command on tagged nodes ("Restricting Run Command access based on tags").
        conditions:
          props.permissionScope === 'tagged'
            ? { StringEqualsIgnoreCase: { [`ssm:resourceTag/${props.tagKey}`]: [...TAG_ON_VALUES] } }
            : undefined,
      }),
    );
    acknowledge(
      role,
      'ssm:SendCommand of the graceful-shutdown document names the instance in the call; which instances ' +
        'get it is decided per warning, so the EC2 instance ARN must be a wildcard (with permissionScope ' +
        "'tagged', only instances carrying the opt-in tag). The document is named exactly.",
      wildcardResourceFinding(this, instances),
    );
  }
}
