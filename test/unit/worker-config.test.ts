/** Worker entries in hornets.json and the seed's environment variables with the seed's meanings for workers. */
import { describe, expect, it } from 'vitest';
import { parseEnvOverrides, resolveDaemonConfig } from '../../src/config/env.js';
import { hornetsConfigSchema, profileSchema } from '../../src/config/schema.js';
import { workerSettings } from '../../src/config/workers.js';
import { ConfigError } from '../../src/errors.js';

const withWorkers = (workers: unknown[], daemon: Record<string, unknown> = {}) => hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'lead', profile: 'demo' }], workers, daemon });

function issues(fn: () => unknown): Record<string, string> {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    const zodIssues = (err as { issues?: { path: (string | number)[]; message: string }[] }).issues;
    if (zodIssues) return Object.fromEntries(zodIssues.map((i) => [i.path.join('.'), i.message]));
    throw err;
  }
  throw new Error('expected an error');
}

describe('worker entries', () => {
  it('a bare worker takes every setting from the daemon section (the seed defaults where hornets had none)', () => {
    const cfg = withWorkers([{ kind: 'worker', name: 'fabien', profile: 'demo-oneshot' }]);
    expect(cfg.workers).toHaveLength(1);
    expect(workerSettings(cfg, cfg.workers[0]!)).toEqual({
      name: 'fabien',
      profile: 'demo-oneshot',
      worktree: null,
      maxConcurrent: 4,
      timeoutMs: 1_800_000,
      maxRetries: 2,
      retry: { initialDelayMs: 1_000, multiplier: 2, maxDelayMs: 300_000, jitter: 0.2 },
      breaker: { threshold: 5, openMs: 60_000 },
      env: {},
    });
  });

  it('the entry wins over the daemon section', () => {
    const cfg = withWorkers(
      [{ kind: 'worker', name: 'w', profile: 'demo-oneshot', maxConcurrent: 3, timeout: '2m', maxRetries: 1, retryBackoff: 1.5, initialRetryDelay: '500ms', breakerThreshold: 2, breakerTimeout: 5 }],
      { maxConcurrentTasks: 8, workerBreakerThreshold: 9 },
    );
    const s = workerSettings(cfg, cfg.workers[0]!);
    expect(s).toMatchObject({ maxConcurrent: 3, timeoutMs: 120_000, maxRetries: 1, retry: { initialDelayMs: 500, multiplier: 1.5 }, breaker: { threshold: 2, openMs: 5_000 } });
  });

  it('projects without workers parse as before (workers: [])', () => {
    expect(hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'a', profile: 'demo' }] }).workers).toEqual([]);
  });

  it('names every bad field of a worker entry', () => {
    const found = issues(() =>
      withWorkers([
        { kind: 'worker', name: 'ok', profile: 'x' },
        { kind: 'agent', name: 'Bad Name', profile: '', maxConcurrent: 0, retryBackoff: 0.5, timeout: 'soon', breakerThreshold: -1, extra: 1 },
      ]),
    );
    expect(Object.keys(found).sort()).toEqual([
      'workers.1',
      'workers.1.breakerThreshold',
      'workers.1.kind',
      'workers.1.maxConcurrent',
      'workers.1.name',
      'workers.1.profile',
      'workers.1.retryBackoff',
      'workers.1.timeout',
    ]);
    expect(found['workers.1']).toMatch(/extra/);
  });

  it("a worker cannot take an agent's name", () => {
    const found = issues(() => withWorkers([{ kind: 'worker', name: 'lead', profile: 'x' }]));
    expect(found['workers.0.name']).toMatch(/worker name "lead" is also an agent \(agents\[0\]\)/);
  });

  it('flags a duplicate worker name', () => {
    const found = issues(() =>
      withWorkers([
        { kind: 'worker', name: 'w', profile: 'x' },
        { kind: 'worker', name: 'w', profile: 'x' },
      ]),
    );
    expect(found['workers.1.name']).toMatch(/duplicate worker name "w"/);
  });

  it('a profile may carry a oneShot command', () => {
    const p = profileSchema.parse({ name: 'x', command: ['x'], delivery: 'push', oneShot: { command: ['claude', '-p', '{prompt}', '--output-format', 'json'] } });
    expect(p.oneShot).toEqual({ command: ['claude', '-p', '{prompt}', '--output-format', 'json'], prompt: 'argv', output: 'claude-json' });
    const stdin = profileSchema.parse({ name: 'x', command: ['x'], delivery: 'push', oneShot: { command: ['claude', '-p'], prompt: 'stdin' } });
    expect(stdin.oneShot).toMatchObject({ command: ['claude', '-p'], prompt: 'stdin' });
  });

  it('the prompt goes somewhere: "{prompt}" in the command for argv, nowhere in it for stdin', () => {
    expect(issues(() => profileSchema.parse({ name: 'x', command: ['x'], delivery: 'push', oneShot: { command: ['claude', '-p'] } }))).toEqual({
      'oneShot.command': 'no "{prompt}" in the command: put it in a word, or set oneShot.prompt to "stdin"',
    });
    expect(issues(() => profileSchema.parse({ name: 'x', command: ['x'], delivery: 'push', oneShot: { command: ['claude', '-p', '{prompt}'], prompt: 'stdin' } }))).toEqual({
      'oneShot.command': 'oneShot.prompt is "stdin": the command must not hold "{prompt}" (it would show the prompt in `ps`)',
    });
    expect(issues(() => profileSchema.parse({ name: 'x', command: ['x'], delivery: 'push', oneShot: { command: ['claude'], prompt: 'file' } }))).toHaveProperty(['oneShot.prompt']);
  });
});

