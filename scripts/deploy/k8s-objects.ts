/**
 * The Kubernetes objects of a hornets team, written once for both outputs: the plain manifests
 * (deploy/k8s, values filled in) and the Helm chart's templates (deploy/helm/hornets/templates,
 * values left as `{{ .Values.… }}`). Every chart value goes through a ValueRef; everything that is
 * the node container's contract (command, environment names, port, probe paths, paths, uid, grace
 * period) comes from deploy/node.json and is written literally in both.
 */
import type { StatefulSet } from 'kubernetes-types/apps/v1.js';
import type { HorizontalPodAutoscaler } from 'kubernetes-types/autoscaling/v2.js';
import type { ConfigMap, Container, Namespace, PersistentVolumeClaim, Secret, SecurityContext, Service } from 'kubernetes-types/core/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { NetworkPolicy, NetworkPolicyPeer } from 'kubernetes-types/networking/v1.js';
import type { PodDisruptionBudget } from 'kubernetes-types/policy/v1.js';
import type { NodeContract } from './node-contract.js';
import { REDIS, SECRET_KEYS, STATEFULSET } from './k8s-values.js';

/** How an object reads a chart value: the value itself (plain manifests) or a placeholder (templates). */
export interface ValueRef {
  /** A number or boolean, written unquoted. (Typed as what it stands for; the templates hold a placeholder.) */
  raw<T = number>(path: string): T;
  /** A string. */
  str(path: string): string;
  /** An object or list, written as YAML under its key. */
  tree<T>(path: string): T;
  /** An object written as pretty JSON text (a file in a ConfigMap). */
  json(path: string): string;
  /** The SHA-256 (hex) of what json(path) writes: a pod annotation that rolls the pods when the team changes. */
  jsonHash(path: string): string;
  /** `repository:tag` of an image value. */
  image(path: string): string;
  /** The namespace the objects go to. */
  namespace(): string;
}

export interface ManifestFile {
  file: string;
  /** Chart values that must all be true for the file's objects to exist (nested `if`s in the template). */
  when: string[];
  objects: object[];
}

/** The prometheus-operator's ServiceMonitor, as far as it is used here (kubernetes-types has no CRDs; the tests validate it with the operator's models). */
interface ServiceMonitor {
  apiVersion: 'monitoring.coreos.com/v1';
  kind: 'ServiceMonitor';
  metadata: ObjectMeta;
  spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string; interval: string }[] };
}

const CONFIG_MAP = 'hornets-config';
const HOME_DIR = '/home/hornets';
const DATA_MOUNT = '/data';

const nameLabel = { 'app.kubernetes.io/name': 'hornets', 'app.kubernetes.io/part-of': 'hornets' };
export const nodeLabels = { ...nameLabel, 'app.kubernetes.io/component': 'node' };
export const redisLabels = { ...nameLabel, 'app.kubernetes.io/component': 'redis' };

function meta(v: ValueRef, name: string, labels: Record<string, string> = nameLabel, extra: Partial<ObjectMeta> = {}): ObjectMeta {
  return { name, namespace: v.namespace(), labels, ...extra };
}

/** The container-level hardening every container here gets. */
function containerSecurity(): SecurityContext {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ['ALL'] } };
}

function namespaceFile(v: ValueRef): ManifestFile {
  const namespace: Namespace = { apiVersion: 'v1', kind: 'Namespace', metadata: { name: v.namespace(), labels: nameLabel } };
  return { file: 'namespace.yaml', when: ['namespace.create'], objects: [namespace] };
}

function configFile(v: ValueRef): ManifestFile {
  const configMap: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: meta(v, CONFIG_MAP), data: { 'hornets.json': v.json('team') } };
  return { file: 'configmap.yaml', when: [], objects: [configMap] };
}

function secretFile(v: ValueRef): ManifestFile {
  // No data at all: an empty Secret that the operator fills. A key with an empty value would reach
  // the agent CLIs as a set-but-empty API key, which some take as a wrong key.
  const secret: Secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    // helm uninstall leaves it, with the keys the operator put in.
    metadata: meta(v, v.str('secrets.name'), nameLabel, { annotations: { 'hornets.dev/expected-keys': SECRET_KEYS.join(','), 'helm.sh/resource-policy': 'keep' } }),
    type: 'Opaque',
  };
  return { file: 'secret.yaml', when: ['secrets.create'], objects: [secret] };
}

