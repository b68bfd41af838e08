// Dispatch on source, then detail-type. Supporting another detail-type is one file that
// defines its kind and one line in EVENT_KINDS.
import { type EventKind } from './envelope';
import { instanceStateChange } from './instance-state-change';
import { show } from './problems';
import { rebalanceRecommendation } from './rebalance-recommendation';
import { shutdownCommandStatus } from './shutdown-command-status';
import { spotInterruptionWarning } from './spot-interruption-warning';

export const EVENT_KINDS: readonly EventKind[] = [spotInterruptionWarning, rebalanceRecommendation, instanceStateChange, shutdownCommandStatus];

/** Every detail-type parseEvent accepts, e.g. to check the stack's rules; EVENT_KINDS gives each one's source. */
export const SUPPORTED_DETAIL_TYPES: readonly string[] = EVENT_KINDS.map((kind) => kind.detailType);

const bySource = new Map<string, Map<string, EventKind>>();
for (const kind of EVENT_KINDS) {
  const byDetailType = bySource.get(kind.source) ?? new Map<string, EventKind>();
  byDetailType.set(kind.detailType, kind);
  bySource.set(kind.source, byDetailType);
}

/** The kind for this source and detail-type, or why there is none. */
export function findKind(source: string, detailType: string): EventKind | { unsupported: string } {
  const byDetailType = bySource.get(source);
  if (!byDetailType) {
    const known = [...bySource.keys()].map(show).join(', ');
    return { unsupported: `source ${show(source)} is not supported (expected ${known})` };
  }
  return byDetailType.get(detailType) ?? { unsupported: `unsupported detail-type ${show(detailType)}` };
}
