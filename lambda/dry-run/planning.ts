// The dry run's adapters: the real ones for every read, stand-ins for every write. A stand-in
// sends nothing; it puts the call the real adapter would make into the plan (for the fleet,
// with the very input the real adapter builds) and answers 'planned'. The store reads the claim
// keys and answers as the real store would, so an event that was already handled shows as the
// duplicate it would be.
import { GetCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { detachInstancesInput, terminateInstanceInput } from '../aws/auto-scaling';
import type { AwsClients } from '../aws/clients';
import { drainingInput } from '../aws/ecs';
import {
  ACTION_WINDOW_MS,
  CLAIM_STATUS,
  DynamoEventStore,
  isActionHeld,
  isHeld,
  pointerFrom,
  signalKey,
  unclaimedStatus,
} from '../aws/event-store';
import { deregisterTargetsInput } from '../aws/load-balancing';
import { itemKey } from '../aws/table-schema';
import type { AsgFacts, AsgMembership, ContainerInstanceRef, Deregistration, ResponseRecord, TimelineEntry } from '../core/model';
import type {
  AutoScalingPort,
  CallOptions,
  ClaimKeys,
  ClaimResult,
  DeregisterResult,
  DetachResult,
  EcsPort,
  EventStore,
  HistoryQuery,
  InstancePointer,
  LoadBalancingPort,
  TimelineAddition,
} from '../core/ports';
import type { Log } from '../log';
import type { ResponderDeps } from '../response/deps';
import { createResponderDeps, type ResponderSettings } from '../wiring';
import { PlanJournal, SERVICE, guardClients, type PlanStep } from './guard';

export interface DryRun {
  /** What respond() needs: guarded clients under the real readers, stand-ins for every write. */
  deps: ResponderDeps;
  /** The guarded clients the readers use: reads only, each one journaled. */
  clients: AwsClients;
  /** The calls so far: reads made and writes planned, in order. */
  plan(): PlanStep[];
}

/** One dry run (one event): a fresh plan over the same clients. */
export function createDryRun(clients: AwsClients, settings: ResponderSettings, log: Log, now?: () => number): DryRun {
  const journal = new PlanJournal();
  const readOnly = guardClients(clients, journal);
  const real = createResponderDeps(readOnly, settings, log, now);
  return {
    clients: readOnly,
    deps: {
      ...real,
      autoScaling: new PlannedAutoScaling(real.autoScaling, journal),
      loadBalancing: new PlannedLoadBalancing(journal),
      ...(real.ecs ? { ecs: new PlannedEcs(real.ecs, journal) } : {}),
      store: new ReadOnlyEventStore({
        client: readOnly.dynamo,
        tableName: settings.tableName,
        retentionDays: settings.recordRetentionDays,
        journal,
        ...(now ? { now: () => new Date(now()) } : {}),
      }),
    },
    plan: () => journal.steps,
  };
}

/** After a detach or terminate the real response verifies the replacement; a dry run has none to see. */
const VERIFICATION_NOTE =
  'dry run: after acting, the real response also looks for the replacement in the group ' +
  '(DescribeAutoScalingGroups, up to 3 times); not done here';

/** The record as a dry run reports it. */
export function dryRunRecord(record: ResponseRecord): ResponseRecord {
  const replaces = record.actions.some(
    (a) => (a.action === 'detach' || a.action === 'terminate-in-group') && a.result === 'planned',
  );
  return { ...record, dryRun: true, ...(replaces ? { notes: [...(record.notes ?? []), VERIFICATION_NOTE] } : {}) };
}

class PlannedLoadBalancing implements LoadBalancingPort {
  constructor(private readonly journal: PlanJournal) {}

  async deregister(target: Deregistration): Promise<DeregisterResult> {
    this.journal.write(SERVICE.elbv2, 'DeregisterTargets', deregisterTargetsInput(target));
    return 'planned';
  }
}

class PlannedAutoScaling implements AutoScalingPort {
  constructor(
    private readonly reads: AutoScalingPort,
    private readonly journal: PlanJournal,
  ) {}

  describeMembership(instanceId: string, opts?: CallOptions): Promise<AsgMembership | null> {
    return this.reads.describeMembership(instanceId, opts);
  }

  groupInstanceIds(groupName: string, opts?: CallOptions): Promise<string[] | null> {
    return this.reads.groupInstanceIds(groupName, opts);
  }

  describeGroup(groupName: string, opts?: CallOptions): Promise<AsgFacts | null> {
    return this.reads.describeGroup(groupName, opts);
  }

  async detachWithReplacement(groupName: string, instanceId: string): Promise<DetachResult> {
    this.journal.write(SERVICE.autoScaling, 'DetachInstances', detachInstancesInput(groupName, instanceId));
    return 'planned';
  }

  async terminateWithReplacement(instanceId: string): Promise<DetachResult> {
    this.journal.write(SERVICE.autoScaling, 'TerminateInstanceInAutoScalingGroup', terminateInstanceInput(instanceId));
    return 'planned';
  }
}

class PlannedEcs implements EcsPort {
  constructor(
    private readonly reads: EcsPort,
    private readonly journal: PlanJournal,
  ) {}

  findContainerInstance(instanceId: string, opts?: CallOptions): Promise<ContainerInstanceRef | null> {
    return this.reads.findContainerInstance(instanceId, opts);
  }

  async drain(ref: ContainerInstanceRef): Promise<'planned'> {
    this.journal.write(SERVICE.ecs, 'UpdateContainerInstancesState', drainingInput(ref));
    return 'planned';
  }
}

export interface ReadOnlyEventStoreOptions {
  /** A guarded client: the store only reads through it. */
  client: DynamoDBDocumentClient;
  tableName: string;
  retentionDays: number;
  journal: PlanJournal;
  now?: () => Date;
}

type Item = Record<string, unknown>;

/**
 * The records table, read but never written: claims are answered from the items as they are,
 * and each write the real store would make goes into the plan as a summary of what it would
 * write (keys, statuses, leases), not its full input.
 */
export class ReadOnlyEventStore implements EventStore {
  private readonly client: DynamoDBDocumentClient;
  private readonly tableName: string;
  private readonly journal: PlanJournal;
  private readonly now: () => Date;
  private readonly records: DynamoEventStore;
  /** Set once a read found no table: nothing is created in a dry run. */
  tableMissing = false;

  constructor(opts: ReadOnlyEventStoreOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.journal = opts.journal;
    this.now = opts.now ?? (() => new Date());
    this.records = new DynamoEventStore({
      client: opts.client,
      tableName: opts.tableName,
      retentionDays: opts.retentionDays,
      now: this.now,
    });
  }

  /**
   * Reads the keys the real claim transaction would put, in its order, and finds the holder
   * the same way: the first key whose item fails the transaction's condition.
   */
  async claim(keys: ClaimKeys, leaseUntil: Date, opts: CallOptions = {}): Promise<ClaimResult> {
    const event = itemKey.event(keys.eventId);
    const signal = signalKey(keys);
    const action = keys.actsOnInstance ? itemKey.action(keys.instanceId) : undefined;
    const [eventItem, signalItem, actionItem] = await Promise.all([
      this.read(event, opts),
      this.read(signal, opts),
      action ? this.read(action, opts) : Promise.resolve(undefined),
    ]);
    const nowIso = this.now().toISOString();
    const holder =
      eventItem && isHeld(eventItem, nowIso)
        ? { heldBy: text(eventItem, 'eventId') ?? keys.eventId, status: statusOf(eventItem) }
        : signalItem && isHeld(signalItem, nowIso)
          ? { heldBy: text(signalItem, 'owner') ?? keys.eventId, status: statusOf(signalItem) }
          : actionItem && isActionHeld(actionItem, nowIso)
            ? { heldBy: text(actionItem, 'owner') ?? keys.eventId, status: statusOf(actionItem) }
            : undefined;
    const put = (pk: string) => ({ Put: pk, status: CLAIM_STATUS.inProgress, leaseUntil: leaseUntil.toISOString() });
    const note = this.tableMissing
      ? 'claim; the table does not exist, so the real claim would fail'
      : holder
        ? `claim; would be cancelled: held by ${holder.heldBy} (${holder.status})`
        : 'claim';
    this.journal.write(
      SERVICE.dynamo,
      'TransactWriteItems',
      { TableName: this.tableName, items: [event, signal, ...(action ? [action] : [])].map(put) },
      note,
    );
    return holder ? { claimed: false, ...holder } : { claimed: true };
  }

  async finish(keys: ClaimKeys, record: ResponseRecord): Promise<void> {
    const status = record.outcome === 'failed' ? CLAIM_STATUS.failed : CLAIM_STATUS.completed;
    // As DynamoEventStore.finish, with the planned actions counted as done: the real run makes them.
    const acted = record.actions.some(
      (a) => a.action !== 'lookup' && (a.result === 'ok' || a.result === 'not-registered' || a.result === 'planned'),
    );
    const finished = Date.parse(record.finishedAt);
    const actionUntil = new Date((Number.isNaN(finished) ? this.now().getTime() : finished) + ACTION_WINDOW_MS);
    const pointer = (instanceId: string, role: InstancePointer['role']) => ({
      Put: itemKey.instance(instanceId),
      eventId: keys.eventId,
      role,
    });
    this.journal.write(
      SERVICE.dynamo,
      'TransactWriteItems',
      {
        TableName: this.tableName,
        items: [
          { Update: itemKey.event(keys.eventId), status, outcome: record.outcome, set: 'every field of the record' },
          { Update: signalKey(keys), status },
          ...(keys.actsOnInstance
            ? [
                {
                  Update: itemKey.action(keys.instanceId),
                  status: status === CLAIM_STATUS.completed && !acted ? CLAIM_STATUS.released : status,
                  leaseUntil: actionUntil.toISOString(),
                },
              ]
            : []),
          ...(acted && record.instanceId ? [pointer(record.instanceId, 'interrupted')] : []),
          ...(record.replacement ? [pointer(record.replacement.instanceId, 'replacement')] : []),
        ],
      },
      'record the response and release the claims',
    );
  }

  async noteDuplicate(originalEventId: string, duplicateEventId: string, at: string): Promise<void> {
    this.journal.write(
      SERVICE.dynamo,
      'UpdateItem',
      {
        TableName: this.tableName,
        Update: itemKey.event(originalEventId),
        add: { deliveries: 1, duplicateEventIds: [duplicateEventId] },
        set: { lastDuplicateAt: at },
        condition: 'attribute_exists(pk)',
      },
      'note the repeated delivery on the original record',
    );
  }

  async recordUnclaimed(record: ResponseRecord): Promise<void> {
    this.journal.write(
      SERVICE.dynamo,
      'PutItem',
      {
        TableName: this.tableName,
        Put: itemKey.event(record.eventId),
        status: unclaimedStatus(record.outcome),
        outcome: record.outcome,
        condition: 'attribute_not_exists(pk)',
      },
      'record the event; never overwrites an existing record',
    );
  }

  history(query: HistoryQuery): Promise<ResponseRecord[]> {
    return this.records.history(query);
  }

  instancePointers(instanceIds: readonly string[]): Promise<Map<string, InstancePointer>> {
    return this.records.instancePointers(instanceIds);
  }

  /** Reads the pointer as the real store does; the timeline update it would make goes into the plan. */
  async appendTimeline(
    instanceId: string,
    build: (pointer: InstancePointer) => TimelineAddition | null,
  ): Promise<{ eventId: string; entry: TimelineEntry } | null> {
    const pointerKey = itemKey.instance(instanceId);
    const found = await this.read(pointerKey, {});
    const pointer = found ? pointerFrom(found) : undefined;
    if (!pointer) return null;
    const eventId = pointer.eventId;
    const built = build(pointer);
    if (!built) return null;
    const { entry, noticeMs, msToHealthy, warningTime, healthyAt } = built;
    if (warningTime) {
      this.journal.write(
        SERVICE.dynamo,
        'UpdateItem',
        { TableName: this.tableName, Update: pointerKey, set: { warningTime }, condition: 'unless already set' },
        'remember on the pointer when the warning came',
      );
    }
    this.journal.write(
      SERVICE.dynamo,
      'UpdateItem',
      {
        TableName: this.tableName,
        Update: itemKey.event(eventId),
        set: {
          [`timeline.${entry.event}`]: { at: entry.at, ...(entry.detail !== undefined ? { detail: entry.detail } : {}) },
          ...(noticeMs !== undefined ? { noticeMs } : {}),
          ...(msToHealthy !== undefined ? { msToHealthy } : {}),
        },
        condition: 'attribute_exists(timeline)',
      },
      'add the milestone to the timeline unless it is there already',
    );
    if (healthyAt) {
      this.journal.write(
        SERVICE.dynamo,
        'UpdateItem',
        {
          TableName: this.tableName,
          Update: pointerKey,
          set: { healthyAt },
          condition: 'unless already set; only if the pointer exists',
        },
        'remember on the pointer that the replacement was seen healthy',
      );
    }
    return { eventId, entry };
  }

  /** One item, strongly consistent; a missing table reads as no item (and is remembered). */
  private async read(pk: string, opts: CallOptions): Promise<Item | undefined> {
    try {
      const out = await this.client.send(
        new GetCommand({ TableName: this.tableName, Key: { pk }, ConsistentRead: true }),
        opts,
      );
      return out.Item;
    } catch (err) {
      if (err instanceof Error && err.name === 'ResourceNotFoundException') {
        this.tableMissing = true;
        return undefined;
      }
      throw err;
    }
  }
}

function text(item: Item, name: string): string | undefined {
  const value = item[name];
  return typeof value === 'string' ? value : undefined;
}

function statusOf(item: Item): string {
  return text(item, 'status') ?? 'UNKNOWN';
}
