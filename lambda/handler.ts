// Lambda entry: configuration, SDK clients and adapters are built once per container, at
// cold start; a missing setting fails here, before any event is half-handled.
import { createAwsClients } from './aws/clients';
import { loadResponderConfig } from './config';
import { powertoolsLog } from './log';
import { makeHandler } from './make-handler';
import { createResponderDeps } from './wiring';

const config = loadResponderConfig();

export const handler = makeHandler(
  createResponderDeps(
    createAwsClients({ pacing: config.apiPacing }),
    {
      tableName: config.tableName,
      recordRetentionDays: config.recordRetentionDays,
      policy: { accounts: config.acceptedAccounts, regions: config.acceptedRegions },
      behaviour: { rebalanceAction: config.rebalanceAction, tagPolicy: config.tagPolicy },
      ecsClusters: config.ecsClusters,
    },
    powertoolsLog(),
  ),
);
