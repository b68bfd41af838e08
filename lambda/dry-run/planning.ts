// The dry run's adapters: the real ones for every read, stand-ins for every write
// (planned-adapters.ts, which observe mode uses too). A stand-in sends nothing; it puts the
// call the real adapter would make into the plan (for the fleet, with the very input the real
// adapter builds) and answers 'planned'. The store reads the claim
// keys and answers as the real store would, so an event that was already handled shows as the
// duplicate it would be.
import type { AwsClients } from '../aws/clients';
import type { ResponseRecord } from '../core/model';
import type { Log } from '../log';
import type { ResponderDeps } from '../response/deps';
import { createResponderDeps, type ResponderSettings } from '../wiring';
import { PlanJournal, guardClients, type PlanStep } from './guard';
import { LiveTargetLookup, liveLookupNote } from './live-targets';
import { PlannedAutoScaling, PlannedEcs, PlannedLoadBalancing, PlannedShutdown } from './planned-adapters';
import { ReadOnlyEventStore, actingOutcome } from './read-only-store';

export interface DryRun {
  /** What respond() needs: guarded clients under the real readers, stand-ins for every write. */
  deps: ResponderDeps;
  /** The guarded clients the readers use: reads only, each one journaled. */
  clients: AwsClients;
  /** The calls so far: reads made and writes planned, in order. */
  plan(): PlanStep[];
  /** Notes for the record: what the dry run did differently from the real response. */
  notes(): string[];
}

export interface DryRunMode {
  /**
   * There is no target index to read (no table: the stack is not deployed): find the
   * instance's registrations by reading ELBv2 live (LiveTargetLookup), at this many ELBv2
   * describe calls per second.
   */
  liveTargets?: { describeCallsPerSecond: number };
}

/** One dry run (one event): a fresh plan over the same clients. */
export function createDryRun(
  clients: AwsClients,
  settings: ResponderSettings,
  log: Log,
  now?: () => number,
  mode: DryRunMode = {},
): DryRun {
  const journal = new PlanJournal();
  const readOnly = guardClients(clients, journal);
  const real = createResponderDeps(readOnly, settings, log, now);
  const live = mode.liveTargets
    ? new LiveTargetLookup({
        elbv2: readOnly.elbv2,
        ec2: readOnly.ec2,
        describeCallsPerSecond: mode.liveTargets.describeCallsPerSecond,
        ...(now ? { now } : {}),
      })
    : undefined;
  return {
    clients: readOnly,
    notes: () => (live && live.stats.describeInstancesCalls > 0 ? [liveLookupNote(live.stats)] : []),
    deps: {
      ...real,
      ...(live ? { targetIndex: live } : {}),
      autoScaling: new PlannedAutoScaling(real.autoScaling, journal),
      loadBalancing: new PlannedLoadBalancing(journal),
      ...(real.ecs ? { ecs: new PlannedEcs(real.ecs, journal) } : {}),
      ...(real.shutdown ? { shutdown: new PlannedShutdown(journal) } : {}),
      store: new ReadOnlyEventStore({
        client: readOnly.dynamo,
        tableName: settings.tableName,
        journal,
        ...(now ? { now: () => new Date(now()) } : {}),
      }),
    },
    plan: () => journal.steps,
  };
}

/** After a detach or terminate the real response waits for the replacement in its group; a dry run leaves none. */
const VERIFICATION_NOTE =
  "dry run: after its record, the real response also waits in the group for the replacement (2 UpdateItems), " +
  "which the replacement's pending state change or the next index refresh names; not done here";

/** The record as a dry run reports it: the one an acting responder would write (actingOutcome), marked dryRun. */
export function dryRunRecord(record: ResponseRecord): ResponseRecord {
  const replaces = record.actions.some(
    (a) => (a.action === 'detach' || a.action === 'terminate-in-group') && a.result === 'planned',
  );
  return {
    ...record,
    outcome: actingOutcome(record.outcome),
    dryRun: true,
    ...(replaces ? { notes: [...(record.notes ?? []), VERIFICATION_NOTE] } : {}),
  };
}
