/**
 * Variables of hornets' own environment that are not settings of hornets.json (those are parsed in
 * env.ts). Lint allows `process.env` only in src/config, entry points and the two process runners,
 * so the rest of the code asks here; each accessor reads at call time (tests set variables late).
 */

/** HORNETS_LOG_LEVEL (or LOG_LEVEL): the level the composition root gives createLogger. */
export function logLevelFromEnv(): string | undefined {
  return process.env.HORNETS_LOG_LEVEL ?? process.env.LOG_LEVEL;
}

/**
 * The environment hornets was started with (which the tmux server, and so every agent pane,
 * inherits). Only for handing on or for PATH look-ups: settings are read through the accessors above.
 */
export function launchEnv(): NodeJS.ProcessEnv {
  return process.env;
}

/** HORNETS_DEBUG: unexpected errors print their stack too. */
export function debugFromEnv(): boolean {
  return Boolean(process.env.HORNETS_DEBUG);
}

/** HORNETS_LOCK_WAIT_MS: how long a command waits for another one changing the agents (src/services/team-lock.ts). */
export function lockWaitFromEnv(): number | null {
  const raw = process.env.HORNETS_LOCK_WAIT_MS;
  if (raw === undefined || raw.trim() === '') return null;
  const v = Number(raw);
  return Number.isFinite(v) && v >= 0 ? v : null;
}

/**
 * HORNETS_DOWN_ON_SIGNAL (the container image sets it): `--headless` brings its agents down on
 * SIGTERM/SIGINT, as `down` does, instead of leaving them running for the next engine.
 */
export function downOnSignalFromEnv(): boolean {
  return ['1', 'true', 'yes'].includes((process.env.HORNETS_DOWN_ON_SIGNAL ?? '').trim().toLowerCase());
}
