// The handler's side of bench/simulator/server.ts: a plugin for the EC2, Auto Scaling, ELBv2
// and ECS clients that answers each command at the deserialize step (as ControlPlane.plugin
// does in process) by one POST /call to the simulator's port, and raises its errors as the
// SDK's deserializer would have (name = AWS's code, $metadata.httpStatusCode), so the client's
// retry strategy and pacing above it run as they do against AWS. DynamoDB needs no plugin: its
// client is pointed at the same URL and speaks its own wire protocol.
import * as http from 'node:http';
import type { Pluggable } from '@smithy/types';
import type { RemoteAnswer } from './server';
import { SimulatedServiceError } from './throttle';

const agent = new http.Agent({ keepAlive: true, maxSockets: 50 });

function post(url: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/call`, { method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks).toString('utf8')) : reject(new Error(Buffer.concat(chunks).toString('utf8')))));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The plugin for one client of `service`, answering from the simulator served at `url`. */
export function remotePlugin(url: string, service: 'ec2' | 'autoscaling' | 'elbv2' | 'ecs'): Pluggable<any, any> {
  return {
    applyToStack: (stack) => {
      stack.add(
        (_next, context) => async (args) => {
          const command = (context.commandName ?? '').replace(/Command$/, '');
          const answer = JSON.parse(await post(url, JSON.stringify({ service, command, input: args.input }))) as RemoteAnswer;
          if ('error' in answer) {
            throw Object.assign(new SimulatedServiceError(answer.error.name, answer.error.status, answer.error.message), answer.error.extra);
          }
          return { output: { $metadata: { httpStatusCode: 200 }, ...answer.output }, response: {} };
        },
        { step: 'deserialize', priority: 'high', name: 'waveSimulatorRemote', override: true },
      );
    },
  };
}
