/**
 * The plain manifests and the Helm chart come from one generator (scripts/deploy): the committed
 * files are what it writes, and the chart rendered with its default values is the plain manifests.
 * No helm binary can be installed here (none ships in an npm package), so the chart is rendered by
 * test/helpers/helm-lite.ts, which knows exactly the template forms the generator writes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderAll } from '../../scripts/deploy/k8s-render.js';
import { readNodeContract } from '../../scripts/deploy/node-contract.js';
import { chartDir, chartObjects, chartValues, deployDir, key, plainDir, plainObjects, root, withValue } from '../helpers/deploy-k8s.js';
import { renderTemplate, UnknownTemplateConstruct } from '../helpers/helm-lite.js';

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(deployDir, join(d.parentPath, d.name)))
    .sort();
}

describe('deploy: generated Kubernetes artifacts', () => {
  it('the committed deploy/k8s and deploy/helm/hornets are exactly what `npm run deploy:render` writes', () => {
    const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
    const rendered = renderAll(readNodeContract(root), version);
    expect([...filesUnder(plainDir), ...filesUnder(chartDir)].sort()).toEqual(rendered.map((f) => f.path).sort());
    for (const file of rendered) expect(readFileSync(join(deployDir, file.path), 'utf8'), `${file.path} is stale: run npm run deploy:render`).toBe(file.text);
  });

  it('the chart rendered with its default values (and the Namespace made) is the plain manifests, object for object', () => {
    const plain = plainObjects();
    const chart = chartObjects(withValue(chartValues(), 'namespace.create', true));
    expect(chart.map(key).sort()).toEqual(plain.map(key).sort());
    const byKey = new Map(chart.map((o) => [key(o), o]));
    for (const o of plain) expect(byKey.get(key(o)), key(o)).toEqual(o);
  });

  it('with the default values the chart leaves the Namespace to `helm install --create-namespace`', () => {
    const chart = chartObjects(chartValues());
    expect(chart.find((o) => o.kind === 'Namespace')).toBeUndefined();
    expect(chart).toHaveLength(plainObjects().length - 1);
  });

  it('the chart puts its objects in the release namespace', () => {
    const chart = chartObjects(chartValues(), 'team-a');
    expect(new Set(chart.map((o) => o.metadata.namespace))).toEqual(new Set(['team-a']));
  });

  it('switches turn their objects off: Redis (an external URL instead), HPA, PDB, ServiceMonitor, NetworkPolicy, Secret', () => {
    const keys = (values: Record<string, unknown>) => chartObjects(values).map(key);
    const values = chartValues();
    expect(keys(values)).toContain('StatefulSet/hornets-redis');
    const noRedis = keys(withValue(values, 'redis.enabled', false));
    expect(noRedis.filter((k) => k.endsWith('/hornets-redis'))).toEqual([]);
    expect(noRedis).toContain('StatefulSet/hornets');
    expect(keys(withValue(values, 'autoscaling.enabled', false))).not.toContain('HorizontalPodAutoscaler/hornets');
    expect(keys(withValue(values, 'podDisruptionBudget.enabled', false))).not.toContain('PodDisruptionBudget/hornets');
    expect(keys(withValue(values, 'serviceMonitor.enabled', false))).not.toContain('ServiceMonitor/hornets');
    expect(keys(withValue(values, 'networkPolicy.enabled', false)).filter((k) => k.startsWith('NetworkPolicy/'))).toEqual([]);
    expect(keys(withValue(values, 'secrets.create', false))).not.toContain('Secret/hornets-api-keys');
  });

  it('a value set at install time reaches the rendered objects', () => {
    const chart = chartObjects(withValue(withValue(chartValues(), 'replicas', 5), 'image.tag', '9.9.9'));
    const sts = chart.find((o) => key(o) === 'StatefulSet/hornets') as unknown as { spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } };
    expect(sts.spec.replicas).toBe(5);
    expect(sts.spec.template.spec.containers[0]!.image).toBe('hornets-tui:9.9.9');
  });

  it("a changed team changes the pods' config hash, so the nodes restart with it", () => {
    const hash = (values: Record<string, unknown>) =>
      (chartObjects(values).find((o) => key(o) === 'StatefulSet/hornets') as unknown as { spec: { template: { metadata: { annotations: Record<string, string> } } } }).spec.template.metadata
        .annotations['hornets.dev/config-sha256'];
    const before = hash(chartValues());
    expect(before).toMatch(/^[0-9a-f]{64}$/);
    expect(hash(withValue(chartValues(), 'team.project', 'other'))).not.toBe(before);
  });
});

describe('helm-lite refuses what it does not know', () => {
  const values = { a: { n: 3, s: 'x', big: 2_000_000, o: { k: 'v' } } };
  it('renders the forms the generator writes', () => {
    expect(renderTemplate('n: {{ .Values.a.n }}\ns: {{ .Values.a.s | quote }}\no: {{- toYaml .Values.a.o | nindent 2 }}\nns: {{ .Release.Namespace }}\n', values, 'ns1')).toBe(
      'n: 3\ns: "x"\no:\n  k: v\nns: ns1\n',
    );
    expect(renderTemplate('# c\n{{- if .Values.a.o }}\nx: 1\n{{- end }}\n', { a: { o: false } }, 'n')).toBe('# c\n');
  });
  it.each([
    ['a function it does not implement', '{{ .Values.a.s | upper }}'],
    ['a range', '{{- range .Values.a.o }}x{{- end }}'],
    ['include', '{{ include "x" . }}'],
    ['a missing value', '{{ .Values.a.missing }}'],
    ['a number Go would print as 2e+06', '{{ .Values.a.big }}'],
    ['quote of a number', '{{ .Values.a.n | quote }}'],
    ['an unclosed action', '{{ .Values.a.n '],
    ['an if on a non-boolean', '{{- if .Values.a.s }}x{{- end }}'],
    ['an if without end', '{{- if .Values.a.o }}x'],
  ])('refuses %s', (_what, template) => {
    expect(() => renderTemplate(template, values, 'n')).toThrow();
  });
  it('its refusals are UnknownTemplateConstruct where the construct is the problem', () => {
    expect(() => renderTemplate('{{ template "x" }}', values, 'n')).toThrow(UnknownTemplateConstruct);
  });
});
