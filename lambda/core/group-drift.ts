// What changed in an Auto Scaling group between the index's snapshot of it and a fresh read:
// a response that planned with the indexed facts checks them while it acts. Pure.
import type { AsgFacts } from './model';

export interface GroupDrift {
  /** Target groups the fresh read lists and the snapshot did not: still to deregister from. */
  addedTargetGroups: string[];
  /** One sentence per difference, for the record's notes; empty when nothing changed. */
  notes: string[];
}

/**
 * Compares the facts a plan used (`indexed`, seen at `refreshedAt`) with the fresh ones: target
 * groups added or removed, tags added, changed or removed, terminating hooks and Capacity
 * Rebalancing. The instance list and desired capacity are not compared: they change with every
 * launch and decide nothing.
 */
export function groupDrift(indexed: AsgFacts, fresh: AsgFacts, refreshedAt: string | undefined): GroupDrift {
  const since = `since the index saw group ${indexed.groupName}${refreshedAt ? ` (${refreshedAt})` : ''}`;
  const notes: string[] = [];
  const addedTargetGroups = fresh.targetGroupArns.filter((arn) => !indexed.targetGroupArns.includes(arn));
  const removedTargetGroups = indexed.targetGroupArns.filter((arn) => !fresh.targetGroupArns.includes(arn));
  if (addedTargetGroups.length > 0) notes.push(`target groups added ${since}: ${addedTargetGroups.join(', ')}; deregistered from them too`);
  if (removedTargetGroups.length > 0) notes.push(`target groups removed ${since}: ${removedTargetGroups.join(', ')}`);
  const keys = [...new Set([...Object.keys(indexed.tags), ...Object.keys(fresh.tags)])].sort();
  const changedTags = keys.filter((k) => indexed.tags[k] !== fresh.tags[k]);
  if (changedTags.length > 0) {
    notes.push(
      `tags changed ${since}: ${changedTags.map((k) => `${k} ${show(indexed.tags[k])} -> ${show(fresh.tags[k])}`).join(', ')}`,
    );
  }
  const hooks = (facts: AsgFacts) => [...facts.terminatingHooks].sort().join(', ') || 'none';
  if (hooks(indexed) !== hooks(fresh)) notes.push(`terminating lifecycle hooks changed ${since}: ${hooks(indexed)} -> ${hooks(fresh)}`);
  if (indexed.capacityRebalance !== fresh.capacityRebalance) {
    notes.push(`Capacity Rebalancing turned ${fresh.capacityRebalance ? 'on' : 'off'} ${since}`);
  }
  return { addedTargetGroups, notes };
}

function show(value: string | undefined): string {
  return value === undefined ? '(absent)' : JSON.stringify(value);
}
