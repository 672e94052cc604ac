import { describe, expect, it } from 'vitest';
import { parseOneShotOutput } from '../../src/domain/oneshot-output.js';

describe('parseOneShotOutput', () => {
  const ok = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'the answer', total_cost_usd: 0.0123, usage: { input_tokens: 10, output_tokens: 3 } });
  const table: Array<{ name: string; kind: 'claude-json' | 'text'; stdout: string; expected: Record<string, unknown> }> = [
    {
      name: 'claude -p JSON',
      kind: 'claude-json',
      stdout: `${ok}\n`,
      expected: { text: 'the answer', isError: false, costUsd: 0.0123, usage: { input_tokens: 10, output_tokens: 3 }, malformed: null },
    },
    { name: 'warnings before the JSON line', kind: 'claude-json', stdout: `warning: something\n${ok}\n`, expected: { text: 'the answer', isError: false } },
    { name: 'is_error', kind: 'claude-json', stdout: JSON.stringify({ result: 'boom', is_error: true }), expected: { text: 'boom', isError: true, costUsd: null, usage: null } },
    { name: 'an error subtype', kind: 'claude-json', stdout: JSON.stringify({ subtype: 'error_max_turns', is_error: false }), expected: { text: null, isError: true } },
    { name: 'not JSON', kind: 'claude-json', stdout: 'this is not JSON\n', expected: { isError: true, malformed: 'its output is not a JSON result: "this is not JSON"' } },
    { name: 'nothing', kind: 'claude-json', stdout: '', expected: { isError: true, malformed: 'it printed nothing (expected a JSON result)' } },
    { name: 'a JSON array is no result', kind: 'claude-json', stdout: '[1,2]', expected: { isError: true } },
    { name: 'text', kind: 'text', stdout: '  all of it\n', expected: { text: 'all of it', isError: false, malformed: null } },
    { name: 'empty text', kind: 'text', stdout: '\n', expected: { text: null, isError: false } },
  ];
  it.each(table)('$name', ({ kind, stdout, expected }) => {
    expect(parseOneShotOutput(kind, stdout)).toMatchObject(expected);
  });
});
