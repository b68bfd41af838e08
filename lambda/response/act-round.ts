// The acting round of a batch, after its claims are won: each event's view of the merged reads,
// its plan, one merged execution round for the whole batch, and, for events planned with the
// index's group facts, the fresh DescribeAutoScalingGroups check that ran beside acting (and one
// more round of deregistrations when it finds target groups the index did not know).
// lambda/responder.ts claims before and records after; every decision is core/response-plan.ts's.
import { errorInfo } from '../aws/clients';
import { DEFAULT_BEHAVIOUR } from '../core/behaviour';
import { groupDrift } from '../core/group-drift';
import type { AsgFacts, InterruptionNotice, ResponseRecord } from '../core/model';
import { planGroupDeregistrations, timerMs, type ResponseWindow } from '../core/plan';
import type { CallOptions } from '../core/ports';
import { groupToRead, planResponse, type ActPlan, type Lookup, type ResponseFacts, type SettledLookups } from '../core/response-plan';
import type { ResponderDeps } from './deps';
import { executeBatch, type Executed } from './execute';
import { readGroups, settledFor, type PendingLookups } from './lookups';
import type { PlanRun } from './merge';
import { actedFields, skippedFields } from './records';
import type { GroupWait } from './replacement-waits';

/** What the acting round needs of one notice whose claim was won. */
export interface ClaimedNotice {
  signal: InterruptionNotice;
  window: ResponseWindow;
  /** The record as opened (its detail-type names the signal of a replacement wait). */
  base: ResponseRecord;
}

/** The budget of a merged call (an abort signal): the latest deadline among the events it serves. */
export function latestBudget(flights: readonly ClaimedNotice[], now: () => number): CallOptions {
  const deadline = Math.max(...flights.map((f) => f.window.deadline));
  return { abortSignal: AbortSignal.timeout(timerMs(deadline, now())) };
}

/** An act plan on its way to execution, and what the record needs of it. */
interface Acting {
  flight: ClaimedNotice;
  plan: ActPlan;
  /** The group facts came from the index: the fresh read is a check, run beside acting. */
  indexedGroup: AsgFacts | null;
  indexRefreshedAt: string | undefined;
}

/**
 * After the claims are won: each event's view of the merged reads, its plan, one merged
 * execution round for the batch, the fresh group check; the record's fields, per event.
 * Never rejects: an unexpected error fails only the event it came from.
 */
export async function lookUpPlanAct(
  flights: readonly ClaimedNotice[],
  pending: PendingLookups,
  deps: ResponderDeps,
): Promise<{ fields: Array<Partial<ResponseRecord>>; waits: Array<GroupWait | undefined> }> {
  const now = deps.now ?? Date.now;
  const behaviour = deps.behaviour ?? DEFAULT_BEHAVIOUR;
  const fields: Array<Partial<ResponseRecord>> = new Array(flights.length);
  const waits: Array<GroupWait | undefined> = new Array(flights.length);
  const fail = (k: number, err: unknown) => {
    const info = errorInfo(err);
    fields[k] = { outcome: 'failed', reason: `${info.name}: ${info.message}` };
  };
  const settled = await Promise.all(flights.map((f) => settledFor(pending, f.signal.instanceId)));

  // One DescribeAutoScalingGroups for every group of the batch: what the plan waits for when
  // the index has no facts of the group, a check run beside acting when it has.
  const groupNames = settled.flatMap((s) => groupToRead(s) ?? []);
  const groupsRead = groupNames.length > 0 ? readGroups(groupNames, deps, latestBudget(flights, now)) : Promise.resolve(new Map<string, Lookup<AsgFacts | null>>());

  const plan = (k: number, group: Lookup<AsgFacts | null>, indexedGroup: AsgFacts | null): Acting | null => {
    const flight = flights[k] as ClaimedNotice;
    const s = settled[k] as SettledLookups;
    try {
      const facts: ResponseFacts = { ...s, group };
      const planned = planResponse(flight.signal, facts, behaviour, flight.window);
      if (planned.kind === 'skip') {
        fields[k] = skippedFields(flight.signal, planned);
        return null;
      }
      return { flight, plan: planned, indexedGroup, indexRefreshedAt: s.index.ok ? s.index.value.refreshedAt : undefined };
    } catch (err) {
      fail(k, err);
      return null;
    }
  };

  const indexed: number[] = [];
  const waiting: number[] = [];
  settled.forEach((s, k) => {
    const groupName = groupToRead(s);
    if (!groupName) return;
    const fromIndex = s.index.ok ? s.index.value.group : undefined;
    (fromIndex?.groupName === groupName ? indexed : waiting).push(k);
  });
  const withoutGroup = settled.map((_, k) => k).filter((k) => !indexed.includes(k) && !waiting.includes(k));

  const act = async (ks: number[], planOne: (k: number) => Acting | null): Promise<void> => {
    const acting: Array<{ k: number; acting: Acting }> = [];
    for (const k of ks) {
      const a = planOne(k);
      if (a) acting.push({ k, acting: a });
    }
    if (acting.length === 0) return;
    const executed = await executeBatch(acting.map(({ acting: a }) => run(a.flight, a.plan)), deps);
    const checked = await checkIndexedGroups(acting.map((a) => a.acting), executed, groupsRead, deps);
    const actedAt = now();
    acting.forEach(({ k, acting: a }, j) => {
      try {
        const done = checked[j] as Checked;
        fields[k] = actedFields(a.flight.signal, { ...a.plan, group: done.group, notes: [...a.plan.notes, ...done.notes] }, {
          ...done.executed,
          actedAt,
          replacement: null,
        });
        // The replacement is not waited for here (issue 8, item 4): once the record is written,
        // the response waits in its group, and the replacement's own state change names it. Its
        // members must be known to tell the replacement from them: planned from the index, only
        // the fresh check lists them (the index keeps no member list).
        const before = a.indexedGroup ? (done.groupChecked ? done.group : null) : a.plan.group;
        if (done.executed.replaced?.result === 'ok' && before) {
          waits[k] = {
            groupName: before.groupName,
            known: before.instanceIds,
            wait: {
              eventId: a.flight.signal.eventId,
              instanceId: a.flight.signal.instanceId,
              signalDetailType: a.flight.base.detailType ?? '',
              signalTime: a.flight.signal.eventTime,
            },
          };
        }
      } catch (err) {
        fail(k, err);
      }
    });
  };

  const indexedGroupOf = (k: number): AsgFacts => {
    const s = settled[k] as SettledLookups;
    return (s.index.ok ? s.index.value.group : undefined) as AsgFacts;
  };
  await Promise.all([
    // Round 2 at once: planned with the indexed group facts, or with no group at all.
    act([...indexed, ...withoutGroup], (k) =>
      indexed.includes(k)
        ? plan(k, { ok: true, value: indexedGroupOf(k) }, indexedGroupOf(k))
        : plan(k, { ok: true, value: null }, null),
    ),
    // Without indexed facts the plan waits for the group (today's path).
    waiting.length > 0
      ? groupsRead.then((groups) =>
          act(waiting, (k) => plan(k, groups.get(groupToRead(settled[k] as SettledLookups) as string) ?? missingGroup(), null)),
        )
      : Promise.resolve(),
  ]);
  return { fields, waits };
}

