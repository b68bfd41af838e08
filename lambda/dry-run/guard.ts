// The dry run's guard: the SDK clients it hands out refuse every command that is not a read,
// and write down each call they let through. Two layers, because either alone leaves a gap:
// - a view of each client whose `send` checks the command and journals it with the input the
//   adapter passed (for the document client, plain JS rather than AttributeValues). It is what
//   the responder's adapters hold, and since aws-sdk-client-mock replaces `send` on the client
//   underneath, also what unit tests observe;
// - a middleware at the initialize step of each underlying client, which refuses mutations
//   however the client is reached: through the client itself, or through a document client
//   made from the raw DynamoDB client later (lib-dynamodb shares the raw client's stack).
import type { AwsClients } from '../aws/clients';

export type PlanStepKind = 'read' | 'write';

/** One call of a dry run: a read it made, or a write it would have made. */
export interface PlanStep {
  /** 1-based, in the order the calls were made or planned. */
  step: number;
  kind: PlanStepKind;
  /** ec2, autoscaling, elbv2, ecs, ssm, dynamodb, sts */
  service: string;
  /** The API operation: DescribeInstances, GetItem, DeregisterTargets ... */
  command: string;
  input: unknown;
  /** What the step is for, or how it went: "claim", "failed: ResourceNotFoundException". */
  note?: string;
}

/** The calls of one dry run, in order. */
export class PlanJournal {
  private readonly entries: PlanStep[] = [];

  read(service: string, command: string, input: unknown, note?: string): PlanStep {
    return this.add('read', service, command, input, note);
  }

  write(service: string, command: string, input: unknown, note?: string): PlanStep {
    return this.add('write', service, command, input, note);
  }

  get steps(): PlanStep[] {
    return this.entries.map((s) => ({ ...s }));
  }

  private add(kind: PlanStepKind, service: string, command: string, input: unknown, note?: string): PlanStep {
    const step: PlanStep = { step: this.entries.length + 1, kind, service, command, input, ...(note ? { note } : {}) };
    this.entries.push(step);
    return step;
  }
}

/** A dry run tried to send a command that is not a read. Nothing was sent. */
export class DryRunViolationError extends Error {
  override name = 'DryRunViolationError';
  constructor(
    readonly service: string,
    readonly command: string,
  ) {
    super(`dry run: refused to send ${service} ${command || '(unnamed command)'}; only reads are allowed`);
  }
}

/** The services of AwsClients, as the plan names them. */
export const SERVICE = {
  ec2: 'ec2',
  autoScaling: 'autoscaling',
  elbv2: 'elbv2',
  ecs: 'ecs',
  ssm: 'ssm',
  dynamo: 'dynamodb',
  dynamoRaw: 'dynamodb',
} as const satisfies Record<keyof AwsClients, string>;

const READ_OPERATION = /^(?:(?:Describe|List|Get|BatchGet|TransactGet)[A-Z]\w*|Query|Scan)$/;

/** Reads by the AWS naming convention; anything else (and anything unnamed) counts as a mutation. */
export function isReadOperation(operation: string): boolean {
  return READ_OPERATION.test(operation);
}

/**
 * The API operation a command calls: `DescribeInstancesCommand` -> `DescribeInstances`. A
 * document client command is named by the DynamoDB operation it wraps (GetCommand -> GetItem).
 */
export function operationOf(command: unknown): string {
  if (typeof command !== 'object' || command === null) return '';
  const inner = (command as { clientCommand?: unknown }).clientCommand;
  const named = typeof inner === 'object' && inner !== null ? inner : command;
  return stripSuffix(named.constructor?.name ?? '');
}

function stripSuffix(name: string): string {
  return name.replace(/Command$/, '');
}

interface Sender {
  send(command: unknown, ...rest: unknown[]): Promise<unknown>;
}

/** The part of a client's middleware stack the guard uses; the arguments pass through untouched. */
interface GuardableStack {
  add<Args>(
    middleware: (next: (args: Args) => Promise<unknown>, context: { commandName?: string }) => (args: Args) => Promise<unknown>,
    options: { step: 'initialize'; name: string; priority: 'high'; override: true },
  ): void;
}

const GUARD_MIDDLEWARE = 'spotResponderDryRunGuard';

/**
 * Makes the client refuse mutations at the initialize step, before serialization, signing or
 * any network I/O. Permanent for the client: only use it on clients made for the dry run.
 * Idempotent (a second call replaces the first).
 */
export function installGuard(client: { middlewareStack: GuardableStack }, service: string): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const operation = stripSuffix(context.commandName ?? '');
      if (!isReadOperation(operation)) throw new DryRunViolationError(service, operation);
      return next(args);
    },
    { step: 'initialize', name: GUARD_MIDDLEWARE, priority: 'high', override: true },
  );
}

/**
 * A view of `client` whose `send` journals each read and rejects each mutation unsent. Every
 * other member is the client's own. A read that fails is marked so in its plan step.
 */
export function guardedView<C extends Sender>(client: C, service: string, journal: PlanJournal): C {
  const view = Object.create(client) as C;
  const send = (command: unknown, ...rest: unknown[]): Promise<unknown> => {
    const operation = operationOf(command);
    if (!isReadOperation(operation)) return Promise.reject(new DryRunViolationError(service, operation));
    const step = journal.read(service, operation, (command as { input?: unknown }).input);
    return Promise.resolve(client.send(command, ...rest)).catch((err: unknown) => {
      step.note = `failed: ${err instanceof Error ? err.name : String(err)}`;
      throw err;
    });
  };
  Object.defineProperty(view, 'send', { value: send, enumerable: false });
  return view;
}

/** Read-only clients over `clients`: both layers of the guard, one journal. */
export function guardClients(clients: AwsClients, journal: PlanJournal): AwsClients {
  for (const key of Object.keys(SERVICE) as Array<keyof AwsClients>) {
    installGuard(clients[key], SERVICE[key]);
  }
  return {
    ec2: guardedView(clients.ec2, SERVICE.ec2, journal),
    autoScaling: guardedView(clients.autoScaling, SERVICE.autoScaling, journal),
    elbv2: guardedView(clients.elbv2, SERVICE.elbv2, journal),
    ecs: guardedView(clients.ecs, SERVICE.ecs, journal),
    ssm: guardedView(clients.ssm, SERVICE.ssm, journal),
    dynamo: guardedView(clients.dynamo, SERVICE.dynamo, journal),
    dynamoRaw: guardedView(clients.dynamoRaw, SERVICE.dynamoRaw, journal),
  };
}
