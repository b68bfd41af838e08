// Durations as people read them in records and CLI output. Written by hand: pretty-ms does
// this, but it is ESM-only and no dependency of ours, and records need only these few units.

/**
 * `ms` (a non-negative number of milliseconds) as the two largest units that matter:
 * "850 ms", "12.5 s", "4 min 10 s", "3 h 20 min", "2 d 5 h". Rounds down within a unit.
 * Throws RangeError for a negative or non-finite value.
 */
export function humanDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`humanDuration: expected a non-negative number of ms, got ${ms}`);
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(Math.floor(ms / 100) / 10).toFixed(1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 7_200) return `${Math.floor(s / 60)} min ${s % 60} s`;
  const min = Math.floor(s / 60);
  if (min < 2_880) return `${Math.floor(min / 60)} h ${min % 60} min`;
  const h = Math.floor(min / 60);
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}