function nodeContainer(v: ValueRef, node: NodeContract): Container {
  const probe = (path: string, periodSeconds: number, failureThreshold: number) => ({ httpGet: { path, port: 'metrics' }, periodSeconds, timeoutSeconds: 3, failureThreshold });
  return {
    name: 'node',
    image: v.image('image'),
    imagePullPolicy: v.str('image.pullPolicy'),
    // args, not command: the image's entrypoint (tini) stays PID 1, hands SIGTERM to the engine and
    // reaps the processes the agents leave (the tmux server daemonises away from the engine).
    args: node.command,
    workingDir: node.workDir,
    env: [
      // The node is the pod: hornets-0, hornets-1, … as hornets.json names them.
      { name: node.nodeEnv, valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: node.metricsHostEnv, value: node.metricsHost },
      { name: node.metricsPortEnv, value: String(node.metricsPort) },
      // hornets.json sits in the project, which holds the agents' worktrees (hornets refuses a
      // worktree outside the directory of hornets.json).
      { name: 'HORNETS_CONFIG', value: `${node.workDir}/hornets.json` },
      { name: 'HORNETS_HOME', value: node.stateDir },
      { name: 'HOME', value: HOME_DIR },
      // The image's CLIs cannot update themselves on a read-only root file system.
      { name: 'DISABLE_AUTOUPDATER', value: '1' },
    ],
    envFrom: [{ secretRef: { name: v.str('secrets.name'), optional: true } }],
    ports: [{ name: 'metrics', containerPort: node.metricsPort, protocol: 'TCP' }],
    startupProbe: probe(node.liveness.path, 5, 60),
    livenessProbe: probe(node.liveness.path, 10, 3),
    readinessProbe: probe(node.readiness.path, 5, 2),
    resources: v.tree<Container['resources']>('resources'),
    securityContext: containerSecurity(),
    volumeMounts: [
      { name: 'data', mountPath: node.stateDir, subPath: 'state' },
      { name: 'data', mountPath: node.workDir, subPath: 'work' },
      { name: 'data', mountPath: HOME_DIR, subPath: 'home' },
      { name: 'config', mountPath: `${node.workDir}/hornets.json`, subPath: 'hornets.json', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
    ],
  };
}

/**
 * hornets keeps its state only in a directory its own user owns, and a fresh volume's root belongs
 * to root (fsGroup changes its group only). So an init container, as the node's user, makes the
 * directories the node mounts (by subPath) on the volume.
 */
function volumeDirsContainer(v: ValueRef): Container {
  return {
    name: 'volume-dirs',
    image: v.image('image'),
    imagePullPolicy: v.str('image.pullPolicy'),
    command: ['mkdir', '-p', `${DATA_MOUNT}/state`, `${DATA_MOUNT}/work`, `${DATA_MOUNT}/home`],
    resources: { requests: { cpu: '10m', memory: '16Mi' }, limits: { cpu: '100m', memory: '64Mi' } },
    securityContext: containerSecurity(),
    volumeMounts: [{ name: 'data', mountPath: DATA_MOUNT }],
  };
}

function claim(v: ValueRef, sizePath: string, labels: Record<string, string>): PersistentVolumeClaim {
  return { metadata: { name: 'data', labels }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: v.str(sizePath) } } } };
}

