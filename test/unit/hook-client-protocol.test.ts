/**
 * The protocol word after the event in a hook command (`<client> <node> Stop codex`): both command
 * clients hand it on, to the engine as the X-Hornets-Protocol header and to the Node fallback as
 * its argument, and send no header without it (Claude Code's requests stay byte for byte as they
 * were). A word that is not a plain lower-case word makes the client do nothing. The engine here is
 * a stand-in that records the request and answers with the proof the credential names.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hookClients } from '../helpers/hook-clients.js';

let dir: string;
let server: Server;
let seen: { url: string; headers: IncomingHttpHeaders }[];
let port: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hornets-hookproto-'));
  mkdirSync(join(dir, 'run'));
  seen = [];
  server = createServer((req, res) => {
    seen.push({ url: req.url ?? '', headers: req.headers });
    req.resume();
    req.on('end', () => {
      const body = '{"ok":true}';
      res.writeHead(200, { 'x-hornets-server': 'cafe', 'content-length': Buffer.byteLength(body), connection: 'close' });
      res.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

/** Runs a client asynchronously (the stand-in engine answers on this process's event loop). */
function runClient(program: string, args: string[], nodeBin: string): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(program, [nodeBin, ...args], {
      env: { PATH: process.env.PATH, HORNETS_AGENT_ID: 'cx', HORNETS_HOME: dir, HORNETS_GENERATION: '1', HORNETS_HOOK_TOKEN: 'beef.cafe' },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.on('close', (code) => resolve({ code, stdout }));
    // A client exits without reading stdin for a word it does nothing with, as any hook may (the
    // agent CLIs ignore that EPIPE); the exit code and stdout tell the story.
    child.stdin.on('error', () => undefined);
    child.stdin.end('{"session_id":"s"}');
  });
}

describe.each(hookClients.filter((c) => c.available))('$name hook client', ({ program }) => {
  it('passes the protocol word to the engine as X-Hornets-Protocol, and sends none without it', async () => {
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} token\n`);
    const codex = await runClient(program, ['Stop', 'codex'], process.execPath);
    expect(codex).toEqual({ code: 0, stdout: '{"ok":true}' });
    const claude = await runClient(program, ['Stop'], process.execPath);
    expect(claude.code).toBe(0);
    expect(seen.map((s) => [s.url, s.headers['x-hornets-protocol']])).toEqual([
      ['/hook/Stop', 'codex'],
      ['/hook/Stop', undefined],
    ]);
  });

  it("hands Gemini's event names (BeforeAgent, AfterTool, AfterAgent, BeforeModel) on with its protocol word, and still nothing else", async () => {
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} token\n`);
    for (const event of ['BeforeAgent', 'AfterTool', 'AfterAgent', 'BeforeModel']) expect(await runClient(program, [event, 'gemini'], process.execPath)).toEqual({ code: 0, stdout: '{"ok":true}' });
    expect(await runClient(program, ['AfterModel', 'gemini'], process.execPath)).toEqual({ code: 0, stdout: '' });
    expect(seen.map((s) => [s.url, s.headers['x-hornets-protocol']])).toEqual([
      ['/hook/BeforeAgent', 'gemini'],
      ['/hook/AfterTool', 'gemini'],
      ['/hook/AfterAgent', 'gemini'],
      ['/hook/BeforeModel', 'gemini'],
    ]);
  });

  it('passes the word to the Node fallback as its argument when no engine answers', async () => {
    // A stand-in for node: it records the arguments it was given.
    const argsFile = join(dir, 'args');
    const fakeNode = join(dir, 'fake-node');
    writeFileSync(fakeNode, `#!/bin/sh\nshift\necho "$@" > '${argsFile}'\n`);
    chmodSync(fakeNode, 0o755);
    expect((await runClient(program, ['PostToolUse', 'codex'], fakeNode)).code).toBe(0);
    expect(readFileSync(argsFile, 'utf8')).toBe('PostToolUse codex\n');
    expect((await runClient(program, ['PostToolUse'], fakeNode)).code).toBe(0);
    expect(readFileSync(argsFile, 'utf8')).toBe('PostToolUse\n');
  });

  it('does nothing with a word that is not a plain lower-case word', async () => {
    writeFileSync(join(dir, 'run', 'hook-endpoint'), `${port} token\n`);
    const argsFile = join(dir, 'args');
    const fakeNode = join(dir, 'fake-node');
    writeFileSync(fakeNode, `#!/bin/sh\necho ran > '${argsFile}'\n`);
    chmodSync(fakeNode, 0o755);
    const r = await runClient(program, ['Stop', 'Codex\r\nX-Evil: 1'], fakeNode);
    expect(r).toEqual({ code: 0, stdout: '' });
    expect(seen).toEqual([]);
    expect(existsSync(argsFile)).toBe(false);
  });
});
