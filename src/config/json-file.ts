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

/** Offset of the first byte that does not belong to well-formed UTF-8 (RFC 3629), or null. */
export function firstInvalidUtf8(b: Uint8Array): number | null {
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    const n = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    // A lead byte that cannot start a sequence, or a sequence cut off by the end of the file.
    if (n < 0 || i + n >= b.length) return i;
    const c1 = b[i + 1]!;
    // The second byte's range excludes overlong forms and UTF-16 surrogates.
    const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
    if (c1 < lo || c1 > hi) return i;
    for (let k = 2; k <= n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return null;
}

/** Reads and parses a JSON file; syntax errors name the line and column. `seen` gets the text read. */
export function readJson(path: string, seen?: { path: string; text: string }[]): unknown {
  let text: string;
  try {
    const bytes = readFileSync(path);
    const bad = firstInvalidUtf8(bytes);
    // Decoding would turn the byte into U+FFFD without a word, and that text would be what agents get.
    if (bad !== null) {
      const before = bytes.subarray(0, bad);
      const line = before.filter((b) => b === 0x0a).length + 1;
      const col = bad - before.lastIndexOf(0x0a);
      throw new ConfigError(path, [{ path: '', message: `not valid UTF-8 at line ${line}, byte ${col} of the line (byte 0x${bytes[bad]!.toString(16).padStart(2, '0')}); save the file as UTF-8` }]);
    }
    text = bytes.toString('utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
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
