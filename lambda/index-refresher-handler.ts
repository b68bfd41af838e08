// Lambda entry of the index refresher. Built on the first invocation and kept for the
// container's life. Not at import, so the tests can import it without the Lambda's
// environment; a missing variable still fails the very first invocation.
import { createAwsClients } from './aws/clients';
import { countClientThrottles } from './aws/throttles';
import { loadIndexRefresherConfig } from './config';
import { makeIndexRefresher, type RefreshSummary } from './index-refresher';
import { powertoolsLog } from './log';
import { powertoolsMetrics } from './response/metrics';
import { createIndexRefresherDeps } from './wiring';

let refresh: ReturnType<typeof makeIndexRefresher> | undefined;

/** The part of Lambda's context the refresher reads: its deadline and its request id (the lease owner). */
export interface RefresherContext {
  getRemainingTimeInMillis(): number;
  awsRequestId: string;
}

export async function handler(_event?: unknown, context?: RefresherContext): Promise<RefreshSummary> {
  if (!refresh) {
    const config = loadIndexRefresherConfig();
    const clients = createAwsClients();
    const metrics = powertoolsMetrics({ throttles: countClientThrottles(clients) });
    refresh = makeIndexRefresher({ ...createIndexRefresherDeps(clients, config, powertoolsLog()), metrics });
  }
  return refresh(context ? { remainingMs: () => context.getRemainingTimeInMillis(), owner: context.awsRequestId } : {});
}
