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

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

/**
 * JSON lines to `write` (the CLI's `--verbose`: stderr), one per entry at or above `minimum`:
 * `{"level":"INFO","message":..,"timestamp":ISO,"service":..,...keys,...attributes}`. By hand
 * because Powertools' Logger prints INFO and DEBUG on stdout with no option to send them
 * elsewhere, and the CLI's stdout is its result (`--json`: one object per line).
 */
export function jsonLinesLog(write: (line: string) => void, minimum: Level = 'debug', keys: LogAttributes = {}, service = 'spot-responder'): Log {
  const at = (level: Level) => (message: string, attributes: LogAttributes = {}) => {
    if (LEVELS.indexOf(level) < LEVELS.indexOf(minimum)) return;
    write(`${JSON.stringify({ level: level.toUpperCase(), message, timestamp: new Date().toISOString(), service, ...keys, ...attributes })}\n`);
  };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (more) => jsonLinesLog(write, minimum, { ...keys, ...more }, service),
  };
}

export const silentLog: Log = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
  child: () => silentLog,
};
