import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CreateTableCommand, PutItemCommand, TransactWriteItemsCommand, type TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { CreateVpcCommand, DescribeInstancesCommand, DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EmulatorError, emulatorClientConfig, ensureMoto, startEmulator, type Emulator } from '../../dev/emulator';
import { resetEmulator, testClients, testEndpoint, useEmulator } from '../support/emulator-env';

/** Running, as opposed to gone or a zombie waiting for init to reap it. */
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
};

const vpcCount = async (ec2: EC2Client, cidr: string) =>
  (await ec2.send(new DescribeVpcsCommand({ Filters: [{ Name: 'cidr', Values: [cidr] }] }))).Vpcs?.length ?? 0;

/** Starting and stopping real processes on a loaded machine takes a few seconds. */
const PROCESS_TIMEOUT_MS = 30_000;

const scratch: string[] = [];
afterAll(() => scratch.forEach((file) => fs.rmSync(file, { recursive: true, force: true })));

describe('startEmulator', () => {
  let emulator: Emulator | undefined;
  afterEach(async () => {
    await emulator?.stop();
    emulator = undefined;
  });

  it('starts a moto that answers, resets it, and stops it for good', async () => {
    // Prepare
    const quiet = () => undefined;
    emulator = await startEmulator({ motoServer: await ensureMoto({ log: quiet }), log: quiet });
    const { endpoint, pid, logFile } = emulator;
    const ec2 = new EC2Client(emulatorClientConfig(endpoint));
    await ec2.send(new CreateVpcCommand({ CidrBlock: '10.42.0.0/16' }));

    // Act / Assess: reset forgets what was created
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await vpcCount(ec2, '10.42.0.0/16')).toBe(1);
    await emulator.reset();
    expect(await vpcCount(ec2, '10.42.0.0/16')).toBe(0);

    // Act / Assess: stop ends the process and its log; a second stop is harmless
    await emulator.stop();
    await emulator.stop();
    expect(alive(pid)).toBe(false);
    expect(fs.existsSync(logFile)).toBe(false);
    await expect(fetch(`${endpoint}/moto-api/`)).rejects.toThrow();
    ec2.destroy();
  }, PROCESS_TIMEOUT_MS);

  it('fails with the log tail when the server dies before answering', async () => {
    // Prepare: a "server" that exits at once
    const fake = writeScript('echo "no such thing" >&2; exit 3');

    // Act
    const error = await startEmulator({ motoServer: fake, log: () => undefined }).catch((err: unknown) => err);
    scratch.push((error as EmulatorError).logFile ?? '');

    // Assess
    expect(error).toBeInstanceOf(EmulatorError);
    expect((error as EmulatorError).message).toMatch(/exited before answering[\s\S]*no such thing/);
    expect(fs.readFileSync((error as EmulatorError).logFile ?? '', 'utf8')).toContain('no such thing');
  }, PROCESS_TIMEOUT_MS);

  it('gives up after the start timeout and leaves nothing running', async () => {
    // Prepare: a "server" that never answers, with a child of its own
    const fake = writeScript('sleep 60 & echo "$$ $!" > "$0.pids"; wait');

    // Act
    const error = await startEmulator({ motoServer: fake, startTimeoutMs: 2_000, log: () => undefined }).catch(
      (err: unknown) => err,
    );
    scratch.push((error as EmulatorError).logFile ?? '');

    // Assess
    expect(error).toBeInstanceOf(EmulatorError);
    expect((error as EmulatorError).message).toMatch(/did not answer .* within 2000 ms/);
    const pids = fs.readFileSync(`${fake}.pids`, 'utf8').trim().split(' ').map(Number);
    expect(pids).toHaveLength(2);
    expect(pids.filter(alive)).toEqual([]);
  }, PROCESS_TIMEOUT_MS);
});

describe('ensureMoto', () => {
  const saved = process.env.SPOT_RESPONDER_MOTO_SERVER;
  afterEach(() => {
    if (saved === undefined) delete process.env.SPOT_RESPONDER_MOTO_SERVER;
    else process.env.SPOT_RESPONDER_MOTO_SERVER = saved;
  });

  it('uses SPOT_RESPONDER_MOTO_SERVER when it names an executable', async () => {
    const fake = writeScript('true');
    process.env.SPOT_RESPONDER_MOTO_SERVER = fake;
    await expect(ensureMoto({ log: () => undefined })).resolves.toBe(fake);
  });

  it('refuses a SPOT_RESPONDER_MOTO_SERVER that is not executable', async () => {
    process.env.SPOT_RESPONDER_MOTO_SERVER = path.join(os.tmpdir(), 'no-such-moto-server');
    await expect(ensureMoto({ log: () => undefined })).rejects.toThrow(/SPOT_RESPONDER_MOTO_SERVER=.* is not an executable/);
  });
});

describe('the shared test emulator', () => {
  useEmulator();
  const clients = testClients();
  afterAll(() => Object.values(clients).forEach((client) => client.destroy()));

  it('answers at testEndpoint() and resetEmulator() clears it', async () => {
    // Prepare
    expect(testEndpoint()).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await clients.ec2.send(new CreateVpcCommand({ CidrBlock: '10.43.0.0/16' }));
    expect(await vpcCount(clients.ec2, '10.43.0.0/16')).toBe(1);

    // Act
    await resetEmulator();

    // Assess
    expect(await vpcCount(clients.ec2, '10.43.0.0/16')).toBe(0);
  });

  // What moto does where the responder's adapters meet it (probed; see dev/fleet.ts for ELBv2
  // and Auto Scaling). If a moto upgrade changes one of these, the adapters' tests need a look.
  describe('moto behaviour', () => {
    const claim = (pk: string): TransactWriteItem => ({
      Put: {
        TableName: 'events',
        Item: { pk: { S: pk }, status: { S: 'in-progress' } },
        ConditionExpression: 'attribute_not_exists(pk)',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      },
    });

    it('cancels a transaction on a failed condition with per-item reasons, holding Item for ALL_OLD', async () => {
      // Prepare
      await clients.dynamodb.send(
        new CreateTableCommand({
          TableName: 'events',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await clients.dynamodb.send(
        new PutItemCommand({ TableName: 'events', Item: { pk: { S: 'EVENT#held' }, status: { S: 'completed' } } }),
      );

      // Act
      const result = clients.dynamodb.send(
        new TransactWriteItemsCommand({ TransactItems: [claim('EVENT#new'), claim('EVENT#held')] }),
      );

      // Assess
      await expect(result).rejects.toMatchObject({
        name: 'TransactionCanceledException',
        CancellationReasons: [
          { Code: 'None' },
          { Code: 'ConditionalCheckFailed', Item: { pk: { S: 'EVENT#held' }, status: { S: 'completed' } } },
        ],
      });
    });

    it('answers DescribeInstances for an unknown id with InvalidInstanceID.NotFound', async () => {
      await expect(
        clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: ['i-0123456789abcdef0'] })),
      ).rejects.toMatchObject({ name: 'InvalidInstanceID.NotFound', $metadata: { httpStatusCode: 400 } });
    });
  });
});

function writeScript(body: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-moto-'));
  scratch.push(dir);
  const file = path.join(dir, 'moto_server');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
