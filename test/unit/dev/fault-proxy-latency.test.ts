// The proxy's latency plan (dev/fault-proxy.ts), used by the rounds benchmark to give moto a
// region's round-trip time: each request is held for what the plan says, per service.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { controlPlaneLatency, startFaultProxy, type CallInfo } from '../../../dev/fault-proxy';

describe('controlPlaneLatency', () => {
  test('control-plane calls get the median ± the jitter, DynamoDB its own figure', () => {
    const low = controlPlaneLatency(30, 10, 8, () => 0);
    const high = controlPlaneLatency(30, 10, 8, () => 1);
    const mid = controlPlaneLatency(30, 10, 8, () => 0.5);
    const elb: CallInfo = { service: 'elasticloadbalancing', operation: 'DeregisterTargets' };
    expect(low(elb)).toBe(20);
    expect(high(elb)).toBe(40);
    expect(mid(elb)).toBe(30);
    expect(low({ service: 'dynamodb', operation: 'TransactWriteItems' })).toBe(8);
    expect(controlPlaneLatency(30, 10)({ service: 'dynamodb', operation: 'GetItem' })).toBe(0);
  });
});

describe('a proxy with a latency plan', () => {
  let upstream: http.Server;
  let received: string[];
  beforeAll(async () => {
    received = [];
    upstream = http.createServer((req, res) => {
      received.push(String(req.headers['x-amz-target']));
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  });
  afterAll(async () => {
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
  });

  test('holds each request for the planned time before forwarding it, and asks the plan with the call', async () => {
    const asked: CallInfo[] = [];
    const proxy = await startFaultProxy(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}`, () => undefined, {
      latency: (call) => {
        asked.push(call);
        return 300;
      },
    });
    try {
      const answer = send(proxy.endpoint, 'DynamoDB_20120810.GetItem');
      // A timer never fires early: 30 ms in, the request is still held (load can only delay it more).
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(received).toEqual([]);
      expect(await answer).toBe('{}');
      expect(received).toEqual(['DynamoDB_20120810.GetItem']);
      expect(asked).toEqual([{ service: 'dynamodb', operation: 'GetItem' }]);
    } finally {
      await proxy.close();
    }
  });
});

function send(endpoint: string, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(endpoint, { method: 'POST', headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
    req.on('error', reject);
    req.end('{}');
  });
}
