/**
 * How the pinned Codex and Gemini CLIs are set up to run offline against the stand-in APIs: the
 * user files (Codex's config.toml, Gemini's settings.json) and the environment variables that must
 * not leak in from the developer's own setup. One place, read by the e2e harnesses
 * (codex-e2e.ts, gemini-e2e.ts), the one-shot worker tests and the benchmarks (bench:hooks runs
 * `codex exec` and `gemini -p` with them).
 */

/** The variable Codex's custom provider reads its (fake) API key from. */
export const CODEX_KEY_ENV = 'HORNETS_E2E_OPENAI_KEY';

export interface CodexConfigOptions {
  /** The stand-in Responses API's base URL (ends in /v1). */
  apiUrl: string;
  /** Folders Codex may treat as trusted projects (no trust prompt in the TUI). */
  trusted?: string[];
  /**
   * Add what Codex 0.171.0 records in config.toml on its first TUI start: already there, it
   * leaves the file alone, so a "restored byte for byte" check sees only what hornets did.
   */
  tuiSeen?: boolean;
}

/** A user's config.toml: the offline provider, no updates, analytics or background daemon. */
export function codexConfigToml(o: CodexConfigOptions): string {
  const lines = [
    'model = "fake-model"',
    'model_provider = "hornets-e2e"',
    'check_for_update_on_startup = false',
    '',
    '[model_providers.hornets-e2e]',
    'name = "hornets e2e"',
    `base_url = "${o.apiUrl}"`,
    `env_key = "${CODEX_KEY_ENV}"`,
    'wire_api = "responses"',
    'request_max_retries = 0',
    'stream_max_retries = 0',
    '',
    '[analytics]',
    'enabled = false',
    '',
    '[features]',
    'daemon_auto_start = false',
    '',
  ];
  for (const dir of o.trusted ?? []) lines.push(`[projects.${JSON.stringify(dir)}]`, 'trust_level = "trusted"', '');
  if (o.tuiSeen) lines.push('[tui]', 'screen_reader_detection_done = true', '', '[tui.model_availability_nux]', '"gpt-6.1-sol" = 100', '');
  return lines.join('\n');
}

/** The environment Codex needs beside CODEX_HOME: the provider's key. */
export const codexKeyEnv = (): Record<string, string> => ({ [CODEX_KEY_ENV]: 'sk-hornets-e2e' });

/** A user's Gemini settings.json: API-key auth, folder trust on, no updates, statistics or telemetry, a fixed model. */
export function geminiUserSettings(): string {
  return `${JSON.stringify(
    {
      security: { auth: { selectedType: 'gemini-api-key' }, folderTrust: { enabled: true } },
      general: { enableAutoUpdate: false, enableAutoUpdateNotification: false },
      privacy: { usageStatisticsEnabled: false },
      telemetry: { enabled: false },
      model: { name: 'gemini-2.5-flash' },
    },
    null,
    2,
  )}\n`;
}

/** The environment Gemini needs beside GEMINI_CLI_HOME and HOME: the key and the stand-in API. */
export const geminiApiEnv = (apiUrl: string): Record<string, string> => ({ GEMINI_API_KEY: 'hornets-e2e-key', GOOGLE_GEMINI_BASE_URL: apiUrl });

/**
 * The caller's variables matching `pattern`, each mapped to undefined: handed to a child's
 * environment, it removes them (the developer's own OpenAI/Codex, Gemini/Google or Anthropic/Claude
 * settings must not reach an agent under test).
 */
export function unsetMatching(pattern: RegExp, env: NodeJS.ProcessEnv = process.env): Record<string, undefined> {
  return Object.fromEntries(
    Object.keys(env)
      .filter((k) => pattern.test(k))
      .map((k) => [k, undefined]),
  );
}

export const CODEX_LEAKS = /^(OPENAI_|CODEX_)/;
export const GEMINI_LEAKS = /^(GEMINI_|GOOGLE_)/;
export const CLAUDE_LEAKS = /^(ANTHROPIC_|CLAUDE)/;
