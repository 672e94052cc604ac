/**
 * deploy/compose.yaml and what it mounts, checked statically (no container engine runs here): the
 * file validates against the Compose Specification schema (test/schemas), each hornets node runs
 * deploy/node.json's command with its environment and probe, Redis keeps an AOF, Prometheus scrapes
 * every node, Grafana's provisioning points at the dashboard, and the compose team's hornets.json
 * loads with its agents spread over the compose nodes. The dashboard's queries are checked against
 * a live engine in test/integration/deploy-nodes.test.ts.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { parse as parseYaml } from 'yaml';
import { repoRoot } from '../helpers/cli.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';

const yaml = { load: (text: string): unknown => parseYaml(text, { merge: true }) };

const deploy = join(repoRoot, 'deploy');
const read = (...p: string[]) => readFileSync(join(deploy, ...p), 'utf8');
const node = JSON.parse(read('node.json')) as {
  command: string[];
  nodeEnv: string;
  metricsHostEnv: string;
  metricsHost: string;
  metricsPortEnv: string;
  metricsPort: number;
  liveness: { path: string };
  stateDir: string;
  workDir: string;
  stopGracePeriodSeconds: number;
};

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  environment?: Record<string, string>;
  env_file?: string[];
  healthcheck?: { test: string[] };
  volumes?: string[];
  stop_signal?: string;
  stop_grace_period?: string;
}
const compose = yaml.load(read('compose.yaml')) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const nodeServices = Object.entries(compose.services).filter(([, s]) => s.environment?.[node.nodeEnv] !== undefined);

describe('deploy/compose.yaml', () => {
  it('validates against the Compose Specification schema', () => {
    // The schema names draft 2019-09 by its old URL (http, with '#', unknown to ajv by that name)
    // and still marks its parts with draft-04's `id` (strings), which ajv refuses: both are dropped,
    // the constraints stay. Its own formats (duration, expose, ports) are not checked.
    const dropIds = (v: unknown): unknown =>
      Array.isArray(v)
        ? v.map(dropIds)
        : v && typeof v === 'object'
          ? Object.fromEntries(
              Object.entries(v)
                .filter(([k, x]) => !(k === 'id' && typeof x === 'string'))
                .map(([k, x]) => [k, dropIds(x)]),
            )
          : v;
    const { $schema: _draftUrl, ...schema } = dropIds(JSON.parse(readFileSync(join(repoRoot, 'test', 'schemas', 'compose-spec.json'), 'utf8'))) as Record<string, unknown>;
    const ajv = new Ajv2019({ allErrors: true, strict: false, validateFormats: false });
    const validate = ajv.compile(schema);
    const ok = validate(compose);
    expect(validate.errors ?? [], JSON.stringify(validate.errors, null, 2)).toEqual([]);
    expect(ok).toBe(true);
    // The schema bites: an unknown service key is refused.
    expect(validate({ services: { x: { image: 'a', no_such_key: 1 } } })).toBe(false);
  });

  it("runs two hornets nodes with node.json's command, environment, health check and grace period", () => {
    expect(nodeServices.map(([name]) => name)).toEqual(['node-a', 'node-b']);
    for (const [name, s] of nodeServices) {
      expect(s.command, name).toEqual(node.command);
      expect(s.environment, name).toEqual({ [node.nodeEnv]: name, [node.metricsHostEnv]: node.metricsHost, [node.metricsPortEnv]: String(node.metricsPort) });
      const probe = s.healthcheck!.test;
      expect(probe.slice(0, 3)).toEqual(['CMD', 'node', '-e']);
      expect(probe[3]).toContain(`process.env.${node.metricsPortEnv} || '${node.metricsPort}'`);
      expect(probe[3]).toContain(`'${node.liveness.path}'`);
      // The same probe as the image's HEALTHCHECK.
      const imageProbe = /^\s*CMD (\["node", "-e",.*\])$/m.exec(read('docker', 'Dockerfile'))![1]!;
      expect(JSON.parse(imageProbe)).toEqual(probe.slice(1));
      expect(s.stop_signal).toBe('SIGTERM');
      expect(s.stop_grace_period).toBe(`${node.stopGracePeriodSeconds}s`);
      expect(s.build).toEqual({ context: '..', dockerfile: 'deploy/docker/Dockerfile', args: { AGENT_CLIS: 'claude' } });
      expect(s.volumes).toEqual([`./compose:${node.workDir}`, `${name}-state:${node.stateDir}`]);
      expect(compose.volumes).toHaveProperty(`${name}-state`);
    }
  });

  it('takes API keys from an env file only: no key in compose, an .env.example beside it, the .env ignored by git', () => {
    for (const [name, s] of nodeServices) expect(s.env_file, name).toEqual(['./compose/.env']);
    const text = read('compose.yaml');
    expect(text).not.toMatch(/API_KEY|TOKEN|PASSWORD|SECRET/i);
    const example = read('compose', '.env.example');
    for (const k of ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY']) expect(example).toMatch(new RegExp(`^${k}=$`, 'm'));
    expect(readFileSync(join(repoRoot, '.gitignore'), 'utf8').split('\n')).toContain('deploy/compose/.env');
  });

  it('runs Redis with an append-only file fsynced every second, on a volume', () => {
    const redis = compose.services.redis!;
    const cmd = redis.command!.join(' ');
    expect(cmd).toContain('--appendonly yes');
    expect(cmd).toContain('--appendfsync everysec');
    expect(redis.volumes).toEqual(['redis-data:/data']);
    const team = JSON.parse(read('compose', 'hornets.json')) as { store: { kind: string; url: string } };
    expect(team.store).toEqual({ kind: 'redis', url: 'redis://redis:6379' });
  });

  it("the compose team's hornets.json loads, and its agents run on the compose nodes, each node some", () => {
    const config = hornetsConfigSchema.parse(JSON.parse(read('compose', 'hornets.json')));
    const names = nodeServices.map(([n]) => n);
    for (const a of config.agents) expect(names).toContain(a.node);
    for (const n of names)
      expect(
        config.agents.some((a) => a.node === n),
        n,
      ).toBe(true);
    expect(config.workers.length).toBeGreaterThan(0);
  });
});

describe('Prometheus and Grafana', () => {
  it('Prometheus parses and scrapes every compose node on node.json port and /metrics', () => {
    const prom = yaml.load(read('prometheus', 'prometheus.yml')) as { scrape_configs: { job_name: string; metrics_path?: string; static_configs: { targets: string[] }[] }[] };
    const job = prom.scrape_configs.find((j) => j.job_name === 'hornets')!;
    expect(job.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = job.static_configs.flatMap((c) => c.targets).sort();
    expect(targets).toEqual(nodeServices.map(([n]) => `${n}:${node.metricsPort}`).sort());
    expect(compose.services.prometheus!.volumes).toContain('./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
  });

  it('Grafana provisions the Prometheus datasource and the dashboard directory, and the dashboard is valid JSON naming that datasource', () => {
    const ds = yaml.load(read('grafana', 'provisioning', 'datasources', 'prometheus.yaml')) as { datasources: { uid: string; type: string; url: string }[] };
    expect(ds.datasources).toEqual([expect.objectContaining({ uid: 'prometheus', type: 'prometheus', url: 'http://prometheus:9090' })]);
    const provider = yaml.load(read('grafana', 'provisioning', 'dashboards', 'hornets.yaml')) as { providers: { options: { path: string } }[] };
    const mounted = compose.services.grafana!.volumes!.map((v) => v.split(':'));
    const dashboards = mounted.find(([, target]) => target === provider.providers[0]!.options.path)!;
    expect(existsSync(join(deploy, dashboards[0]!, 'hornets.json'))).toBe(true);
    expect(mounted.some(([src, target]) => src === './grafana/provisioning' && target === '/etc/grafana/provisioning')).toBe(true);
    const dash = JSON.parse(read('grafana', 'dashboards', 'hornets.json')) as { uid: string; panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[] };
    expect(dash.uid).toBe('hornets');
    const titles = dash.panels.map((p) => p.title.toLowerCase()).join(' | ');
    for (const topic of ['queue depth by priority', 'delivery latency', 'hook duration', 'restarts', 'breaker', 'tasks', 'nodes up']) expect(titles).toContain(topic);
    for (const p of dash.panels) {
      expect(p.datasource.uid, p.title).toBe('prometheus');
      expect(p.targets.length, p.title).toBeGreaterThan(0);
    }
  });
});
