// SSM reports each status change of a Run Command invocation (one command on one instance). The
// construct's rule forwards only the graceful-shutdown document's final statuses, which close the
// `shutdown-command-sent` milestone of the warning's record with `shutdown-command-finished`.
// https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html
//
// {
//   "version": "0", "id": "4780e1b8-f56b-4de5-95f2-95db5EXAMPLE",
//   "detail-type": "EC2 Command Invocation Status-change Notification", "source": "aws.ssm",
//   "account": "123456789012", "time": "2026-11-30T12:00:41Z", "region": "us-east-1",
//   "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0"],
//   "detail": {
//     "command-id": "e8d3c0e4-71f7-4491-898f-c9b35bee5f3b", "document-name": "SpotResponder-GracefulShutdown-...",
//     "instance-id": "i-0123456789abcdef0", "requested-date-time": "2026-11-30T12:00:05.953Z", "status": "Success"
//   }
// }
import { z } from 'zod';
import type { ShutdownCommandStatus } from '../core/model';
import { defineEventKind, ec2Fields, envelopeSignalFields } from './envelope';
import { COMMAND_INVOCATION_STATUS_CHANGE, SSM_EVENT_SOURCE } from './detail-types';

/**
 * The statuses after which an invocation changes no more (SSM's CommandInvocationStatus, plus the
 * invocation-only Undeliverable and Terminated, and the detailed timeouts the console shows); the
 * construct's rule forwards these only.
 */
export const FINAL_COMMAND_STATUSES = [
  'Success',
  'Failed',
  'TimedOut',
  'Cancelled',
  'Undeliverable',
  'Terminated',
  'DeliveryTimedOut',
  'ExecutionTimedOut',
] as const;

export const shutdownCommandStatus = defineEventKind({
  source: SSM_EVENT_SOURCE,
  detailType: COMMAND_INVOCATION_STATUS_CHANGE,
  detail: z.object({
    'command-id': z.string().min(1).max(64),
    'document-name': z.string().min(1).max(128),
    'instance-id': ec2Fields.instanceId,
    // Not a closed set: SSM adds statuses; only the final ones make a milestone (response/timeline.ts).
    status: z.string().min(1).max(64),
  }),
  convert: (event): ShutdownCommandStatus => ({
    kind: 'shutdown-command-status',
    ...envelopeSignalFields(event),
    instanceId: event.detail['instance-id'],
    commandId: event.detail['command-id'],
    documentName: event.detail['document-name'],
    status: event.detail.status,
  }),
});