interface Checked {
  executed: Executed;
  group: AsgFacts | null;
  /** `group` is the fresh DescribeAutoScalingGroups read (with its members), not the index's facts. */
  groupChecked: boolean;
  notes: string[];
}

/**
 * For the events planned with the index's group facts: the fresh read (already running beside
 * acting), the differences as notes, and, when the fresh read lists target groups the snapshot
 * did not, one more merged round of deregistrations from them. A failed check is a note: the
 * response acted on facts at most one refresh old.
 */
async function checkIndexedGroups(
  acting: readonly Acting[],
  executed: readonly Executed[],
  groupsRead: Promise<Map<string, Lookup<AsgFacts | null>>>,
  deps: ResponderDeps,
): Promise<Checked[]> {
  if (!acting.some((a) => a.indexedGroup)) {
    return acting.map((a, j) => ({ executed: executed[j] as Executed, group: a.plan.group, groupChecked: false, notes: [] }));
  }
  const groups = await groupsRead;
  const checked: Checked[] = acting.map((a, j) => {
    const done = executed[j] as Executed;
    if (!a.indexedGroup) return { executed: done, group: a.plan.group, groupChecked: false, notes: [] };
    const fresh = groups.get(a.indexedGroup.groupName);
    if (!fresh?.ok) {
      const message = fresh ? (fresh.failure.error?.message ?? 'failed') : 'not read';
      return {
        executed: done,
        group: a.plan.group,
        groupChecked: false,
        notes: [`acted on the index's facts of group ${a.indexedGroup.groupName}; the fresh DescribeAutoScalingGroups check failed (${message})`],
      };
    }
    if (!fresh.value) {
      return { executed: done, group: a.plan.group, groupChecked: false, notes: [`group ${a.indexedGroup.groupName} no longer exists (fresh DescribeAutoScalingGroups)`] };
    }
    return { executed: done, group: fresh.value, groupChecked: true, notes: groupDrift(a.indexedGroup, fresh.value, a.indexRefreshedAt).notes };
  });

  // Round 3, only when needed: the target groups the snapshot did not know.
  const extra = acting.flatMap((a, j) => {
    const group = (checked[j] as Checked).group;
    if (!a.indexedGroup || !group) return [];
    const added = groupDrift(a.indexedGroup, group, a.indexRefreshedAt).addedTargetGroups;
    const deregistrations = planGroupDeregistrations(
      a.flight.signal.instanceId,
      { ...group, targetGroupArns: added },
      a.plan.deregistrations,
    );
    return deregistrations.length > 0 ? [{ j, run: { ...run(a.flight, a.plan), plan: { deregistrations, replacement: null, ecsDrain: null } } }] : [];
  });
  if (extra.length > 0) {
    const more = await executeBatch(extra.map((e) => e.run), deps);
    extra.forEach((e, n) => {
      const done = checked[e.j] as Checked;
      done.executed = { ...done.executed, deregistered: [...done.executed.deregistered, ...(more[n] as Executed).deregistered] };
    });
  }
  return checked;
}


function run(flight: ClaimedNotice, plan: ActPlan): PlanRun {
  return { instanceId: flight.signal.instanceId, plan, deadline: flight.window.deadline };
}

function missingGroup(): Lookup<AsgFacts | null> {
  return { ok: true, value: null };
}
