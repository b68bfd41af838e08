// Shared by the benchmarks: a recorder of every SDK command the clients send, the sequential
// rounds those commands form, and the few statistics the report uses.
import { performance } from 'node:perf_hooks';
import type { AwsClients } from '../lambda/aws/clients';
import { createReplayer, type Replayer } from '../cli/replay';

export interface SdkCall {
  service: string;
  /** The operation, without the SDK's `Command` suffix. */
  command: string;
  /** performance.now() milliseconds, around the whole send: retries included. */
  start: number;
  end: number;
  failed: boolean;
}

export interface Recorded<T> {
  value: T;
  /** In start order. */
  calls: SdkCall[];
  start: number;
  end: number;
}

export interface CallRecorder {
  /** Runs `fn`, collecting every command sent while it runs. */
  during<T>(fn: () => Promise<T>): Promise<Recorded<T>>;
}

/** Adds a counting middleware to each client; nothing is collected outside `during`. */
export function recordCalls(clients: AwsClients): CallRecorder {
  let sink: SdkCall[] | null = null;
  const counter =
    (service: string) =>
    <A, R>(next: (args: A) => Promise<R>, context: { commandName?: string }) =>
    async (args: A): Promise<R> => {
      const start = performance.now();
      const command = (context.commandName ?? 'unknown').replace(/Command$/, '');
      const collect = sink;
      let failed = true;
      try {
        const out = await next(args);
        failed = false;
        return out;
      } finally {
        collect?.push({ service, command, start, end: performance.now(), failed });
      }
    };
  const options = { step: 'initialize', name: 'benchCallRecorder' } as const;
  clients.ec2.middlewareStack.add(counter('EC2'), options);
  clients.autoScaling.middlewareStack.add(counter('AutoScaling'), options);
  clients.elbv2.middlewareStack.add(counter('ELBv2'), options);
  clients.ecs.middlewareStack.add(counter('ECS'), options);
  // The document client shares this stack (lib-dynamodb), so its commands are counted here, once.
  clients.dynamoRaw.middlewareStack.add(counter('DynamoDB'), options);

  return {
    async during(fn) {
      const calls: SdkCall[] = [];
      sink = calls;
      const start = performance.now();
      try {
        const value = await fn();
        return { value, calls: calls.sort((a, b) => a.start - b.start), start, end: performance.now() };
      } finally {
        sink = null;
      }
    },
  };
}

/** A replayer on a table of its own; its clients' keep-alive sockets are closed afterwards. */
export async function withReplayer<T>(endpoint: string, table: string, fn: (replayer: Replayer) => Promise<T>): Promise<T> {
  const replayer = await createReplayer({ endpointUrl: endpoint, table, clock: 'wall', refreshIndex: true });
  try {
    return await fn(replayer);
  } finally {
    const { ec2, autoScaling, elbv2, ecs, dynamoRaw } = replayer.clients;
    for (const client of [ec2, autoScaling, elbv2, ecs, dynamoRaw]) client.destroy();
  }
}

export const isElbv2Describe = (call: SdkCall): boolean => call.service === 'ELBv2' && call.command.startsWith('Describe');

/**
 * Sequential rounds: a call is in the round after the latest round of any call that ended
 * before it started (the longest chain of waits behind it); calls in one round overlap.
 */
export function rounds(calls: SdkCall[]): SdkCall[][] {
  const sorted = [...calls].sort((a, b) => a.start - b.start);
  const roundOf = new Map<SdkCall, number>();
  for (const call of sorted) {
    const before = sorted.filter((d) => d.end <= call.start).map((d) => roundOf.get(d) ?? 0);
    roundOf.set(call, 1 + Math.max(0, ...before));
  }
  const result: SdkCall[][] = [];
  for (const call of sorted) {
    const index = (roundOf.get(call) ?? 1) - 1;
    (result[index] ??= []).push(call);
  }
  return result;
}

/** When traffic stopped: the end of the last DeregisterTargets, or null when there was none. */
export function trafficStoppedAt(calls: SdkCall[]): number | null {
  const ends = calls.filter((c) => c.command === 'DeregisterTargets').map((c) => c.end);
  return ends.length > 0 ? Math.max(...ends) : null;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Nearest-rank percentile. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const ms = (value: number): string => `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;

/** A markdown table. */
export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** Runs `fn` over `items`, at most `concurrency` at a time. */
export async function inBatches<T>(items: T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += concurrency) {
    await Promise.all(items.slice(i, i + concurrency).map(fn));
  }
}

export const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};
