/** Seed-system environment variables: parsed with errors naming the variable, merged over hornets.json. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { applyEnvOverrides, daemonSettings, envVariables, parseEnvOverrides, resolveDaemonConfig } from '../../src/config/env.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import { packageRoot } from '../../src/config/paths.js';
import { ConfigError } from '../../src/errors.js';

const base = () => hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }] });

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    parseEnvOverrides(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('environment overrides', () => {
  it('without variables, changes nothing and the daemon defaults hold', () => {
    const o = parseEnvOverrides({});
    expect(o).toEqual({ daemon: {}, applied: [] });
    expect(applyEnvOverrides(base(), o)).toEqual(base());
    const s = daemonSettings(base());
    expect(s).toMatchObject({ heartbeatIntervalMs: 10_000, metricsPort: 0, taskTimeoutMs: 1_800_000, taskMaxRetries: 2, taskRetryBackoffMs: 10_000, maxConcurrentTasks: 4 });
    expect(s.restartPolicy).toMatchObject({ maxRestarts: 3, windowMs: 3_600_000, backoffBaseMs: 2_000, backoffMaxMs: 300_000 });
  });

  it('reads every variable into the daemon settings', () => {
    const env = {
      HEARTBEAT_INTERVAL: '5',
      MAX_RETRIES: '4',
      RETRY_BACKOFF: '30s',
      CIRCUIT_BREAKER_THRESHOLD: '7',
      CIRCUIT_BREAKER_WINDOW: '10m',
      TASK_TIMEOUT: '1h30m',
      MAX_CONCURRENT_TASKS: '2',
      METRICS_PORT: '9464',
      LOG_LEVEL: 'DEBUG',
    };
    const r = resolveDaemonConfig(base(), env);
    expect(r.settings).toMatchObject({ heartbeatIntervalMs: 5_000, taskMaxRetries: 4, taskRetryBackoffMs: 30_000, taskTimeoutMs: 5_400_000, maxConcurrentTasks: 2, metricsPort: 9464 });
    expect(r.settings.restartPolicy).toMatchObject({ maxRestarts: 7, windowMs: 600_000, backoffBaseMs: 2_000 });
    expect(r.logLevel).toBe('debug');
    expect(r.applied).toHaveLength(9);
    expect(r.applied).toContain('METRICS_PORT=9464');
  });

  it('METRICS_HOST sets daemon.metricsHost (default 127.0.0.1); a value that is no address is refused by name', () => {
    expect(resolveDaemonConfig(base(), {}).settings.metricsHost).toBe('127.0.0.1');
    expect(resolveDaemonConfig(base(), { METRICS_HOST: '0.0.0.0' }).settings.metricsHost).toBe('0.0.0.0');
    expect(resolveDaemonConfig(base(), { HORNETS_METRICS_HOST: '::' }).settings.metricsHost).toBe('::');
    const err = configError({ METRICS_HOST: 'example.com' });
    expect(err.issues).toEqual([{ path: 'METRICS_HOST', message: expect.stringMatching(/invalid address "example.com"/) as string }]);
    const agents = [{ name: 'marie', profile: 'demo' }];
    expect(() => hornetsConfigSchema.parse({ project: 'p', agents, daemon: { metricsHost: 'nowhere' } })).toThrow(/metricsHost/);
    expect(hornetsConfigSchema.parse({ project: 'p', agents, daemon: { metricsHost: '0.0.0.0' } }).daemon.metricsHost).toBe('0.0.0.0');
  });

  it('keeps hornets.json values the environment does not name', () => {
    const cfg = hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }], daemon: { restart: { window: '2h', backoff: '5s' }, metricsPort: 9000 } });
    const merged = applyEnvOverrides(cfg, parseEnvOverrides({ CIRCUIT_BREAKER_THRESHOLD: '1' }));
    expect(merged.daemon.restart).toEqual({ maxRestarts: 1, window: '2h', backoff: '5s', backoffMax: '5m' });
    expect(merged.daemon.metricsPort).toBe(9000);
    expect(cfg.daemon.restart.maxRestarts).toBe(3);
  });

  it('HORNETS_-prefixed names win over the bare seed names; blank values are ignored', () => {
    expect(parseEnvOverrides({ MAX_RETRIES: '1', HORNETS_MAX_RETRIES: '9' }).daemon.taskMaxRetries).toBe(9);
    expect(parseEnvOverrides({ MAX_RETRIES: '1', HORNETS_MAX_RETRIES: '  ' }).daemon.taskMaxRetries).toBe(1);
    expect(parseEnvOverrides({ TASK_TIMEOUT: '' }).daemon).toEqual({});
  });

  it('reports every bad variable by name, at once', () => {
    const err = configError({ HEARTBEAT_INTERVAL: 'often', METRICS_PORT: '70000', MAX_RETRIES: '-1', LOG_LEVEL: 'loud', HORNETS_TASK_TIMEOUT: '0.5', CIRCUIT_BREAKER_THRESHOLD: '3.5' });
    expect(err.file).toBe('environment');
    const byVar = Object.fromEntries(err.issues.map((i) => [i.path, i.message]));
    expect(Object.keys(byVar).sort()).toEqual(['CIRCUIT_BREAKER_THRESHOLD', 'HEARTBEAT_INTERVAL', 'HORNETS_TASK_TIMEOUT', 'LOG_LEVEL', 'MAX_RETRIES', 'METRICS_PORT']);
    expect(byVar.HEARTBEAT_INTERVAL).toMatch(/invalid duration "often"/);
    expect(byVar.METRICS_PORT).toMatch(/70000 is out of range: expected 0–65535/);
    expect(byVar.MAX_RETRIES).toMatch(/expected a whole number/);
    expect(byVar.LOG_LEVEL).toMatch(/one of trace, debug/);
    expect(byVar.HORNETS_TASK_TIMEOUT).toMatch(/too short/);
    expect(err.message).toMatch(/^invalid environment:\n {2}- /);
  });

  it('LEADER_LEASE sets daemon.leaderLease and the election timing; outside 1s–5m it is refused by name', () => {
    const { settings, applied } = resolveDaemonConfig(base(), { HORNETS_LEADER_LEASE: '3s' });
    expect(applied).toEqual(['HORNETS_LEADER_LEASE=3s']);
    expect(settings.leader).toEqual({ leaseMs: 3000, renewMs: 1000, retryMs: 1000, takeoverMs: 4000 });
    const err = configError({ LEADER_LEASE: '500ms', HORNETS_HEARTBEAT_INTERVAL: '1s' });
    expect(err.issues).toEqual([{ path: 'LEADER_LEASE', message: '"500ms" is too short; at least 1000 ms' }]);
    expect(configError({ LEADER_LEASE: '6m' }).issues[0]!.message).toBe('"6m" is too long; at most 300000 ms');
  });

  it('daemon.nodeHeartbeat and daemon.nodeLostAfter set the node registry timing; lost must come after a beat, said by name', () => {
    expect(resolveDaemonConfig(base(), {}).settings.node).toEqual({ heartbeatMs: 2000, lostAfterMs: 6000 });
    const config = hornetsConfigSchema.parse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }], daemon: { nodeHeartbeat: '3s', nodeLostAfter: '20s' } });
    expect(resolveDaemonConfig(config, {}).settings.node).toEqual({ heartbeatMs: 3000, lostAfterMs: 20_000 });
    const bad = hornetsConfigSchema.safeParse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }], daemon: { nodeHeartbeat: '5s', nodeLostAfter: '5s' } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['daemon.nodeLostAfter', 'must be longer than daemon.nodeHeartbeat (5s): a node would count as lost between two of its own beats'],
    ]);
    expect(hornetsConfigSchema.safeParse({ project: 'p', agents: [{ name: 'marie', profile: 'demo' }], daemon: { nodeHeartbeat: '50ms' } }).error!.issues[0]!.message).toBe(
      'must be between 100ms and 1m',
    );
  });

  it('the README lists every variable', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    for (const v of envVariables) expect(readme, v.name).toContain(`\`${v.name}\``);
  });
});
