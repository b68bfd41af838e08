// Dispatch on source, then detail-type. Supporting another detail-type is one file that
// defines its kind and one line in EVENT_KINDS.
import { type EventKind } from './envelope';
import { show } from './problems';
import { spotInterruptionWarning } from './spot-interruption-warning';

export const EVENT_KINDS: readonly EventKind[] = [spotInterruptionWarning];

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
