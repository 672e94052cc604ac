/**
 * A strict stand-in for `helm template` (no helm binary can be had here): renders exactly the
 * template forms scripts/deploy/k8s-render.ts emits, with Helm's semantics for them, and throws
 * on anything else, so a template that real Helm would read differently cannot pass unnoticed.
 */
import { stringify } from 'yaml';
import { goPrettyJson, sha256Hex, valueAt } from '../../scripts/deploy/k8s-render.js';

export class UnknownTemplateConstruct extends Error {}

const path = '([A-Za-z_][\\w]*(?:\\.[A-Za-z_][\\w]*)*)';
const forms: { re: RegExp; render: (m: RegExpExecArray, values: unknown, ns: string) => string }[] = [
  { re: new RegExp(`^\\.Values\\.${path}$`), render: (m, values) => scalar(valueAt(values, m[1]!), m[1]!) },
  { re: new RegExp(`^\\.Values\\.${path} \\| quote$`), render: (m, values) => quote(valueAt(values, m[1]!), m[1]!) },
  { re: new RegExp(`^\\.Values\\.${path} \\| toPrettyJson \\| quote$`), render: (m, values) => quote(goPrettyJson(valueAt(values, m[1]!)), m[1]!) },
  { re: new RegExp(`^\\.Values\\.${path} \\| toPrettyJson \\| sha256sum \\| quote$`), render: (m, values) => quote(sha256Hex(goPrettyJson(valueAt(values, m[1]!))), m[1]!) },
  {
    re: new RegExp(`^toYaml \\.Values\\.${path} \\| nindent (\\d+)$`),
    render: (m, values) => {
      const pad = ' '.repeat(Number(m[2]));
      const text = stringify(valueAt(values, m[1]!), { lineWidth: 0 }).trimEnd();
      return `\n${text
        .split('\n')
        .map((l) => pad + l)
        .join('\n')}`;
    },
  },
  { re: /^\.Release\.Namespace$/, render: (_m, _values, ns) => ns },
];

/** `{{ .Values.x }}`: Go prints a value from values.yaml; numbers are float64 there, so only small integers print as written. */
function scalar(value: unknown, at: string): string {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || Math.abs(value) >= 1e6) throw new UnknownTemplateConstruct(`${at}: Go prints ${value} (a float64) differently; give it as a string`);
    return String(value);
  }
  if (typeof value === 'string' && /^[\w./:-]*$/.test(value)) return value;
  throw new UnknownTemplateConstruct(`${at}: only numbers, booleans and plain strings may be printed bare`);
}

/** Sprig's quote is Go's %q; it equals JSON's quoting for printable ASCII and newlines, which is all we allow. */
function quote(value: unknown, at: string): string {
  if (typeof value !== 'string') throw new UnknownTemplateConstruct(`${at}: quote is used on strings only`);
  if (/[^\x20-\x7e\n]/.test(value)) throw new UnknownTemplateConstruct(`${at}: quoted text must be printable ASCII`);
  return JSON.stringify(value);
}

/** Renders one template file with the given values, as `helm template --namespace ns` would. */
export function renderTemplate(text: string, values: unknown, namespace: string): string {
  let out = '';
  // Each open `if`: whether its body is rendered.
  const stack: boolean[] = [];
  const live = () => stack.every(Boolean);
  let rest = text;
  for (;;) {
    const start = rest.indexOf('{{');
    if (start < 0) {
      if (rest.includes('}}')) throw new UnknownTemplateConstruct('a stray "}}"');
      if (live()) out += rest;
      break;
    }
    const end = rest.indexOf('}}', start);
    if (end < 0) throw new UnknownTemplateConstruct('an unclosed "{{"');
    const tag = rest.slice(start, end + 2);
    let before = rest.slice(0, start);
    rest = rest.slice(end + 2);
    const m = /^\{\{(-?) (.*?) \}\}$/.exec(tag);
    if (!m) throw new UnknownTemplateConstruct(`unknown template construct ${tag}`);
    const [, trimLeft, action = ''] = m;
    // `{{-` trims the white space of the template text just before it (not of earlier output).
    if (trimLeft === '-') before = before.replace(/\s+$/, '');
    if (live()) out += before;
    const cond = new RegExp(`^if \\.Values\\.${path}$`).exec(action);
    if (cond) {
      if (trimLeft !== '-') throw new UnknownTemplateConstruct(`${tag}: the generator writes {{- if …}}`);
      const v = valueAt(values, cond[1]!);
      if (typeof v !== 'boolean') throw new UnknownTemplateConstruct(`${tag}: conditions are booleans here`);
      stack.push(v);
      continue;
    }
    if (action === 'end') {
      if (stack.length === 0) throw new UnknownTemplateConstruct('{{- end }} without an if');
      stack.pop();
      continue;
    }
    const form = forms.find((f) => f.re.test(action));
    if (!form) throw new UnknownTemplateConstruct(`unknown template construct ${tag}`);
    const rendered = form.render(form.re.exec(action)!, values, namespace);
    if (live()) out += rendered;
  }
  if (stack.length > 0) throw new UnknownTemplateConstruct('an if without {{- end }}');
  return out;
}
