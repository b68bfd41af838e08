// The Lambda entry point as a factory: tests pass mocked dependencies, handler.ts passes
// the real ones built once per container.
import type { Context } from 'aws-lambda';
import type { ResponseRecord } from './core/model';
import { respond } from './responder';
import type { ResponderDeps } from './response/deps';

export type SpotResponderHandler = (event: unknown, context?: Context) => Promise<ResponseRecord>;

export function makeHandler(deps: ResponderDeps): SpotResponderHandler {
  return async (event, context) => {
    const log = context ? deps.log.child({ requestId: context.awsRequestId }) : deps.log;
    return respond(event, { ...deps, log });
  };
}
