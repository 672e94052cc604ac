import { describe, expect, it } from 'vitest';
import { parseOneShotOutput, type OneShotOutputKind } from '../../src/domain/oneshot-output.js';

describe('parseOneShotOutput', () => {
  const ok = JSON.stringify({ type: 'result', subtype: 'success', is_error: false, result: 'the answer', total_cost_usd: 0.0123, usage: { input_tokens: 10, output_tokens: 3 } });
  const table: Array<{ name: string; kind: OneShotOutputKind; stdout: string; expected: Record<string, unknown> }> = [
    {
      name: 'claude -p JSON',
      kind: 'claude-json',
      stdout: `${ok}\n`,
      expected: {
        text: 'the answer',
        isError: false,
        costUsd: 0.0123,
        usage: { input_tokens: 10, output_tokens: 3 },
        tokens: { tokens: { input: 10, output: 3, cacheRead: 0, cacheCreation: 0 }, model: null },
        malformed: null,
      },
    },
    { name: 'warnings before the JSON line', kind: 'claude-json', stdout: `warning: something\n${ok}\n`, expected: { text: 'the answer', isError: false } },
    { name: 'is_error', kind: 'claude-json', stdout: JSON.stringify({ result: 'boom', is_error: true }), expected: { text: 'boom', isError: true, costUsd: null, usage: null } },
    { name: 'an error subtype', kind: 'claude-json', stdout: JSON.stringify({ subtype: 'error_max_turns', is_error: false }), expected: { text: null, isError: true } },
    { name: 'not JSON', kind: 'claude-json', stdout: 'this is not JSON\n', expected: { isError: true, malformed: 'its output is not a JSON result: "this is not JSON"' } },
    { name: 'nothing', kind: 'claude-json', stdout: '', expected: { isError: true, malformed: 'it printed nothing (expected a JSON result)' } },
    { name: 'a JSON array is no result', kind: 'claude-json', stdout: '[1,2]', expected: { isError: true } },
    { name: 'text', kind: 'text', stdout: '  all of it\n', expected: { text: 'all of it', isError: false, malformed: null } },
    { name: 'empty text', kind: 'text', stdout: '\n', expected: { text: null, isError: false } },
    // As codex exec --json 0.171.0 printed them against the stand-in API (an `error` item is a warning).
    {
      name: 'codex exec --json events',
      kind: 'codex-jsonl',
      stdout: [
        '{"type":"thread.started","thread_id":"t1"}',
        '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `fake-model` not found."}}',
        '{"type":"turn.started"}',
        '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"first"}}',
        '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"The answer is 42."}}',
        '{"type":"turn.completed","usage":{"input_tokens":10,"cached_input_tokens":0,"output_tokens":5}}',
      ].join('\n'),
      expected: {
        text: 'The answer is 42.',
        isError: false,
        usage: { input_tokens: 10, cached_input_tokens: 0, output_tokens: 5 },
        tokens: { tokens: { input: 10, output: 5, cacheRead: 0, cacheCreation: 0 }, model: null },
        costUsd: null,
        malformed: null,
      },
    },
    {
      name: 'codex turn.failed',
      kind: 'codex-jsonl',
      stdout:
        '{"type":"thread.started","thread_id":"t1"}\n{"type":"turn.started"}\n{"type":"error","message":"stream disconnected"}\n{"type":"turn.failed","error":{"message":"unexpected status 500"}}\n',
      expected: { text: 'unexpected status 500', isError: true, malformed: null },
    },
    {
      name: 'codex printed no events',
      kind: 'codex-jsonl',
      stdout: 'Error: not inside a git repo\n',
      expected: { isError: true, malformed: 'its output is not codex exec --json events: "Error: not inside a git repo"' },
    },
    {
      name: 'gemini --output-format json, pretty-printed after a warning, tokens of two models summed',
      kind: 'gemini-json',
      stdout: `Ripgrep is not available.\n${JSON.stringify(
        {
          session_id: 's',
          response: 'The answer is 42.',
          stats: { models: { a: { tokens: { prompt: 10, candidates: 5, cached: 1, total: 15 } }, b: { tokens: { prompt: 2, candidates: 1, cached: 0, total: 3 } } } },
        },
        null,
        2,
      )}\n`,
      expected: {
        text: 'The answer is 42.',
        isError: false,
        usage: { input_tokens: 12, output_tokens: 6, cached_tokens: 1, total_tokens: 18 },
        tokens: { tokens: { input: 11, output: 6, cacheRead: 1, cacheCreation: 0 }, model: 'a' },
        malformed: null,
      },
    },
    {
      name: 'gemini error',
      kind: 'gemini-json',
      stdout: JSON.stringify({ error: { type: 'Error', message: 'quota exceeded', code: 1 } }, null, 2),
      expected: { text: 'quota exceeded', isError: true, usage: null, tokens: null },
    },
    { name: 'gemini not JSON', kind: 'gemini-json', stdout: 'Usage: gemini [options]\n', expected: { isError: true, malformed: 'its output is not a JSON result: "Usage: gemini [options]"' } },
  ];
  it.each(table)('$name', ({ kind, stdout, expected }) => {
    expect(parseOneShotOutput(kind, stdout)).toMatchObject(expected);
  });
});
