// Helpers for the integration tests that replay events against the demo fleet on the shared
// emulator: unique names, direct reads of what the responder left behind (the records table,
// target registrations), and the real CLI run as a child process.
//
// Every file that touches the emulator also calls useEmulator() (emulator-env.ts), which leases
// the one moto to that file alone; the unique names below keep the fleets and tables of one
// file apart and would keep files apart too if the lease were ever dropped.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { DescribeTargetHealthCommand, type ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { GetCommand, ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { REPO_ROOT } from '../../dev/emulator';
import type { AwsClients } from '../../lambda/aws/clients';
import type { StoredRecord } from '../../lambda/aws/store/items';
import { itemKey } from '../../lambda/aws/table-schema';
import { eventTime as stampedAt } from '../../cli/sample-events';

/**
 * A short name no other fleet or table on the emulator has. Kept short because the fleet derives
 * load balancer and target group names from it, which AWS caps at 32 characters.
 */
export function uniqueName(label: string): string {
  return `${label.slice(0, 8)}-${randomBytes(3).toString('hex')}`;
}

/** An EventBridge time (whole seconds, UTC) `offsetMs` from now. */
export function eventTime(offsetMs = 0): string {
  return stampedAt(Date.now() + offsetMs);
}

/** Every event record in the table about `instanceId`, read straight from DynamoDB. */
export async function recordsAbout(
  dynamo: DynamoDBDocumentClient,
  table: string,
  instanceId: string,
): Promise<StoredRecord[]> {
  const items: Record<string, unknown>[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const out = await dynamo.send(
      new ScanCommand({
        TableName: table,
        FilterExpression: 'begins_with(pk, :event) AND instanceId = :instance',
        ExpressionAttributeValues: { ':event': itemKey.event(''), ':instance': instanceId },
        ConsistentRead: true,
        ...(startKey ? { ExclusiveStartKey: startKey } : {}),
      }),
    );
    items.push(...(out.Items ?? []));
    startKey = out.LastEvaluatedKey;
  } while (startKey);
  return items as unknown as StoredRecord[];
}

/** The stored item of one event, or undefined when none was written. */
export async function recordOf(
  dynamo: DynamoDBDocumentClient,
  table: string,
  eventId: string,
): Promise<StoredRecord | undefined> {
  const out = await dynamo.send(
    new GetCommand({ TableName: table, Key: { pk: itemKey.event(eventId) }, ConsistentRead: true }),
  );
  return out.Item as StoredRecord | undefined;
}

/** The registrations of one target group, as `id` or `id:port`, sorted. */
export async function registrationsIn(elbv2: ElasticLoadBalancingV2Client, targetGroupArn: string): Promise<string[]> {
  const out = await elbv2.send(new DescribeTargetHealthCommand({ TargetGroupArn: targetGroupArn }));
  return (out.TargetHealthDescriptions ?? [])
    .map((d) => `${d.Target?.Id ?? ''}${d.Target?.Port ? `:${d.Target.Port}` : ''}`)
    .sort();
}

/** Closes the keep-alive sockets of a replayer's clients, so the worker can exit. */
export function destroyClients(clients: AwsClients): void {
  for (const client of [clients.ec2, clients.autoScaling, clients.elbv2, clients.ecs, clients.ssm, clients.dynamo, clients.dynamoRaw]) {
    client.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// The CLI

export const CLI = path.join(REPO_ROOT, 'bin', 'spot-responder.js');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/spot-responder.js ...args` to completion. The environment is stripped of AWS
 * settings and the table default, so only the arguments decide which AWS and table it uses.
 */
export function runCli(args: string[], timeoutMs = 60_000): Promise<CliRun> {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_') && name !== 'SPOT_RESPONDER_TABLE'),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`spot-responder ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The JSON objects of a `--json` run's stdout, one per line. */
export function jsonLines(stdout: string): Record<string, unknown>[] {
  return stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
