/** Reads the committed Kubernetes artifacts (deploy/k8s, deploy/helm/hornets) for the deploy-k8s tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { packageRoot } from '../../src/config/paths.js';
import { renderTemplate } from './helm-lite.js';

export const root = packageRoot();
export const deployDir = join(root, 'deploy');
export const plainDir = join(deployDir, 'k8s');
export const chartDir = join(deployDir, 'helm', 'hornets');

export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> } } & Record<
  string,
  unknown
>;

export function yamlObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(doc.errors.map((e) => e.message).join('\n'));
      return doc.toJS() as K8sObject | null;
    })
    .filter((o): o is K8sObject => o !== null);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** The objects of the plain manifests, in kustomization order. */
export function plainObjects(): K8sObject[] {
  const kustomization = parse(readText(join(plainDir, 'kustomization.yaml'))) as { resources: string[] };
  return kustomization.resources.flatMap((file) => yamlObjects(readText(join(plainDir, file))));
}

export function chartValues(): Record<string, unknown> {
  return parse(readText(join(chartDir, 'values.yaml'))) as Record<string, unknown>;
}

/** Every template rendered with these values (helm-lite), as `helm template -n <namespace>` would. */
export function chartObjects(values: Record<string, unknown>, namespace = 'hornets'): K8sObject[] {
  const dir = join(chartDir, 'templates');
  return readdirSync(dir)
    .sort()
    .flatMap((file) => yamlObjects(renderTemplate(readText(join(dir, file)), values, namespace)));
}

export function withValue(values: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  const copy = structuredClone(values);
  const keys = path.split('.');
  let at = copy;
  for (const key of keys.slice(0, -1)) at = at[key] as Record<string, unknown>;
  at[keys[keys.length - 1]!] = value;
  return copy;
}

export function find(objects: K8sObject[], kind: string, name: string): K8sObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

export function key(o: K8sObject): string {
  return `${o.kind}/${o.metadata.name}`;
}
