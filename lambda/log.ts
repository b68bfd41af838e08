// One structured logger for the Lambda, the refresher and the CLI. The Lambda uses
// Powertools (JSON lines with the invocation context); the CLI can stay quiet or pretty.
import { Logger } from '@aws-lambda-powertools/logger';

export type LogAttributes = Record<string, unknown>;

export interface Log {
  debug(message: string, attributes?: LogAttributes): void;
  info(message: string, attributes?: LogAttributes): void;
  warn(message: string, attributes?: LogAttributes): void;
  error(message: string, attributes?: LogAttributes): void;
  /** A logger whose every line also carries `keys` (event id, instance id ...). */
  child(keys: LogAttributes): Log;
}

export function powertoolsLog(logger: Logger = new Logger({ serviceName: 'spot-responder' })): Log {
  return {
    debug: (message, attributes = {}) => logger.debug(message, attributes),
    info: (message, attributes = {}) => logger.info(message, attributes),
    warn: (message, attributes = {}) => logger.warn(message, attributes),
    error: (message, attributes = {}) => logger.error(message, attributes),
    child: (keys) => powertoolsLog(logger.createChild({ persistentKeys: keys })),
  };
}

export const silentLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLog,
};
