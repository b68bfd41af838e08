// The package's public API (package.json `exports`): the construct, its stack and its props,
// the context reader the app uses, and the vocabulary the props are spelled in. Everything
// else under lib/ is wiring the construct does for you, and may change without notice.
export {
  MODE_DEFAULTED_WARNING,
  SINGLETON_EXPORT_NAME,
  SpotResponder,
  type SpotResponderProps,
} from './spot-responder';
export { SpotResponderStack, type SpotResponderStackProps } from './spot-responder-stack';
export { addSpotResponderStacks } from './spot-responder-app';
export { CONTEXT_KEYS, readSpotResponderContext, type SpotResponderAppConfig } from './context';
export { ResponderFunction, type ResponderFunctionProps } from './responder-function';
export type { EventBuffer } from './delivery';
export { SPOT_RESPONDER_DEFAULTS } from './defaults';
export { SpotResponderConfigError } from './validation';
export {
  LOG_LEVELS,
  REBALANCE_ACTIONS,
  RESPONSE_MODES,
  TAG_MODES,
  type LogLevel,
  type RebalanceAction,
  type ResponseMode,
  type TagMode,
} from '../lambda/contract';
