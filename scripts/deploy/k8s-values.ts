/**
 * The chart's default values (deploy/helm/hornets/values.yaml) and their JSON schema
 * (values.schema.json). The plain manifests under deploy/k8s are these same defaults rendered, so
 * a value changed here changes both.
 */

export const STATEFULSET = 'hornets';
export const REDIS = 'hornets-redis';

/** The team that the ConfigMap's hornets.json holds: nodes are the StatefulSet's pods, hornets-0, hornets-1, … */
const team = {
  project: 'team',
  // Interactive agents run on one named node; hornets-0 exists as long as the StatefulSet has a pod.
  defaults: { priority: 5, node: `${STATEFULSET}-0` },
  store: { kind: 'redis', url: `redis://${REDIS}:6379` },
  // "." is the project (/work, beside hornets.json); without `worktree` an agent gets a git worktree of it.
  agents: [{ name: 'lead', profile: 'claude-code', worktree: '.' }],
  // A worker without `nodes` runs on every node: each pod the HPA adds takes tasks from the same Redis queue.
  workers: [{ kind: 'worker', name: 'builder', profile: 'claude-oneshot', maxConcurrent: 4 }],
};

export const defaultValues = {
  image: { repository: 'hornets-tui', tag: '0.1.0', pullPolicy: 'IfNotPresent' },
  namespace: { create: false },
  replicas: 2,
  team,
  secrets: {
    create: true,
    // The chart makes this Secret empty: the operator puts the values in (kubectl, an external secret manager).
    name: 'hornets-api-keys',
  },
  resources: {
    requests: { cpu: '500m', memory: '1Gi' },
    limits: { cpu: '2', memory: '4Gi' },
  },
  persistence: { size: '20Gi' },
  redis: {
    enabled: true,
    image: { repository: 'redis', tag: '7.4', pullPolicy: 'IfNotPresent' },
    uid: 999,
    persistence: { size: '8Gi' },
    resources: {
      requests: { cpu: '100m', memory: '256Mi' },
      limits: { cpu: '1', memory: '1Gi' },
    },
  },
  autoscaling: {
    enabled: true,
    minReplicas: 1,
    maxReplicas: 10,
    metricName: 'pending_tasks',
    averageValue: '20',
    scaleDownStabilizationSeconds: 600,
  },
  podDisruptionBudget: { enabled: true, maxUnavailable: 1 },
  serviceMonitor: { enabled: true, interval: '30s', labels: { release: 'prometheus' } },
  networkPolicy: {
    enabled: true,
    // Who may scrape :metrics. Default: any pod in the cluster (Prometheus's namespace varies).
    metricsFrom: [{ namespaceSelector: {} }],
    // The agent CLIs call their vendors' HTTPS APIs, whose addresses change: any public address on
    // 443, but not the cluster's private ranges nor the cloud metadata address (169.254.169.254).
    // Where the nodes reach Redis: the chart's Redis pods; with an external Redis, its address (ipBlock).
    redisEgress: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'hornets', 'app.kubernetes.io/component': 'redis' } } }],
    httpsEgress: [{ ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '100.64.0.0/10'] } }],
  },
};

export type Values = typeof defaultValues;

/** The keys the nodes read from the Secret (envFrom): named here and in its annotation, never given a value. */
export const SECRET_KEYS = ['ANTHROPIC_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY', 'REDIS_PASSWORD'];

const quantity = { type: 'string', pattern: '^[0-9]+(\\.[0-9]+)?(m|k|Ki|Mi|Gi|Ti|M|G|T)?$' };
const resources = {
  type: 'object',
  additionalProperties: false,
  required: ['requests', 'limits'],
  properties: {
    requests: { type: 'object', additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
    limits: { type: 'object', additionalProperties: false, properties: { cpu: quantity, memory: quantity } },
  },
};
const image = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'tag', 'pullPolicy'],
  properties: { repository: { type: 'string', minLength: 1 }, tag: { type: 'string', minLength: 1 }, pullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] } },
};
const object = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({ type: 'object', additionalProperties: false, required, properties });
const smallInt = (minimum: number, maximum: number) => ({ type: 'integer', minimum, maximum });
const peers = { type: 'array', items: { type: 'object' } };

/** values.schema.json (JSON Schema draft 7, as Helm checks it on install, upgrade, lint and template). */
export const valuesSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'hornets chart values',
  ...object({
    image,
    namespace: object({ create: { type: 'boolean' } }),
    replicas: smallInt(1, 1000),
    // hornets-tui's own schema (schema/hornets.schema.json) checks the team in depth when a node starts.
    team: { type: 'object', required: ['project', 'agents'], properties: { project: { type: 'string' }, agents: { type: 'array', minItems: 1 } } },
    secrets: object({ create: { type: 'boolean' }, name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' } }),
    resources,
    persistence: object({ size: quantity }),
    redis: object({ enabled: { type: 'boolean' }, image, uid: smallInt(1, 65535), persistence: object({ size: quantity }), resources }),
    autoscaling: object({
      enabled: { type: 'boolean' },
      minReplicas: smallInt(1, 1000),
      maxReplicas: smallInt(1, 1000),
      metricName: { type: 'string', minLength: 1 },
      averageValue: quantity,
      scaleDownStabilizationSeconds: smallInt(0, 3600),
    }),
    podDisruptionBudget: object({ enabled: { type: 'boolean' }, maxUnavailable: smallInt(0, 1000) }),
    serviceMonitor: object({ enabled: { type: 'boolean' }, interval: { type: 'string', pattern: '^[0-9]+(ms|s|m|h)$' }, labels: { type: 'object', additionalProperties: { type: 'string' } } }),
    networkPolicy: object({ enabled: { type: 'boolean' }, metricsFrom: peers, redisEgress: peers, httpsEgress: peers }),
  }),
};
