import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadProject, loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir, packageRoot } from '../../src/config/paths.js';
import { ConfigError } from '../../src/errors.js';
import { jsonSchemas } from '../../src/config/json-schemas.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(config: unknown, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'hornets-config-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'hornets.json'), typeof config === 'string' ? config : JSON.stringify(config, null, 2));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return join(dir, 'hornets.json');
}

function configError(configPath: string): ConfigError {
  try {
    loadProject({ configPath, env: {} });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('hornets.json', () => {
  it('notify (issue 17): every channel off by default; a webhook needs an http(s) URL', () => {
    const p = loadProject({ configPath: project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }] }), env: {} });
    expect(p.config.notify).toEqual({ quiet: '5m', bell: false, desktop: 'off', tmuxStatus: false, notifySend: false });
    const on = loadProject({
      configPath: project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }], notify: { bell: true, desktop: 'osc777', webhook: { url: 'https://hooks.example/x' } } }),
      env: {},
    });
    expect(on.config.notify.webhook).toEqual({ url: 'https://hooks.example/x', timeout: '5s', retries: 3, backoff: '1s', queue: 100 });
    const bad = configError(project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }], notify: { desktop: 'osc8', webhook: { url: 'ftp://x/y' } } }));
    expect(bad.issues.map((i) => i.path).sort()).toEqual(['notify.desktop', 'notify.webhook.url']);
  });

  it('loads a minimal config and fills in defaults', () => {
    const p = loadProject({ configPath: project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }] }), env: {} });
    expect(p.config.queue.maxDepth).toBe(10_000);
    expect(p.config.defaults.priority).toBe(5);
    expect(p.paths.root.endsWith('.hornets')).toBe(true);
  });

  it('watch mode: events by default; poll with its interval', () => {
    const plain = loadProject({ configPath: project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }] }), env: {} });
    expect(plain.config.watch).toEqual({ mode: 'events', interval: '2s' });
    const polled = loadProject({ configPath: project({ project: 'demo', watch: { mode: 'poll', interval: '500ms' }, agents: [{ name: 'marie', profile: 'demo' }] }), env: {} });
    expect(polled.config.watch).toEqual({ mode: 'poll', interval: '500ms' });
  });

  it('honours HORNETS_HOME for the state dir', () => {
    const p = loadProject({ configPath: project({ project: 'demo', agents: [{ name: 'marie', profile: 'demo' }] }), env: { HORNETS_HOME: '/tmp/elsewhere' } });
    expect(p.paths.db).toBe('/tmp/elsewhere/hornets.db');
  });

  it.each([
    [
      'bad agent name',
      {
        project: 'd',
        agents: [
          { name: 'ok', profile: 'demo' },
          { name: 'Bad Name', profile: 'demo' },
        ],
      },
      'agents[1].name',
      /invalid agent name/,
    ],
    ['name with colon', { project: 'd', agents: [{ name: 'a:b', profile: 'demo' }] }, 'agents[0].name', /invalid agent name/],
    ['typo key', { project: 'd', agnets: [], agents: [{ name: 'a', profile: 'demo' }] }, '', /unknown key "agnets"/],
    [
      'duplicate',
      {
        project: 'd',
        agents: [
          { name: 'a', profile: 'demo' },
          { name: 'a', profile: 'demo' },
        ],
      },
      'agents[1].name',
      /duplicate agent name "a"/,
    ],
    ['unknown profile', { project: 'd', agents: [{ name: 'a', profile: 'nope' }] }, 'agents[0].profile', /unknown profile "nope" \(available: .*claude-code/],
    ['bad priority', { project: 'd', agents: [{ name: 'a', profile: 'demo', priority: 300 }] }, 'agents[0].priority', /200/],
    ['bad duration', { project: 'd', queue: { retryBackoff: 'soon' }, agents: [{ name: 'a', profile: 'demo' }] }, 'queue.retryBackoff', /duration/],
    ['no agents', { project: 'd', agents: [] }, 'agents', /at least one agent/],
    [
      'unknown attach placeholder',
      { project: 'd', attach: { remote: 'ssh -t {hostname} tmux attach -t {pane}' }, agents: [{ name: 'a', profile: 'demo' }] },
      'attach.remote',
      /unknown placeholder \{hostname\}: use \{host\}/,
    ],
    ['attach host with a space', { project: 'd', attach: { hosts: { beta: 'ops@h; rm' } }, agents: [{ name: 'a', profile: 'demo' }] }, 'attach.hosts.beta', /one word/],
    ['empty attach command', { project: 'd', attach: { remote: ' ' }, agents: [{ name: 'a', profile: 'demo' }] }, 'attach.remote', /empty/],
    ['unknown watch mode', { project: 'd', watch: { mode: 'inotify' }, agents: [{ name: 'a', profile: 'demo' }] }, 'watch.mode', /events|poll/],
    ['poll interval too short', { project: 'd', watch: { mode: 'poll', interval: '10ms' }, agents: [{ name: 'a', profile: 'demo' }] }, 'watch.interval', /between 100ms and 1h/],
    ['missing briefing', { project: 'd', agents: [{ name: 'a', profile: 'demo', briefing: 'nope.md' }] }, 'agents[0].briefing', /briefing file not found/],
  ])('%s is reported with its path', (_name, config, path, message) => {
    const err = configError(project(config));
    const issue = err.issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(err.issues)).toBeDefined();
    expect(issue!.message).toMatch(message);
    expect(err.message).toContain('hornets.json');
  });

  it('refuses an agent env name a shell cannot export (env reaches the pane through a sourced file, never argv)', () => {
    const err = configError(project({ project: 'd', agents: [{ name: 'marie', profile: 'demo', env: { 'BAD NAME': 'x' } }] }));
    expect(err.message).toMatch(/invalid environment variable name/);
    expect(err.message).toContain('BAD NAME');
  });

  it('names line and column of a JSON syntax error', () => {
    const err = configError(project('{\n  "project": "d",\n  "agents": [,]\n}'));
    expect(err.message).toMatch(/line 3, column \d+/);
  });
});