describe('the seed variables for workers', () => {
  const cfg = () => withWorkers([{ kind: 'worker', name: 'w', profile: 'demo-oneshot' }]);

  it('the seed .env (MAX_CONCURRENT_TASKS=3 … CIRCUIT_BREAKER_TIMEOUT=60) gives the seed worker', () => {
    const env = { MAX_CONCURRENT_TASKS: '3', TASK_TIMEOUT: '600', MAX_RETRIES: '3', RETRY_BACKOFF: '2.0', INITIAL_RETRY_DELAY: '1.0', CIRCUIT_BREAKER_THRESHOLD: '5', CIRCUIT_BREAKER_TIMEOUT: '60' };
    const r = resolveDaemonConfig(cfg(), env);
    expect(workerSettings(r.config, r.config.workers[0]!)).toMatchObject({
      maxConcurrent: 3,
      timeoutMs: 600_000,
      maxRetries: 3,
      retry: { initialDelayMs: 1_000, multiplier: 2 },
      breaker: { threshold: 5, openMs: 60_000 },
    });
    // The agents keep the meanings they had: 2.0 was and stays their first retry delay, 5 their restart limit.
    expect(r.settings.taskRetryBackoffMs).toBe(2_000);
    expect(r.settings.restartPolicy.maxRestarts).toBe(5);
    expect(r.notes).toEqual([expect.stringMatching(/RETRY_BACKOFF=2\.0: the agents' first task retry delay \(2\.0 s\) and the workers' retry multiplier \(×2\)/)]);
  });

  it('RETRY_BACKOFF with a unit, or beyond 10, keeps its old meaning only and is no multiplier', () => {
    for (const value of ['30s', '30', '500ms']) {
      const r = resolveDaemonConfig(cfg(), { RETRY_BACKOFF: value });
      expect(r.config.daemon.taskRetryBackoff).toBe(value);
      expect(r.config.daemon.workerRetryBackoff).toBe(2);
      expect(r.notes[0]).toMatch(/no worker multiplier/);
    }
  });

  it('a value that is neither a duration nor a multiplier is an error naming the variable and both readings', () => {
    for (const value of ['fast', '-2', 'x2']) {
      const found = issues(() => parseEnvOverrides({ RETRY_BACKOFF: value }));
      expect(found.RETRY_BACKOFF).toMatch(/a duration for the agents' tasks .* or a plain number 1–10 for the workers' multiplier/);
    }
  });

  it('every bad worker variable is named, all at once', () => {
    const found = issues(() =>
      parseEnvOverrides({ INITIAL_RETRY_DELAY: 'soon', CIRCUIT_BREAKER_TIMEOUT: '0.5', HORNETS_MAX_CONCURRENT_TASKS: '0', CIRCUIT_BREAKER_THRESHOLD: 'many', RETRY_BACKOFF: '' }),
    );
    expect(Object.keys(found).sort()).toEqual(['CIRCUIT_BREAKER_THRESHOLD', 'CIRCUIT_BREAKER_TIMEOUT', 'HORNETS_MAX_CONCURRENT_TASKS', 'INITIAL_RETRY_DELAY']);
    expect(found.CIRCUIT_BREAKER_TIMEOUT).toMatch(/too short/);
    expect(found.HORNETS_MAX_CONCURRENT_TASKS).toMatch(/out of range: expected 1–1000/);
  });

  it('a worker entry still wins over the variables', () => {
    const c = withWorkers([{ kind: 'worker', name: 'w', profile: 'demo-oneshot', maxConcurrent: 2, retryBackoff: 3 }]);
    const r = resolveDaemonConfig(c, { MAX_CONCURRENT_TASKS: '7', RETRY_BACKOFF: '1.5' });
    expect(workerSettings(r.config, r.config.workers[0]!)).toMatchObject({ maxConcurrent: 2, retry: { multiplier: 3 } });
  });
});