function nodeFile(v: ValueRef, node: NodeContract): ManifestFile {
  const uid = node.user.uid;
  const statefulSet: StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(v, STATEFULSET, nodeLabels),
    spec: {
      serviceName: STATEFULSET,
      replicas: v.raw('replicas'),
      // Nodes do not wait for each other: each registers itself in Redis.
      podManagementPolicy: 'Parallel',
      selector: { matchLabels: nodeLabels },
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: { whenScaled: 'Retain', whenDeleted: 'Retain' },
      template: {
        // A changed hornets.json restarts the nodes: a running engine does not reload its workers.
        metadata: { labels: nodeLabels, annotations: { 'hornets.dev/config-sha256': v.jsonHash('team') } },
        spec: {
          terminationGracePeriodSeconds: node.stopGracePeriodSeconds,
          automountServiceAccountToken: false,
          // Service links would set HORNETS_PORT, HORNETS_REDIS_PORT=tcp://…: hornets reads
          // HORNETS_-prefixed variables as its settings, so these would be taken as bad settings.
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, fsGroupChangePolicy: 'OnRootMismatch', seccompProfile: { type: 'RuntimeDefault' } },
          // Spread the nodes over hosts: a lost host then takes one node's agents, not all.
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: { labelSelector: { matchLabels: nodeLabels }, topologyKey: 'kubernetes.io/hostname' } }],
            },
          },
          initContainers: [volumeDirsContainer(v)],
          containers: [nodeContainer(v, node)],
          volumes: [
            { name: 'config', configMap: { name: CONFIG_MAP } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [claim(v, 'persistence.size', nodeLabels)],
    },
  };
  return { file: 'statefulset.yaml', when: [], objects: [statefulSet] };
}

function serviceFile(v: ValueRef, node: NodeContract): ManifestFile {
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(v, STATEFULSET, nodeLabels),
    spec: { clusterIP: 'None', selector: nodeLabels, ports: [{ name: 'metrics', port: node.metricsPort, targetPort: 'metrics', protocol: 'TCP' }] },
  };
  return { file: 'service.yaml', when: [], objects: [service] };
}

function redisFile(v: ValueRef): ManifestFile {
  const service: Service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(v, REDIS, redisLabels),
    spec: { selector: redisLabels, ports: [{ name: 'redis', port: 6379, targetPort: 'redis', protocol: 'TCP' }] },
  };
  const uid = v.raw('redis.uid');
  const statefulSet: StatefulSet = {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(v, REDIS, redisLabels),
    spec: {
      serviceName: REDIS,
      replicas: 1,
      selector: { matchLabels: redisLabels },
      template: {
        metadata: { labels: redisLabels },
        spec: {
          terminationGracePeriodSeconds: 30,
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: { runAsNonRoot: true, runAsUser: uid, runAsGroup: uid, fsGroup: uid, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'redis',
              image: v.image('redis.image'),
              imagePullPolicy: v.str('redis.image.pullPolicy'),
              // AOF, fsync every second: a crash loses at most about a second of queue writes.
              // Protected mode off: it refuses every client from another pod when no password is
              // set; the NetworkPolicy lets only the nodes in.
              args: ['redis-server', '--appendonly', 'yes', '--appendfsync', 'everysec', '--dir', '/data', '--protected-mode', 'no'],
              ports: [{ name: 'redis', containerPort: 6379, protocol: 'TCP' }],
              livenessProbe: { tcpSocket: { port: 'redis' }, periodSeconds: 10, failureThreshold: 3 },
              readinessProbe: { exec: { command: ['redis-cli', 'ping'] }, periodSeconds: 5, failureThreshold: 2 },
              resources: v.tree<Container['resources']>('redis.resources'),
              securityContext: containerSecurity(),
              volumeMounts: [{ name: 'data', mountPath: '/data' }],
            },
          ],
        },
      },
      volumeClaimTemplates: [claim(v, 'redis.persistence.size', redisLabels)],
    },
  };
  return { file: 'redis.yaml', when: ['redis.enabled'], objects: [service, statefulSet] };
}

/**
 * Every node reports the same team-wide pending_tasks (the tasks waiting in Redis), so the HPA
 * reads it once, as an External metric, and wants one pod per averageValue of it. A Pods metric
 * would add up the same number once per pod and keep scaling as pods come.
 */
