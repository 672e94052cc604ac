/** The client side of the engine: what services and the CLI use to find, poke, start and stop it. */
export { pidFile, endpointFile, metricsEndpointFile } from './paths.js';
export { pidAlive, processCpuTicks, processExited, readPid } from './pid.js';
export { openEventStream, type EventStream } from './event-stream.js';
export { readEndpoint, pokeDaemon, pingEngine, engineRequest, httpGet, type Endpoint, type EngineHealth, type PokePath } from './poke.js';
export { engineStatus, readMetricsUrl, NO_ENGINE_TEXT, type EngineStatus } from './status.js';
export { ensureEngine, launchEngine, awaitEngine, stopEngine, engineOutFile, EngineError, type EngineLaunch, type EngineReady, type EngineWaitOptions } from './lifecycle.js';
