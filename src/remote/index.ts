export { DEFAULT_DAEMON_HOST, parseDaemonAddress, type DaemonAddress } from './address.js';
export {
  connectionTo,
  daemonConnection,
  daemonCredentials,
  type DaemonConnection,
  type DaemonFlags,
} from './connection.js';
export { API_BASE, DaemonClient, type RequestOptions } from './daemon-client.js';
export {
  EVENT_TYPES,
  watchEvents,
  type DaemonEvent,
  type EventFilter,
  type EventType,
} from './events.js';
export { problemToAppError } from './problem.js';
export { RemoteEngine } from './remote-engine.js';
