// Scheduled handler: rebuild the target index (see aws/target-index.ts). Thin on purpose:
// the walk is in aws/target-scan.ts, the write in aws/target-index.ts. A failure throws, so
// the invocation counts as an error and the refresher's alarm fires; the index keeps the
// previous complete snapshot meanwhile.
import type { EC2Client } from '@aws-sdk/client-ec2';
import type { ElasticLoadBalancingV2Client } from '@aws-sdk/client-elastic-load-balancing-v2';
import type { TargetIndexWriter } from './core/ports';
import { createAwsClients, errorInfo } from './aws/clients';
import { DynamoTargetIndex } from './aws/target-index';
import { scanTargetRegistrations, type ScanStats } from './aws/target-scan';
import { loadIndexRefresherConfig } from './config';
import { powertoolsLog, type Log } from './log';

export interface IndexRefresherDeps {
  elbv2: ElasticLoadBalancingV2Client;
  ec2: EC2Client;
  index: TargetIndexWriter;
  callsPerSecond: number;
  log: Log;
  now?: () => number;
}

export interface RefreshSummary extends ScanStats {
  snapshotAt: string;
  durationMs: number;
}

export function makeIndexRefresher(deps: IndexRefresherDeps): () => Promise<RefreshSummary> {
  const now = deps.now ?? Date.now;
  return async () => {
    const started = now();
    const snapshotAt = new Date(started).toISOString();
    try {
      const { byInstance, stats } = await scanTargetRegistrations({
        elbv2: deps.elbv2,
        ec2: deps.ec2,
        callsPerSecond: deps.callsPerSecond,
        log: deps.log,
      });
      await deps.index.writeSnapshot(byInstance, snapshotAt);
      const summary: RefreshSummary = { ...stats, snapshotAt, durationMs: now() - started };
      deps.log.info('target index refreshed', { ...summary });
      return summary;
    } catch (err) {
      deps.log.error('target index refresh failed', { snapshotAt, durationMs: now() - started, error: errorInfo(err) });
      throw err;
    }
  };
}

// Built on the first invocation and kept for the container's life. Not at import, so the CLI
// and the tests can import the factory without the Lambda's environment; a missing variable
// still fails the very first invocation.
let refresh: (() => Promise<RefreshSummary>) | undefined;

export async function handler(): Promise<RefreshSummary> {
  if (!refresh) {
    const config = loadIndexRefresherConfig();
    const clients = createAwsClients();
    refresh = makeIndexRefresher({
      elbv2: clients.elbv2,
      ec2: clients.ec2,
      index: new DynamoTargetIndex({
        client: clients.dynamo,
        tableName: config.tableName,
        refreshIntervalMinutes: config.refreshIntervalMinutes,
      }),
      callsPerSecond: config.describeCallsPerSecond,
      log: powertoolsLog(),
    });
  }
  return refresh();
}
