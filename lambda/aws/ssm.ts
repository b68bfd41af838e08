// SSM Run Command: send the graceful-shutdown document to warned instances. The command runs on
// the instance through its SSM agent; SendCommand only queues it and returns the command id, so
// it costs the response one short call, and the final status comes back later as an EventBridge
// event (lambda/events/shutdown-command-status.ts).
//
// Not paced client-side (pacing.ts): SSM publishes no bucket for SendCommand, and the responder
// makes one call per command and seconds-left group (response/merge.ts), a handful in a wave. A
// throttle is retried by the client's ThrottleRetryStrategy until the call's deadline.
// https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_SendCommand.html
import { SendCommandCommand, type SendCommandCommandInput, type SSMClient } from '@aws-sdk/client-ssm';
import type { CallOptions, ItemResult, ShutdownPort, ShutdownSendResult } from '../core/ports';
import { SEND_COMMAND_INSTANCE_LIMIT } from '../core/shutdown';
import { chunk } from './batching';

/**
 * SSM's InvalidInstanceId: "SSM Agent isn't running", "isn't registered with the SSM endpoint",
 * "the managed node isn't in a valid state" (shutting-down, terminated), or no permission on the
 * node. The SDK names the class without a suffix; an emulator may too.
 */
const NOT_MANAGED_ERRORS = new Set(['InvalidInstanceId', 'InvalidInstanceIdException']);

const NOT_MANAGED_REASON = 'SSM refused the instance (InvalidInstanceId): no SSM agent online, or not in a state SSM accepts';

/** What `sendShutdown` sends for one chunk; the dry run and observe mode plan the same input. */
export function sendCommandInput(
  documentName: string,
  instanceIds: readonly string[],
  parameters: Record<string, string[]>,
): SendCommandCommandInput {
  const seconds = Number(parameters.SecondsLeft?.[0] ?? '120');
  return {
    DocumentName: documentName,
    InstanceIds: [...instanceIds],
    Parameters: parameters,
    // Delivery past the interruption is worthless: the agent must pick the command up within the
    // seconds left (SSM's minimum is 30 s; it is the delivery timeout, not the run's).
    TimeoutSeconds: Math.max(30, seconds),
    Comment: 'spot-responder: graceful shutdown before the Spot interruption',
    MaxConcurrency: '100%',
    MaxErrors: '100%',
  };
}

export class SsmShutdownAdapter implements ShutdownPort {
  constructor(private readonly ssm: SSMClient) {}

  /**
   * One SendCommand per chunk of 50 instances, all at once. InvalidInstanceId names no instance
   * and fails the whole call for one unmanaged instance: a chunk of several is then sent again one
   * instance at a time, so only the unmanaged ones come back 'not-managed'. Any other error
   * (AccessDenied, a throttle past the deadline, InvalidParameters) answers every instance of
   * its call.
   */
  async sendShutdown(
    documentName: string,
    instanceIds: readonly string[],
    parameters: Record<string, string[]>,
    opts: CallOptions = {},
  ): Promise<Map<string, ItemResult<ShutdownSendResult>>> {
    const answers = new Map<string, ItemResult<ShutdownSendResult>>();
    const send = async (ids: string[]): Promise<void> => {
      try {
        const output = await this.ssm.send(new SendCommandCommand(sendCommandInput(documentName, ids, parameters)), opts);
        const commandId = output.Command?.CommandId;
        for (const id of ids) {
          answers.set(id, commandId ? { ok: true, value: { status: 'sent', commandId } } : { ok: false, error: new Error('SendCommand returned no command id') });
        }
      } catch (error) {
        const name = error instanceof Error ? error.name : '';
        if (NOT_MANAGED_ERRORS.has(name) && ids.length > 1) {
          await Promise.all(ids.map((id) => send([id])));
        } else if (NOT_MANAGED_ERRORS.has(name)) {
          for (const id of ids) answers.set(id, { ok: true, value: { status: 'not-managed', reason: NOT_MANAGED_REASON } });
        } else {
          for (const id of ids) answers.set(id, { ok: false, error });
        }
      }
    };
    await Promise.all(chunk([...new Set(instanceIds)], SEND_COMMAND_INSTANCE_LIMIT).map(send));
    return answers;
  }
}
