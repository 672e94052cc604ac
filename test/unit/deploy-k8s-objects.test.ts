/**
 * What the Kubernetes objects say: each validates against the Kubernetes OpenAPI schemas (the
 * kubernetes-models validators; the ServiceMonitor against the prometheus-operator's CRD schema),
 * the node container is exactly deploy/node.json, and the HPA, NetworkPolicies, Secret, ConfigMap
 * and values schema say what issue 15 asks. Each check runs on the plain manifests and on the
 * chart rendered with non-default switches, so both outputs are held to it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Ajv } from 'ajv';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { readNodeContract } from '../../scripts/deploy/node-contract.js';
import { hornetsConfigSchema } from '../../src/config/schema.js';
import { chartDir, chartObjects, chartValues, find, key, plainDir, plainObjects, readText, root, withValue, type K8sObject } from '../helpers/deploy-k8s.js';

interface Validatable {
  validate(): void;
}
const models: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/StatefulSet': StatefulSet,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
};

function validate(o: K8sObject): void {
  const Model = models[`${o.apiVersion}/${o.kind}`];
  if (!Model) throw new Error(`no schema for ${o.apiVersion} ${o.kind}`);
  new Model(o as never).validate();
}

const node = readNodeContract(root);
const values = chartValues();
const variants: [string, K8sObject[]][] = [
  ['plain manifests', plainObjects()],
  ['chart, defaults', chartObjects(values)],
  ['chart, external Redis', chartObjects(withValue(withValue(values, 'redis.enabled', false), 'team.store', { kind: 'redis', url: 'redis://redis.example.internal:6379' }))],
];

interface Probe {
  httpGet: { path: string; port: string | number };
}
interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports: { name: string; containerPort: number }[];
  livenessProbe: Probe;
  readinessProbe: Probe;
  startupProbe?: Probe;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
  securityContext: { allowPrivilegeEscalation: boolean; readOnlyRootFilesystem: boolean; runAsNonRoot: boolean; capabilities: { drop: string[] } };
  volumeMounts: { name: string; mountPath: string; subPath?: string }[];
}
interface PodSpec {
  terminationGracePeriodSeconds: number;
  enableServiceLinks: boolean;
  securityContext: { runAsNonRoot: boolean; runAsUser: number; fsGroup: number };
  initContainers?: ContainerSpec[];
  containers: ContainerSpec[];
}
interface StatefulSetSpec {
  serviceName: string;
  replicas: number;
  template: { spec: PodSpec };
  volumeClaimTemplates: { metadata: { name: string } }[];
}
const spec = <T>(o: K8sObject) => o.spec as T;

describe.each(variants)('deploy: Kubernetes objects (%s)', (_variant, objects) => {
  it('every object validates against the Kubernetes OpenAPI schemas', () => {
    expect(objects.length).toBeGreaterThan(5);
    for (const o of objects) expect(() => validate(o), key(o)).not.toThrow();
  });

  it('the node container is deploy/node.json: command (as args), node name from the pod, metrics address, probes, paths, user, grace period', () => {
    const sts = spec<StatefulSetSpec>(find(objects, 'StatefulSet', 'hornets'));
    const pod = sts.template.spec;
    const [container] = pod.containers;
    expect(pod.containers).toHaveLength(1);
    // The command is the image's CMD (Kubernetes args): the image's entrypoint (tini) stays PID 1.
    expect(container!.args).toEqual(node.command);
    expect(container!.command).toBeUndefined();
    const env = new Map(container!.env.map((e) => [e.name, e]));
    expect(env.get(node.nodeEnv)?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(env.get(node.metricsHostEnv)?.value).toBe(node.metricsHost);
    expect(env.get(node.metricsPortEnv)?.value).toBe(String(node.metricsPort));
    expect(env.get('HORNETS_HOME')?.value).toBe(node.stateDir);
    expect(container!.workingDir).toBe(node.workDir);
    expect(container!.ports).toEqual([expect.objectContaining({ name: 'metrics', containerPort: node.metricsPort })]);
    expect(container!.livenessProbe.httpGet).toEqual({ path: node.liveness.path, port: 'metrics' });
    expect(container!.readinessProbe.httpGet).toEqual({ path: node.readiness.path, port: 'metrics' });
    expect(container!.startupProbe?.httpGet).toEqual({ path: node.liveness.path, port: 'metrics' });
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: node.user.uid, fsGroup: node.user.uid });
    expect(pod.terminationGracePeriodSeconds).toBe(node.stopGracePeriodSeconds);
    // State and worktrees are on the pod's own volume.
    expect(sts.volumeClaimTemplates.map((c) => c.metadata.name)).toEqual(['data']);
    const mounts = new Map(container!.volumeMounts.map((m) => [m.mountPath, m]));
    expect(mounts.get(node.stateDir)).toMatchObject({ name: 'data', subPath: 'state' });
    expect(mounts.get(node.workDir)).toMatchObject({ name: 'data', subPath: 'work' });
    // The Service the StatefulSet names is headless and serves the metrics port.
    const service = find(objects, 'Service', sts.serviceName).spec as { clusterIP: string; ports: { port: number; targetPort: string }[] };
    expect(service.clusterIP).toBe('None');
    expect(service.ports).toEqual([expect.objectContaining({ port: node.metricsPort, targetPort: 'metrics' })]);
  });

  it('every container runs hardened, with requests and limits; node pods get no service-link variables (HORNETS_REDIS_PORT=tcp://… would be read as a setting)', () => {
    for (const sts of objects.filter((o) => o.kind === 'StatefulSet')) {
      const pod = spec<StatefulSetSpec>(sts).template.spec;
      expect(pod.enableServiceLinks, key(sts)).toBe(false);
      expect(pod.securityContext.runAsNonRoot).toBe(true);
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        expect(c.securityContext, `${key(sts)} ${c.name}`).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } });
        expect(Object.keys(c.resources.requests).sort(), c.name).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources.limits).sort(), c.name).toEqual(['cpu', 'memory']);
      }
    }
  });

  it('the HPA scales the node StatefulSet on pending_tasks, 20 per pod, with a 600 s scale-down window', () => {
    const hpa = find(objects, 'HorizontalPodAutoscaler', 'hornets');
    expect(hpa.apiVersion).toBe('autoscaling/v2');
    const s = hpa.spec as {
      scaleTargetRef: unknown;
      minReplicas: number;
      maxReplicas: number;
      metrics: { type: string; external: { metric: { name: string }; target: { type: string; averageValue: string } } }[];
      behavior: { scaleDown: { stabilizationWindowSeconds: number } };
    };
    expect(s.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'hornets' });
    expect(s.metrics).toEqual([{ type: 'External', external: { metric: { name: 'pending_tasks' }, target: { type: 'AverageValue', averageValue: '20' } } }]);
    expect(s.behavior.scaleDown.stabilizationWindowSeconds).toBe(600);
    expect(s.minReplicas).toBeGreaterThanOrEqual(1);
    expect(s.maxReplicas).toBeGreaterThan(s.minReplicas);
  });

  it('the node NetworkPolicy lets in only metrics scrapes and lets out only DNS, Redis and HTTPS to public addresses', () => {
    const policy = find(objects, 'NetworkPolicy', 'hornets').spec as {
      podSelector: unknown;
      policyTypes: string[];
      ingress: { from: unknown[]; ports: unknown[] }[];
      egress: { to: { ipBlock?: { cidr: string; except: string[] }; podSelector?: unknown }[]; ports: { port: number; protocol: string }[] }[];
    };
    expect(policy.podSelector).toEqual({ matchLabels: find(objects, 'StatefulSet', 'hornets').metadata.labels });
    expect(policy.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
    expect(policy.ingress).toHaveLength(1);
    expect(policy.ingress[0]!.ports).toEqual([{ port: node.metricsPort, protocol: 'TCP' }]);
    const egressPorts = policy.egress.map((r) => r.ports.map((p) => `${p.protocol}/${p.port}`).join(','));
    expect(egressPorts).toEqual(['UDP/53,TCP/53', 'TCP/6379', 'TCP/443']);
    const [dns, redis, https] = policy.egress;
    expect(dns!.to).toEqual([{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }]);
    expect(redis!.to).toEqual([{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hornets', 'app.kubernetes.io/component': 'redis' } } }]);
    expect(https!.to).toHaveLength(1);
    const block = https!.to[0]!.ipBlock!;
    expect(block.cidr).toBe('0.0.0.0/0');
    for (const privateRange of ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16']) expect(block.except).toContain(privateRange);
  });

  it('no Secret carries a value', () => {
    const secrets = objects.filter((o) => o.kind === 'Secret');
    expect(secrets.length).toBeGreaterThan(0);
    for (const s of secrets) {
      expect(s.data, key(s)).toBeUndefined();
      expect(s.stringData, key(s)).toBeUndefined();
    }
  });

  it("the ConfigMap's hornets.json is a valid team on Redis whose nodes are the StatefulSet's pods", () => {
    const config = find(objects, 'ConfigMap', 'hornets-config').data as Record<string, string>;
    const team = hornetsConfigSchema.parse(JSON.parse(config['hornets.json']!));
    expect(team.store.kind).toBe('redis');
    const sts = spec<StatefulSetSpec>(find(objects, 'StatefulSet', 'hornets'));
    const named = [team.defaults.node, ...team.agents.map((a) => a.node), ...team.workers.flatMap((w) => w.nodes ?? [])].filter((n) => n !== undefined);
    expect(named.length).toBeGreaterThan(0);
    for (const n of named) {
      const ordinal = /^hornets-(\d+)$/.exec(n!);
      expect(ordinal, n).not.toBeNull();
      // A node the HPA may remove would strand its agents: agents live on pods that always exist.
      expect(Number(ordinal![1])).toBeLessThan(Math.min(sts.replicas, (find(objects, 'HorizontalPodAutoscaler', 'hornets').spec as { minReplicas: number }).minReplicas));
    }
    for (const profile of [...team.agents, ...team.workers].map((a) => a.profile)) expect(existsSync(join(root, 'profiles', `${profile}.json`)), profile).toBe(true);
    const env = new Map(sts.template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
    // hornets.json is in the project directory, and every agent's worktree inside it.
    expect(env.get('HORNETS_CONFIG')).toBe(`${node.workDir}/hornets.json`);
    const mount = sts.template.spec.containers[0]!.volumeMounts.find((m) => m.name === 'config');
    expect(mount).toEqual({ name: 'config', mountPath: `${node.workDir}/hornets.json`, subPath: 'hornets.json', readOnly: true });
    for (const a of team.agents) if (a.worktree !== undefined) expect(relative(node.workDir, resolve(node.workDir, a.worktree)).startsWith('..'), a.name).toBe(false);
  });
});

describe('deploy: Kubernetes objects, the rest', () => {
  it('the validators do reject a broken object', () => {
    const hpa = structuredClone(find(plainObjects(), 'HorizontalPodAutoscaler', 'hornets'));
    (hpa.spec as { maxReplicas: unknown }).maxReplicas = 'many';
    expect(() => validate(hpa)).toThrow(/maxReplicas/);
    const monitor = structuredClone(find(plainObjects(), 'ServiceMonitor', 'hornets'));
    (monitor.spec as { endpoints: unknown }).endpoints = 'metrics';
    expect(() => validate(monitor)).toThrow(/endpoints/);
  });

  it('Redis keeps an append-only file on its own volume, and only the nodes may reach it', () => {
    const objects = plainObjects();
    const redis = spec<StatefulSetSpec & { template: { spec: { containers: { args: string[] }[] } } }>(find(objects, 'StatefulSet', 'hornets-redis'));
    const args = redis.template.spec.containers[0]!.args;
    expect(args.slice(args.indexOf('--appendonly'), args.indexOf('--appendonly') + 2)).toEqual(['--appendonly', 'yes']);
    expect(redis.volumeClaimTemplates.map((c) => c.metadata.name)).toEqual(['data']);
    const policy = find(objects, 'NetworkPolicy', 'hornets-redis').spec as { policyTypes: string[]; ingress: unknown[]; egress: unknown[] };
    expect(policy.ingress).toEqual([{ from: [{ podSelector: { matchLabels: find(objects, 'StatefulSet', 'hornets').metadata.labels } }], ports: [{ port: 6379, protocol: 'TCP' }] }]);
    expect(policy.policyTypes).toContain('Egress');
    expect(policy.egress).toEqual([]);
  });

  it('the ServiceMonitor scrapes the node Service by its metrics port', () => {
    const objects = plainObjects();
    const monitor = find(objects, 'ServiceMonitor', 'hornets').spec as { selector: { matchLabels: unknown }; endpoints: { port: string; path: string }[] };
    expect(monitor.selector.matchLabels).toEqual(find(objects, 'Service', 'hornets').metadata.labels);
    expect(monitor.endpoints).toEqual([expect.objectContaining({ port: 'metrics', path: '/metrics' })]);
  });

  it('the PodDisruptionBudget lets at most one node go at a time', () => {
    expect(find(plainObjects(), 'PodDisruptionBudget', 'hornets').spec).toMatchObject({ maxUnavailable: 1 });
  });

  it('kustomization.yaml lists every manifest of deploy/k8s and sets the namespace', () => {
    const kustomization = parse(readText(join(plainDir, 'kustomization.yaml'))) as { namespace: string; resources: string[] };
    expect(kustomization.namespace).toBe('hornets');
    expect([...kustomization.resources].sort()).toEqual(
      readdirSync(plainDir)
        .filter((f) => f !== 'kustomization.yaml')
        .sort(),
    );
  });

  it('values.schema.json accepts values.yaml and refuses bad values', () => {
    const schema = JSON.parse(readText(join(chartDir, 'values.schema.json'))) as object;
    const check = new Ajv({ strict: false }).compile(schema);
    expect(check(chartValues()), JSON.stringify(check.errors)).toBe(true);
    expect(check(withValue(chartValues(), 'replicas', 0))).toBe(false);
    expect(check(withValue(chartValues(), 'autoscaling.averageValue', 'twenty'))).toBe(false);
    expect(check(withValue(chartValues(), 'redis.enabled', 'no'))).toBe(false);
    expect(check({ ...chartValues(), replica: 3 })).toBe(false);
    expect(check(withValue(chartValues(), 'image.pullPolicy', 'Sometimes'))).toBe(false);
  });
});
