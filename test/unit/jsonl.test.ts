import { describe, expect, it } from 'vitest';
import { parseImport, serializeExport } from '../../src/queue/jsonl.js';
import type { ExportedMessage } from '../../src/domain/message.js';

const msg = (id: string, over: Partial<ExportedMessage> = {}): ExportedMessage => ({
  id,
  agent: 'marie',
  priority: 5,
  body: `body of ${id}\nsecond line`,
  sender: 'cli',
  key: null,
  attempts: 0,
  maxAttempts: 5,
  redeliveries: 0,
  createdAt: 1_700_000_000_000,
  expiresAt: null,
  meta: null,
  ...over,
});

describe('export/import line format', () => {
  it('round-trips messages exactly, multi-line bodies included', () => {
    const messages = [msg('aaaa1111'), msg('bbbb2222', { priority: 200, key: 'k', meta: { a: 1 }, expiresAt: 1_700_000_100_000 })];
    const text = serializeExport(messages);
    expect(text.split('\n')).toHaveLength(3);
    const parsed = parseImport(text);
    expect(parsed.errors).toEqual([]);
    expect(parsed.records.map((r) => r.message)).toEqual(messages);
    expect(parsed.records.map((r) => r.line)).toEqual([1, 2]);
  });

  it('reports every bad line by number and keeps the good ones', () => {
    const good = serializeExport([msg('aaaa1111'), msg('cccc3333')]).split('\n');
    const text = [good[0], '{not json', '', JSON.stringify({ format: 'hornets.message.v1', id: 'x' }), good[1]].join('\n') + '\n';
    const parsed = parseImport(text);
    expect(parsed.records.map((r) => r.line)).toEqual([1, 5]);
    expect(parsed.errors.map((e) => e.line)).toEqual([2, 4]);
    expect(parsed.errors[0]!.message).toMatch(/not valid JSON/);
  });

  it('calls a cut-off last line truncated', () => {
    const full = serializeExport([msg('aaaa1111'), msg('bbbb2222')]);
    const cut = full.slice(0, full.length - 20);
    const parsed = parseImport(cut);
    expect(parsed.records).toHaveLength(1);
    expect(parsed.errors).toEqual([expect.objectContaining({ line: 2, message: expect.stringMatching(/truncated/) })]);
  });

  it('rejects duplicate ids within one file', () => {
    const line = serializeExport([msg('aaaa1111')]);
    const parsed = parseImport(line + line);
    expect(parsed.errors).toEqual([expect.objectContaining({ line: 2, message: expect.stringMatching(/duplicate id/) })]);
  });

  it('rejects lines of another format and out-of-range fields', () => {
    const bad = [
      { ...msg('aaaa1111'), format: 'other' },
      { format: 'hornets.message.v1', ...msg('bbbb2222', { priority: 201 }) },
      { format: 'hornets.message.v1', ...msg('cccc3333'), extra: 1 },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n');
    const parsed = parseImport(`${bad}\n`);
    expect(parsed.records).toHaveLength(0);
    expect(parsed.errors.map((e) => e.line)).toEqual([1, 2, 3]);
  });
});
