// The lifecycle's EventBridge envelopes for tests: the CLI's own builders (cli/sample-events.ts),
// under the names the integration tests use.
export {
  eventTime,
  rebalanceRecommendationEvent as rebalanceEvent,
  spotWarningEvent,
  stateChangeEvent,
} from '../../cli/sample-events';
