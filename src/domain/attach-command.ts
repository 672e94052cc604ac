/**
 * The command that attaches to an agent on another node (hornets.json `attach.remote`): a template
 * whose words are split first, then each placeholder replaced inside its own word. A value (a host
 * name, a socket) therefore always stays one argument and no shell ever reads it.
 */

/** What a template may name. `pod` is the node's host name, which in Kubernetes is the pod's name. */
export const ATTACH_PLACEHOLDERS = ['host', 'pod', 'node', 'socket', 'session', 'pane', 'window', 'agent'] as const;
export type AttachPlaceholder = (typeof ATTACH_PLACEHOLDERS)[number];
export type AttachValues = Record<AttachPlaceholder, string>;

export const DEFAULT_REMOTE_ATTACH = 'ssh -t {host} tmux -L {socket} attach -t {pane}';

const PLACEHOLDER_RE = /\{([^{}]*)\}/g;

/** The template's words: a string is split on whitespace, an array is taken as given. */
export function templateWords(template: string | readonly string[]): string[] {
  return typeof template === 'string' ? template.split(/\s+/).filter(Boolean) : [...template];
}

/** Why a template cannot be used, or null. */
export function attachTemplateProblem(template: string | readonly string[]): string | null {
  const words = templateWords(template);
  if (words.length === 0) return 'the attach command is empty: give a program and its arguments, e.g. "ssh -t {host} tmux -L {socket} attach -t {pane}"';
  for (const word of words) {
    for (const m of word.matchAll(PLACEHOLDER_RE)) {
      if (!(ATTACH_PLACEHOLDERS as readonly string[]).includes(m[1]!)) return `unknown placeholder {${m[1]}}: use ${ATTACH_PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`;
    }
  }
  return null;
}

/** argv of the attach command for these values (the template is checked by the config schema). */
export function remoteAttachArgv(template: string | readonly string[], values: AttachValues): string[] {
  return templateWords(template).map((word) => word.replace(PLACEHOLDER_RE, (whole, name: string) => (Object.hasOwn(values, name) ? values[name as AttachPlaceholder] : whole)));
}
