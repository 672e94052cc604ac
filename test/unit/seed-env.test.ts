import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applySeedDirs, claudeProgramOverride, parseSeedEngineEnv, seedVariables } from '../../src/config/seed-env.js';
import { packageRoot, statePaths } from '../../src/config/paths.js';
import { resolveDaemonConfig } from '../../src/config/env.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import type { ConfigIssue } from '../../src/errors.js';
import { ConfigError } from '../../src/errors.js';

const engine = (env: NodeJS.ProcessEnv, redis = false) => {
  const issues: ConfigIssue[] = [];
  const out = parseSeedEngineEnv(env, redis, issues);
  return { out, issues: Object.fromEntries(issues.map((i) => [i.path, i.message])) };
};

describe("the seed systems' variables: honoured or refused by name, never ignored", () => {
  it.each<[NodeJS.ProcessEnv, boolean, Record<string, unknown>]>([
    [{ HOOKS_MODE: '1' }, false, {}],
    [{ ACTIVATION_MODE: 'inotify' }, false, { watch: { mode: 'events' } }],
    [{ ACTIVATION_MODE: 'polling' }, false, { watch: { mode: 'poll' } }],
    [{ ACTIVATION_MODE: 'redis' }, true, { watch: { mode: 'events' } }],
    [{ LOG_FORMAT: 'json' }, false, {}],
    [{ ENABLE_METRICS: 'true' }, false, {}],
    [{ CLAUDE_COMMAND: '/opt/claude/bin/claude' }, false, { claudeProgram: '/opt/claude/bin/claude' }],
    [{ HORNETS_ACTIVATION_MODE: 'polling', ACTIVATION_MODE: 'inotify' }, false, { watch: { mode: 'poll' } }],
  ])('honoured: %j', (env, redis, expected) => {
    const { out, issues } = engine(env, redis);
    expect(issues).toEqual({});
    expect(out).toMatchObject(expected);
    expect(out.applied).toHaveLength(1);
  });

  it.each<[NodeJS.ProcessEnv, string, RegExp]>([
    [{ HOOKS_MODE: '0' }, 'HOOKS_MODE', /"delivery": "push" in its profile/],
    [{ ACTIVATION_MODE: 'redis' }, 'ACTIVATION_MODE', /set REDIS_URL/],
    [{ ACTIVATION_MODE: 'kqueue' }, 'ACTIVATION_MODE', /expected inotify, polling or redis/],
    [{ LOG_FORMAT: 'text' }, 'LOG_FORMAT', /JSON lines only/],
    [{ ENABLE_METRICS: 'false' }, 'ENABLE_METRICS', /cannot be turned off.*METRICS_PORT/],
    [{ ENABLE_METRICS: 'maybe' }, 'ENABLE_METRICS', /expected true or false/],
    [{ CLAUDE_COMMAND: 'claude --dangerously-skip-permissions' }, 'CLAUDE_COMMAND', /arguments in the claude profile's "command"/],
    [{ WORKER_NAME: 'marie' }, 'WORKER_NAME', /--node <name> \(HORNETS_NODE\)/],
  ])('refused: %j', (env, variable, message) => {
    const { issues } = engine(env);
    expect(Object.keys(issues)).toEqual([variable]);
    expect(issues[variable]).toMatch(message);
  });

  it('the engine refuses them at start in one error with the other bad variables, and applies the honoured ones', () => {
    const config = hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }] });
    let err: unknown;
    try {
      resolveDaemonConfig(config, { WORKER_NAME: 'marie', MAX_RETRIES: 'many', LOG_FORMAT: 'logfmt' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path).sort()).toEqual(['LOG_FORMAT', 'MAX_RETRIES', 'WORKER_NAME']);
    const ok = resolveDaemonConfig(config, { ACTIVATION_MODE: 'polling', HEARTBEAT_INTERVAL: '5s' });
    expect(ok.config.watch.mode).toBe('poll');
    expect(ok.applied).toEqual(['HEARTBEAT_INTERVAL=5s', 'ACTIVATION_MODE=polling']);
  });

  it('directories: absolute paths replace .hornets/<dir>; a relative one is refused by name', () => {
    const issues: ConfigIssue[] = [];
    const p = applySeedDirs(statePaths('/p/.hornets'), { TRIGGER_DIR: '/shared/triggers', HORNETS_HEARTBEAT_DIR: '/shared/hb', DLQ_DIR: 'dlq' }, issues);
    expect([p.triggers, p.heartbeats, p.dlq, p.tasks, p.db]).toEqual(['/shared/triggers', '/shared/hb', '/p/.hornets/dlq', '/p/.hornets/tasks', '/p/.hornets/hornets.db']);
    expect(issues).toEqual([{ path: 'DLQ_DIR', message: '"dlq" is not an absolute path (the CLI and the engine may run in different directories)' }]);
  });

  it('CLAUDE_COMMAND for whoever starts agents: the program, or a ConfigError naming it', () => {
    expect(claudeProgramOverride({})).toBeNull();
    expect(claudeProgramOverride({ CLAUDE_COMMAND: '/usr/local/bin/claude' })).toBe('/usr/local/bin/claude');
    expect(() => claudeProgramOverride({ CLAUDE_COMMAND: 'claude -p' })).toThrow(/CLAUDE_COMMAND: "claude -p" has arguments/);
  });

  it('the README lists every one of them', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    for (const v of seedVariables) expect(readme, v.name).toContain(`| \`${v.name}\``);
  });
});
