// What integration tests need to reach the shared emulator.
//
// jest runs test files in parallel workers, and all of them talk to ONE moto, whose reset
// wipes every account and service. So a file that touches the emulator calls useEmulator() at
// its top: it holds an exclusive lease on the emulator from beforeAll to afterAll (a lock
// directory under .moto/, keyed by the endpoint, released even when tests fail; a dead
// holder's lease is taken over). Files therefore run against moto one at a time, each on a
// clean slate, while files that do not call it run in parallel as usual.
import * as path from 'node:path';
import { AutoScalingClient } from '@aws-sdk/client-auto-scaling';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { STATE_DIR, emulatorClientConfig, resetEmulatorAt, tryLock, unlock } from '../../dev/emulator';
import type { FleetClients } from '../../dev/fleet';

export const ENDPOINT_ENV = 'SPOT_RESPONDER_TEST_ENDPOINT';
/** The pid of the emulator the global setup started, for the teardown. */
export const EMULATOR_PID_ENV = 'SPOT_RESPONDER_TEST_EMULATOR_PID';
/** Where the global setup keeps the Emulator for the global teardown. */
export const EMULATOR_HANDLE = '__spotResponderEmulator';

/** How long a file waits for the others to finish with the emulator. */
const LEASE_WAIT_MS = 5 * 60_000;

export function testEndpoint(): string {
  const endpoint = process.env[ENDPOINT_ENV];
  if (!endpoint) {
    throw new Error(
      `${ENDPOINT_ENV} is not set: run integration tests through jest's integration project ` +
        '(npx jest --selectProjects integration), whose global setup starts the emulator',
    );
  }
  return endpoint;
}

export interface TestClients extends FleetClients {
  dynamodb: DynamoDBClient;
}

/** SDK clients for the emulator: us-east-1, dummy credentials, 2 attempts, short timeouts. */
export function testClients(): TestClients {
  const config = {
    ...emulatorClientConfig(testEndpoint()),
    requestHandler: new NodeHttpHandler({ connectionTimeout: 2_000, requestTimeout: 15_000 }),
  };
  return {
    ec2: new EC2Client(config),
    autoScaling: new AutoScalingClient(config),
    elbv2: new ElasticLoadBalancingV2Client(config),
    dynamodb: new DynamoDBClient(config),
  };
}

let leaseHeld = false;

function leaseDir(): string {
  return path.join(STATE_DIR, `lease-${new URL(testEndpoint()).port}`);
}

/** Empties the emulator. Only for a file holding the lease (see useEmulator). */
export async function resetEmulator(): Promise<void> {
  if (!leaseHeld) {
    throw new Error('resetEmulator() outside useEmulator(): another test file may be using the emulator');
  }
  await resetEmulatorAt(testEndpoint());
}

/**
 * Call at the top of a test file (or describe): takes the emulator for this file and resets it
 * before its first test; gives it back after its last.
 */
export function useEmulator(): void {
  beforeAll(async () => {
    const dir = leaseDir();
    const deadline = Date.now() + LEASE_WAIT_MS;
    while (!tryLock(dir)) {
      if (Date.now() > deadline) throw new Error(`the emulator stayed leased (${dir}) for ${LEASE_WAIT_MS} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    leaseHeld = true;
    await resetEmulator();
  }, LEASE_WAIT_MS + 30_000);

  afterAll(() => {
    if (!leaseHeld) return;
    leaseHeld = false;
    unlock(leaseDir());
  });
}
