/**
 * The engine as the services see it: status, start and stop from a client. The mechanics live in
 * src/engine-client (shared with the CLI), so no service imports the daemon itself.
 */
export { engineStatus, ensureEngine, stopEngine, EngineError, NO_ENGINE_TEXT, type EngineStatus } from '../engine-client/index.js';
