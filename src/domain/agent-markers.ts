/**
 * The variables every process of an agent generation carries (its pane is started with them, and
 * children inherit them): how hornets tells an agent's processes from everything else on the host
 * (src/proc/agent-processes.ts).
 */
export const AGENT_MARKERS = ['HORNETS_HOME', 'HORNETS_AGENT_ID', 'HORNETS_GENERATION'] as const;

/**
 * The environment without the markers that name an agent generation, for the long-lived processes
 * hornets starts (the tmux server, the engine): started from inside an agent's pane, they would
 * otherwise pass for processes of that agent and be ended with it.
 */
export function withoutAgentMarkers(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { HORNETS_AGENT_ID: _a, HORNETS_GENERATION: _g, ...rest } = env;
  return rest;
}
