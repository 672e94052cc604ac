import { readFileSync } from 'node:fs';
import type { z } from 'zod';
import { ConfigError, errorMessage, type ConfigIssue } from '../errors.js';
import { jsonErrorOffset } from './json-locate.js';

/** `agents[2].name` rather than zod's array form, so users can find the spot in their file. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

export function zodIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((i) => {
    let message = i.message;
    if (i.code === 'unrecognized_keys') message = `unknown key${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return { path: formatPath(i.path), message };
  });
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split('\n').length;
  const col = pos - before.lastIndexOf('\n');
  return `line ${line}, column ${col}`;
}

/** Reads and parses a JSON file; syntax errors name the line and column. `seen` gets the text read. */
export function readJson(path: string, seen?: { path: string; text: string }[]): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(path, [{ path: '', message: code === 'ENOENT' ? 'file not found' : `cannot read: ${errorMessage(err)}` }], { cause: err });
  }
  seen?.push({ path, text });
  try {
    return JSON.parse(text);
  } catch (err) {
    const msg = errorMessage(err);
    const offset = jsonErrorOffset(text);
    const where = offset !== null ? ` at ${lineCol(text, offset)}` : '';
    throw new ConfigError(path, [{ path: '', message: `not valid JSON${where}: ${msg}` }], { cause: err });
  }
}

export function parseWith<T extends z.ZodType>(schema: T, value: unknown, file: string): z.output<T> {
  const result = schema.safeParse(value);
  if (!result.success) throw new ConfigError(file, zodIssues(result.error));
  return result.data;
}
