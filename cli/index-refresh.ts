// `spot-responder index refresh`: what the scheduled refresher does, run now, against a real
// account (the deployed stack's table) or an emulator. It writes only the target index in the
// records table (and replacement-healthy milestones), never the fleet: safe on a real account.
import type { AwsClients } from '../lambda/aws/clients';
import { DEFAULTS } from '../lambda/contract';
import { makeIndexRefresher, type RefreshSummary } from '../lambda/index-refresher';
import { silentLog, type Log } from '../lambda/log';
import { createIndexRefresherDeps } from '../lambda/wiring';
import { clientsFor, isEmulator, type AwsTarget } from './aws-target';
import { ensureTable } from './local-table';

export interface IndexRefreshOptions extends AwsTarget {
  table: string;
  /** ELBv2 describe calls per second; default the refresher's (4) on AWS, 50 on an emulator. */
  describeCallsPerSecond?: number;
  log?: Log;
  /** Progress lines (stderr): target groups described so far, every `progressEvery` groups. */
  progress?: (line: string) => void;
  progressEvery?: number;
}

/** Emulator calls cost nothing; a real account's ELBv2 bucket is shared with everything else. */
const EMULATOR_CALLS_PER_SECOND = 50;

/**
 * Rebuild the target index now. On an emulator the table is created if missing; on AWS it must
 * exist (the deployed stack's). Raises whatever the scan or the write raised (the previous
 * complete snapshot stays in use, as when the scheduled refresh fails).
 */
export async function refreshIndexNow(opts: IndexRefreshOptions, clients: AwsClients = clientsFor(opts)): Promise<RefreshSummary> {
  const emulator = isEmulator(opts);
  if (emulator) await ensureTable(clients.dynamoRaw, opts.table);
  if (opts.progress) reportProgress(clients, opts.progress, opts.progressEvery ?? 25);
  const refresh = makeIndexRefresher(
    createIndexRefresherDeps(
      clients,
      {
        tableName: opts.table,
        refreshIntervalMinutes: DEFAULTS.indexRefreshMinutes,
        describeCallsPerSecond:
          opts.describeCallsPerSecond ?? (emulator ? EMULATOR_CALLS_PER_SECOND : DEFAULTS.indexDescribeCallsPerSecond),
      },
      opts.log ?? silentLog,
    ),
  );
  return refresh();
}

/**
 * Counts DescribeTargetGroups answers (how many groups there are) and DescribeTargetHealth calls
 * (one per group described) with a middleware on the ELBv2 client: the scan itself has no
 * progress hook, and a refresh of hundreds of groups at 4 calls per second takes minutes.
 */
function reportProgress(clients: AwsClients, print: (line: string) => void, every: number): void {
  let groups = 0;
  let described = 0;
  clients.elbv2.middlewareStack.add(
    (next, context) => async (args) => {
      const result = await next(args);
      if (context.commandName === 'DescribeTargetGroupsCommand') {
        groups += ((result.output as { TargetGroups?: unknown[] }).TargetGroups ?? []).length;
        print(`listing target groups: ${groups} so far`);
      } else if (context.commandName === 'DescribeTargetHealthCommand') {
        described++;
        if (described % every === 0 || described === groups) print(`described ${described} of ${groups} target groups`);
      }
      return result;
    },
    { step: 'initialize', name: 'spotResponderRefreshProgress' },
  );
}

/** The summary for people: what was found, what was left out and why, what it cost. */
export function formatRefreshSummary(table: string, s: RefreshSummary): string {
  const registrations = s.instanceTargets + s.ipTargets;
  const lines = [
    `target index refreshed in ${(s.durationMs / 1000).toFixed(1)} s (table ${table}, snapshot ${s.snapshotAt})`,
    `  ${s.targetGroups} target groups scanned` +
      (s.skippedTargetGroups ? `, ${s.skippedTargetGroups} skipped (lambda or alb targets: no instance behind them)` : '') +
      (s.vanishedTargetGroups ? `, ${s.vanishedTargetGroups} deleted during the scan` : ''),
    `  ${registrations} registrations of ${s.instances} instances indexed (${s.instanceTargets} by instance id, ${s.ipTargets} by IP)`,
  ];
  if (s.unresolvedIpTargets) lines.push(`  ${s.unresolvedIpTargets} IP targets on no instance of this account (not indexed)`);
  if (s.drainingTargets) lines.push(`  ${s.drainingTargets} draining targets left out (already leaving)`);
  if (s.replacementsNamed) lines.push(`  ${s.replacementsNamed} replacements named that no state change had named`);
  if (s.replacementsVerified) lines.push(`  ${s.replacementsVerified} replacements seen healthy (replacement-healthy recorded)`);
  if (s.verificationErrors) lines.push(`  ${s.verificationErrors} replacement checks failed (the next refresh retries)`);
  lines.push(
    `  cost: ${s.elbv2Calls} ELBv2 and ${s.ec2Calls} EC2 describe calls` +
      (s.rateLimitWaits ? `, ${s.rateLimitWaits} waits to stay under the rate limit` : ''),
  );
  return lines.join('\n');
}