function hpaFile(v: ValueRef): ManifestFile {
  const hpa: HorizontalPodAutoscaler = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: meta(v, STATEFULSET, nodeLabels),
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: STATEFULSET },
      minReplicas: v.raw('autoscaling.minReplicas'),
      maxReplicas: v.raw('autoscaling.maxReplicas'),
      metrics: [{ type: 'External', external: { metric: { name: v.str('autoscaling.metricName') }, target: { type: 'AverageValue', averageValue: v.str('autoscaling.averageValue') } } }],
      behavior: {
        // A removed pod's running tasks go back to the queue: scale down slowly, one pod at a time.
        scaleDown: { stabilizationWindowSeconds: v.raw('autoscaling.scaleDownStabilizationSeconds'), policies: [{ type: 'Pods', value: 1, periodSeconds: 120 }] },
        scaleUp: { stabilizationWindowSeconds: 0, policies: [{ type: 'Pods', value: 2, periodSeconds: 60 }] },
      },
    },
  };
  return { file: 'hpa.yaml', when: ['autoscaling.enabled'], objects: [hpa] };
}

function pdbFile(v: ValueRef): ManifestFile {
  const pdb: PodDisruptionBudget = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(v, STATEFULSET, nodeLabels),
    spec: { maxUnavailable: v.raw('podDisruptionBudget.maxUnavailable'), selector: { matchLabels: nodeLabels } },
  };
  return { file: 'pdb.yaml', when: ['podDisruptionBudget.enabled'], objects: [pdb] };
}

function serviceMonitorFile(v: ValueRef): ManifestFile {
  const monitor: ServiceMonitor = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    metadata: { name: STATEFULSET, namespace: v.namespace(), labels: v.tree<Record<string, string>>('serviceMonitor.labels') },
    spec: { selector: { matchLabels: nodeLabels }, endpoints: [{ port: 'metrics', path: '/metrics', interval: v.str('serviceMonitor.interval') }] },
  };
  return { file: 'servicemonitor.yaml', when: ['serviceMonitor.enabled'], objects: [monitor] };
}

function nodeNetworkPolicyFile(v: ValueRef, node: NodeContract): ManifestFile {
  const dns = {
    to: [{ namespaceSelector: {}, podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } } }],
    ports: [
      { port: 53, protocol: 'UDP' },
      { port: 53, protocol: 'TCP' },
    ],
  };
  const policy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(v, STATEFULSET, nodeLabels),
    spec: {
      podSelector: { matchLabels: nodeLabels },
      policyTypes: ['Ingress', 'Egress'],
      // In: only scrapes of the metrics port (hooks and the engine's endpoints stay on 127.0.0.1).
      ingress: [{ from: v.tree<NetworkPolicyPeer[]>('networkPolicy.metricsFrom'), ports: [{ port: node.metricsPort, protocol: 'TCP' }] }],
      // Out: DNS, Redis, and HTTPS for the agent CLIs' APIs (and git over HTTPS).
      egress: [
        dns,
        { to: v.tree<NetworkPolicyPeer[]>('networkPolicy.redisEgress'), ports: [{ port: 6379, protocol: 'TCP' }] },
        { to: v.tree<NetworkPolicyPeer[]>('networkPolicy.httpsEgress'), ports: [{ port: 443, protocol: 'TCP' }] },
      ],
    },
  };
  return { file: 'networkpolicy.yaml', when: ['networkPolicy.enabled'], objects: [policy] };
}

function redisNetworkPolicyFile(v: ValueRef): ManifestFile {
  const policy: NetworkPolicy = {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: meta(v, REDIS, redisLabels),
    spec: {
      podSelector: { matchLabels: redisLabels },
      policyTypes: ['Ingress', 'Egress'],
      ingress: [{ from: [{ podSelector: { matchLabels: nodeLabels } }], ports: [{ port: 6379, protocol: 'TCP' }] }],
      egress: [],
    },
  };
  return { file: 'redis-networkpolicy.yaml', when: ['redis.enabled', 'networkPolicy.enabled'], objects: [policy] };
}

/** Every file of the deployment, in the order kubectl should apply them. */
export function manifestFiles(v: ValueRef, node: NodeContract): ManifestFile[] {
  return [
    namespaceFile(v),
    configFile(v),
    secretFile(v),
    serviceFile(v, node),
    nodeFile(v, node),
    redisFile(v),
    hpaFile(v),
    pdbFile(v),
    serviceMonitorFile(v),
    nodeNetworkPolicyFile(v, node),
    redisNetworkPolicyFile(v),
  ];
}
