/** `queue export` / `queue import` line format: one ExportedMessage per line, validated per line. */
import * as z from 'zod';
import type { ExportedMessage } from '../domain/message.js';
import type { ImportIssue, ImportRecord } from './store.js';

export const EXPORT_FORMAT = 'hornets.message.v1';

const exportedSchema = z
  .object({
    format: z.literal(EXPORT_FORMAT),
    id: z.string().regex(/^[0-9a-z]{4,32}$/, { message: 'id must be 4–32 lower-case letters or digits' }),
    agent: z.string().min(1),
    priority: z.number().int().min(0).max(200),
    body: z.string(),
    sender: z.string().nullable(),
    key: z.string().min(1).max(256).nullable(),
    attempts: z.number().int().min(0),
    maxAttempts: z.number().int().min(1).max(100),
    redeliveries: z.number().int().min(0),
    createdAt: z.number().int().nonnegative(),
    expiresAt: z.number().int().nonnegative().nullable(),
    meta: z.record(z.string(), z.unknown()).nullable(),
  })
  .strict();

export function serializeExport(messages: ExportedMessage[]): string {
  return messages.map((m) => JSON.stringify({ format: EXPORT_FORMAT, ...m }) + '\n').join('');
}

export interface ParsedImport {
  records: ImportRecord[];
  errors: ImportIssue[];
}

/** Parses every line and reports every bad one with its line number; blank lines are ignored. */
export function parseImport(text: string): ParsedImport {
  const records: ImportRecord[] = [];
  const errors: ImportIssue[] = [];
  const lines = text.split('\n');
  // A file that does not end in a newline may have been cut off mid-write.
  const truncated = text.length > 0 && !text.endsWith('\n');
  lines.forEach((raw, i) => {
    const line = i + 1;
    const content = raw.replace(/\r$/, '');
    if (content.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (err) {
      const isLast = i === lines.length - 1;
      errors.push({ line, message: isLast && truncated ? 'truncated line (file does not end with a complete JSON line)' : `not valid JSON: ${(err as Error).message}` });
      return;
    }
    const parsed = exportedSchema.safeParse(value);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
      errors.push({ line, id: typeof (value as { id?: unknown })?.id === 'string' ? (value as { id: string }).id : undefined, message: `${where}${issue.message}` });
      return;
    }
    const { format: _format, ...message } = parsed.data;
    records.push({ line, message });
  });
  const seen = new Map<string, number>();
  for (const r of records) {
    const first = seen.get(r.message.id);
    if (first !== undefined) errors.push({ line: r.line, id: r.message.id, message: `duplicate id ${r.message.id} (also line ${first})` });
    else seen.set(r.message.id, r.line);
  }
  return { records, errors };
}