describe('profiles', () => {
  it('ships every built-in profile, valid', () => {
    const profiles = loadProfiles([builtinProfilesDir()]);
    expect([...profiles.keys()].sort()).toEqual(['aider', 'claude-code', 'claude-oneshot', 'codex', 'codex-oneshot', 'demo', 'demo-oneshot', 'gemini', 'gemini-oneshot', 'shell']);
    expect(profiles.get('claude-code')!.resume?.args).toContain('{sessionId}');
    expect(profiles.get('aider')!.delivery).toBe('push');
    expect(profiles.get('demo-oneshot')!.oneShot).toMatchObject({ prompt: 'stdin', output: 'claude-json' });
    for (const n of ['claude-oneshot', 'codex-oneshot', 'gemini-oneshot']) expect(profiles.get(n)!.oneShot!.prompt).toBe('stdin');
  });

  it('a worker needs a known profile with a oneShot command', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hornets-wcfg-'));
    try {
      writeFileSync(
        join(dir, 'hornets.json'),
        JSON.stringify({
          project: 'p',
          agents: [{ name: 'lead', profile: 'demo' }],
          workers: [
            { kind: 'worker', name: 'w1', profile: 'demo' },
            { kind: 'worker', name: 'w2', profile: 'nope' },
          ],
        }),
      );
      let err: unknown;
      try {
        loadProject({ configPath: join(dir, 'hornets.json') });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ConfigError);
      const issues = Object.fromEntries((err as ConfigError).issues.map((i) => [i.path, i.message]));
      expect(issues['workers[0].profile']).toMatch(/profile "demo" has no oneShot command.*profiles with one: claude-oneshot, codex-oneshot, demo-oneshot, gemini-oneshot/);
      expect(issues['workers[1].profile']).toMatch(/unknown profile "nope"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('lets a project profile override a built-in one and validates it', () => {
    const cfg = project(
      { project: 'd', profilesDir: 'profiles', agents: [{ name: 'a', profile: 'shell' }] },
      { 'profiles/shell.json': JSON.stringify({ name: 'shell', command: ['zsh'], delivery: 'push' }) },
    );
    expect(loadProject({ configPath: cfg, env: {} }).profiles.get('shell')!.command).toEqual(['zsh']);
    const bad = project(
      { project: 'd', profilesDir: 'profiles', agents: [{ name: 'a', profile: 'x' }] },
      { 'profiles/x.json': JSON.stringify({ name: 'x', command: [], delivery: 'hooks', patterns: { idle: ['('] } }) },
    );
    const err = configError(bad);
    expect(err.file).toMatch(/profiles\/x\.json$/);
    expect(err.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['command', 'patterns.idle[0]', 'delivery']));
  });
});

describe('JSON Schema files', () => {
  it('schema/*.schema.json match the zod schemas (run `npm run schema` after changing them)', () => {
    const schemas = jsonSchemas();
    const root = packageRoot();
    expect(JSON.parse(readFileSync(join(root, 'schema', 'hornets.schema.json'), 'utf8'))).toEqual(schemas.hornets);
    expect(JSON.parse(readFileSync(join(root, 'schema', 'profile.schema.json'), 'utf8'))).toEqual(schemas.profile);
  });
});

describe('jsonErrorOffset', () => {
  it.each([
    ['{"a": 1,}', 8],
    ['[1, 2', 5],
    ['{"a" 1}', 5],
    ['{"a": tru}', 6],
    ['{"a": "x\\q"}', 8],
    ['{} x', 3],
  ])('%j fails at %d', async (text, offset) => {
    const { jsonErrorOffset } = await import('../../src/config/json-locate.js');
    expect(() => JSON.parse(text)).toThrow();
    expect(jsonErrorOffset(text)).toBe(offset);
  });
  it('is null for valid JSON', async () => {
    const { jsonErrorOffset } = await import('../../src/config/json-locate.js');
    expect(jsonErrorOffset('{"a": [1, -2.5e3, "x\\u00e9", true, null]}')).toBeNull();
  });
});
