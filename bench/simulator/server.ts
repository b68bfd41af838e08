// The simulator behind a loopback HTTP port, so that the process that runs the handler holds
// only what a Lambda container would (the wave memory benchmark): DynamoDB on the wire as AWS
// speaks it (the SDK's own HTTP requests, answered by ControlPlane.dynamoHttpHandler), the
// other services as one JSON call per command (POST /call {service, command, input}), answered
// by ControlPlane.call and carried back to the SDK by remotePlugin (bench/simulator/remote.ts).
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpRequest } from '@smithy/types';
import type { ControlPlane } from './control-plane';
import { SimulatedServiceError } from './throttle';

/** A control-plane call over HTTP: the command's output, or the service error it raised. */
export type RemoteAnswer =
  | { output: Record<string, unknown> }
  | { error: { name: string; status: number; message: string; extra: Record<string, unknown> } };

/** Serves `plane` on 127.0.0.1 (a free port); resolves with its URL and a close(). */
export async function serveSimulator(plane: ControlPlane): Promise<{ url: string; close: () => Promise<void> }> {
  const dynamo = plane.dynamoHttpHandler();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const reply = async (): Promise<void> => {
        if (req.headers['x-amz-target']) {
          const { response } = await dynamo.handle({ headers: req.headers as Record<string, string>, body } as unknown as HttpRequest);
          res.writeHead(response.statusCode, response.headers);
          (response.body as NodeJS.ReadableStream).pipe(res);
          return;
        }
        const { service, command, input } = JSON.parse(body) as { service: string; command: string; input: Record<string, unknown> };
        let answer: RemoteAnswer;
        try {
          answer = { output: await plane.call(service, command, input) };
        } catch (err) {
          if (!(err instanceof SimulatedServiceError)) throw err;
          const { name, message, $metadata, $fault: _fault, Code: _code, stack: _stack, ...extra } = err as SimulatedServiceError & Record<string, unknown>;
          answer = { error: { name, status: $metadata.httpStatusCode, message, extra } };
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      };
      reply().catch((err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
