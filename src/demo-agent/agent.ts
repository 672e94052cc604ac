/**
 * The `demo` agent: an interactive stand-in for Claude Code that needs no account. It sits at a
 * `demo> ` prompt, reads input in raw mode with bracketed paste (as real agents do), and speaks the
 * Claude Code hook protocol: SessionStart, UserPromptSubmit, PostToolUse (one simulated tool call
 * per turn), Stop (honouring `decision: block`), PreCompact + SessionStart(compact) on `/compact`,
 * SessionEnd on `/exit`; `/ask` puts up a permission prompt (Notification permission_prompt) that the
 * next line answers (PostToolUse and Stop follow), `/limit <s>` fails the turn on a usage limit that
 * resets in <s> seconds (StopFailure rate_limit, worded as Claude Code does). Everything it receives is appended to a JSON-lines transcript so tests can
 * check exactly what arrived.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { additionalContext, loadHookConfig, runHooks } from './hooks.js';
import { visible } from './visible.js';

const PROMPT = 'demo> ';
const PASTE_START = '\x1b[200~';
const PASTE_END = '\x1b[201~';
const MAX_STOP_BLOCKS = 8;

export interface DemoOptions {
  resume?: string;
  cwd?: string;
  transcript?: string;
  workMs?: number;
}

export async function runDemoAgent(options: DemoOptions = {}): Promise<void> {
  const cwd = options.cwd ?? process.cwd();
  const agent = process.env.HORNETS_AGENT_ID ?? 'demo';
  const sessionId = options.resume ?? randomUUID();
  const workMs = options.workMs ?? Number(process.env.HORNETS_DEMO_WORK_MS ?? 300);
  const transcript =
    options.transcript ?? process.env.HORNETS_DEMO_TRANSCRIPT ?? (process.env.HORNETS_HOME ? join(process.env.HORNETS_HOME, 'demo', `${agent}.jsonl`) : join(cwd, '.demo-agent', 'transcript.jsonl'));
  mkdirSync(dirname(transcript), { recursive: true });
  const record = (type: string, text: string) => appendFileSync(transcript, `${JSON.stringify({ ts: Date.now(), session: sessionId, type, text })}\n`);
  const write = (s: string) => process.stdout.write(s);
  // Everything said is inert text: bodies, hook output and echoed prompts alike (see visible.ts).
  // Our own styling is added by `receive` after neutralising, so it still works.
  const say = (s: string, styled = '') => write(`${styled}${visible(s).replace(/\n/g, '\r\n')}\r\n`);
  const hooks = () => loadHookConfig(cwd);
  const common = () => ({ session_id: sessionId, transcript_path: transcript, permission_mode: 'default' });

  let busy = false;
  let buffer = '';
  let pasting = false;
  let pending = '';
  let stopBlocks = 0;
  /** `/ask` waits for this: the next line typed answers the permission prompt. */
  let asking = false;
  const queue: string[] = [];

  const showPrompt = () => write(`${PROMPT}${visible(buffer).replace(/\n/g, '\r\n')}`);

  const receive = (type: string, label: string, texts: string[]) => {
    for (const t of texts) {
      record(type, t);
      say(` ${t}`, `\x1b[2m[${visible(label)}]\x1b[0m`);
    }
  };

  async function sessionStart(source: 'startup' | 'resume' | 'compact' | 'clear') {
    const outcomes = await runHooks(hooks(), 'SessionStart', { ...common(), source }, cwd, source);
    const plain = outcomes
      .filter((o) => o.exitCode === 0 && o.json === null)
      .map((o) => o.stdout.trim())
      .filter(Boolean);
    receive('context', `session ${source}`, [...plain, ...additionalContext(outcomes)]);
  }

  async function turn(prompt: string) {
    busy = true;
    stopBlocks = 0;
    record('prompt', prompt);
    const submit = await runHooks(hooks(), 'UserPromptSubmit', { ...common(), prompt }, cwd);
    const blocked = submit.find((o) => o.exitCode === 2 || o.json?.decision === 'block');
    if (blocked) {
      say(`[prompt blocked] ${blocked.stderr.trim() || String(blocked.json?.reason ?? '')}`);
      busy = false;
      return;
    }
    receive('context', 'context', additionalContext(submit));
    let input = prompt;
    for (;;) {
      // A transient status line, erased when done, like real agents' spinners: screen readers
      // (the busy pattern) must only see it while the agent really works.
      const spinner = () => write('\r\x1b[2Kworking…');
      const clearSpinner = () => write('\r\x1b[2K');
      spinner();
      await new Promise((r) => setTimeout(r, workMs / 2));
      clearSpinner();
      const tool = { tool_name: 'Bash', tool_input: { command: 'echo demo' }, tool_response: { stdout: 'demo', stderr: '', interrupted: false } };
      const post = await runHooks(hooks(), 'PostToolUse', { ...common(), ...tool }, cwd, 'Bash');
      receive('mid-turn', 'beside tool result', additionalContext(post));
      spinner();
      await new Promise((r) => setTimeout(r, workMs / 2));
      clearSpinner();
      const reply = `done: ${input.replace(/\s+/g, ' ').slice(0, 60)}`;
      say(reply);
      const stop = await runHooks(hooks(), 'Stop', { ...common(), stop_hook_active: stopBlocks > 0, last_assistant_message: reply }, cwd);
      const block = stop.find((o) => o.json?.decision === 'block' && typeof o.json.reason === 'string');
      if (block && stopBlocks < MAX_STOP_BLOCKS) {
        stopBlocks++;
        input = String(block.json!.reason);
        receive('stop-feedback', 'Stop hook feedback', [input]);
        continue;
      }
      break;
    }
    busy = false;
  }

  async function handleLine(line: string) {
    // Commands may arrive wrapped as a hornets message: "[msg <id> | from cli] /compact".
    const text = line.trim().replace(/^\[msg [^\]]*\]\s*/, '');
    if (text === '/exit') {
      await runHooks(hooks(), 'SessionEnd', { ...common(), reason: 'prompt_input_exit' }, cwd);
      say('bye');
      process.exit(0);
    }
    if (text === '/crash') {
      say('demo error: simulated crash');
      process.exit(3);
    }
    if (text === '/compact') {
      busy = true;
      await runHooks(hooks(), 'PreCompact', { ...common(), trigger: 'manual', custom_instructions: '' }, cwd, 'manual');
      say('compacted');
      await sessionStart('compact');
      busy = false;
      return;
    }
    if (asking) {
      asking = false;
      record('answer', text);
      const tool = { tool_name: 'Bash', tool_input: { command: 'echo asked' }, tool_response: { stdout: 'asked', stderr: '', interrupted: false } };
      await runHooks(hooks(), 'PostToolUse', { ...common(), ...tool }, cwd, 'Bash');
      say(`answered: ${text}`);
      await runHooks(hooks(), 'Stop', { ...common(), stop_hook_active: false, last_assistant_message: `answered: ${text}` }, cwd);
      return;
    }
    if (text === '/ask') {
      asking = true;
      await runHooks(hooks(), 'Notification', { ...common(), notification_type: 'permission_prompt', message: 'Claude needs your permission to use Bash' }, cwd, 'permission_prompt');
      say('Do you want to proceed? (answer with any line)');
      return;
    }
    const limit = /^\/limit (\d+)$/.exec(text);
    if (limit) {
      const words = `You've hit your session limit · resets in ${limit[1]}s`;
      say(words);
      await runHooks(hooks(), 'StopFailure', { ...common(), error: 'rate_limit', last_assistant_message: words }, cwd, 'rate_limit');
      return;
    }
    if (text === '') return;
    await turn(line);
  }

  async function drain() {
    while (!busy && queue.length > 0) {
      const line = queue.shift()!;
      await handleLine(line);
      showPrompt();
    }
  }

  function onInput(chunk: string) {
    let data = pending + chunk;
    pending = '';
    while (data.length > 0) {
      if (pasting) {
        const end = data.indexOf(PASTE_END);
        if (end === -1) {
          // Keep a possible partial end marker for the next chunk. A long paste arrives in several
          // reads: each one needs the same CR -> LF as the last, or its line breaks would be lost.
          const keep = data.lastIndexOf('\x1b');
          const partial = keep !== -1 && PASTE_END.startsWith(data.slice(keep));
          const chunk = (partial ? data.slice(0, keep) : data).replace(/\r/g, '\n');
          if (partial) pending = data.slice(keep);
          buffer += chunk;
          write(visible(chunk).replace(/\n/g, '\r\n'));
          return;
        }
        const pasted = data.slice(0, end).replace(/\r/g, '\n');
        buffer += pasted;
        write(visible(pasted).replace(/\n/g, '\r\n'));
        pasting = false;
        data = data.slice(end + PASTE_END.length);
        continue;
      }
      if (data.startsWith(PASTE_START)) {
        pasting = true;
        data = data.slice(PASTE_START.length);
        continue;
      }
      if (data.startsWith('\x1b') && PASTE_START.startsWith(data)) {
        pending = data;
        return;
      }
      const ch = data[0]!;
      data = data.slice(1);
      if (ch === '\r' || ch === '\n') {
        write('\r\n');
        const line = buffer;
        buffer = '';
        if (busy) queue.push(line);
        else {
          queue.push(line);
          void drain();
        }
      } else if (ch === '\x7f' || ch === '\b') {
        if (buffer.length > 0) {
          buffer = buffer.slice(0, -1);
          write('\b \b');
        }
      } else if (ch === '\x03') {
        buffer = '';
        write('^C\r\n');
        showPrompt();
      } else if (ch === '\x04') {
        if (buffer === '') {
          void runHooks(hooks(), 'SessionEnd', { ...common(), reason: 'logout' }, cwd).then(() => process.exit(0));
        }
      } else if (ch === '\x1b') {
        // Other escape sequences (arrows, focus events) are ignored, like a minimal line editor.
        const m = /^\[[0-9;?]*[ -/]*[@-~]/.exec(data);
        if (m) data = data.slice(m[0].length);
      } else if (ch >= ' ' || ch === '\t') {
        buffer += ch;
        write(ch);
      }
    }
  }

  if (process.stdin.isTTY) process.stdin.setRawMode(true);
  process.stdin.setEncoding('utf8');
  write('\x1b[?2004h');
  say(`demo agent ${agent} (session ${sessionId}) in ${cwd}`);
  busy = true;
  await sessionStart(options.resume ? 'resume' : 'startup');
  busy = false;
  // For crash-loop tests and demos: an agent that dies right after it starts.
  if (process.env.HORNETS_DEMO_CRASH_ON_START === '1') {
    say('demo error: crashing on start (HORNETS_DEMO_CRASH_ON_START=1)');
    process.exit(3);
  }
  showPrompt();
  process.stdin.on('data', (d: string) => onInput(d));
  process.stdin.on('end', () => process.exit(0));
  await drain();
}
