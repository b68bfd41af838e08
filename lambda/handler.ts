// Lambda entry: configuration, SDK clients and adapters are built once per container, at
// cold start; a missing setting fails here, before any event is half-handled.
import { SQSClient } from '@aws-sdk/client-sqs';
import { commonConfig, createAwsClients } from './aws/clients';
import { SqsRedelivery } from './aws/sqs-redelivery';
import { countClientThrottles } from './aws/throttles';
import { loadResponderConfig } from './config';
import { powertoolsLog } from './log';
import { makeHandler } from './make-handler';
import { powertoolsMetrics } from './response/metrics';
import { createResponderDeps } from './wiring';

const config = loadResponderConfig();
const clients = createAwsClients({ pacing: config.apiPacing });
const metrics = powertoolsMetrics({ throttles: countClientThrottles(clients) });

export const handler = makeHandler({
  metrics,
  redelivery: new SqsRedelivery(new SQSClient(commonConfig({}))),
  ...createResponderDeps(
    clients,
    {
      tableName: config.tableName,
      recordRetentionDays: config.recordRetentionDays,
      policy: { accounts: config.acceptedAccounts, regions: config.acceptedRegions },
      behaviour: {
        rebalanceAction: config.rebalanceAction,
        tagPolicy: config.tagPolicy,
        scope: config.scope,
        ...(config.shutdown ? { shutdown: config.shutdown } : {}),
      },
      ecsClusters: config.ecsClusters,
      notificationTopicArn: config.notificationTopicArn,
      indexRefreshMinutes: config.indexRefreshMinutes,
      mode: config.mode,
    },
    powertoolsLog(),
  ),
}, config.acceptedSources);
