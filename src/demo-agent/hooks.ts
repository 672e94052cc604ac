/**
 * Runs the hooks configured in a worktree the way Claude Code does: merged `.claude/settings.json`
 * and `.claude/settings.local.json`, each command through `sh -c` with the JSON payload on stdin,
 * `timeout` in seconds, exit code 2 = blocking error with stderr as the message.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface HookCommand {
  type: string;
  command?: string;
  timeout?: number;
}

interface HookEntry {
  matcher?: string;
  hooks?: HookCommand[];
}

type HookConfig = Record<string, HookEntry[]>;

export function loadHookConfig(cwd: string): HookConfig {
  const merged: HookConfig = {};
  for (const file of ['.claude/settings.json', '.claude/settings.local.json']) {
    const path = join(cwd, file);
    if (!existsSync(path)) continue;
    try {
      const parsed = JSON.parse(readFileSync(path, 'utf8')) as { hooks?: HookConfig };
      for (const [event, entries] of Object.entries(parsed.hooks ?? {})) {
        if (Array.isArray(entries)) (merged[event] ??= []).push(...entries);
      }
    } catch {
      // Claude Code reports a broken settings file and carries on; so do we.
    }
  }
  return merged;
}

export interface HookOutcome {
  /** Plain stdout (SessionStart adds it to the context). */
  stdout: string;
  json: Record<string, unknown> | null;
  exitCode: number | null;
  stderr: string;
  durationMs: number;
}

function matches(matcher: string | undefined, subject: string | undefined): boolean {
  if (!matcher || matcher === '*' || subject === undefined) return true;
  try {
    return new RegExp(`^(?:${matcher})$`).test(subject);
  } catch {
    return matcher === subject;
  }
}

function runOne(command: string, payload: string, timeoutSec: number, cwd: string): Promise<HookOutcome> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', command], { cwd, env: { ...process.env, CLAUDE_PROJECT_DIR: cwd }, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSec * 1000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined);
    child.on('error', () => undefined);
    child.on('close', (code) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString('utf8');
      let json: Record<string, unknown> | null = null;
      const trimmed = stdout.trim();
      if (trimmed.startsWith('{')) {
        try {
          json = JSON.parse(trimmed) as Record<string, unknown>;
        } catch {
          json = null;
        }
      }
      resolve({ stdout, json, exitCode: code, stderr: Buffer.concat(err).toString('utf8'), durationMs: Date.now() - started });
    });
    child.stdin.end(payload);
  });
}

export async function runHooks(config: HookConfig, event: string, payload: Record<string, unknown>, cwd: string, subject?: string): Promise<HookOutcome[]> {
  const entries = (config[event] ?? []).filter((e) => matches(e.matcher, subject));
  const commands = entries.flatMap((e) => (e.hooks ?? []).filter((h) => h.type === 'command' && typeof h.command === 'string'));
  const body = JSON.stringify({ hook_event_name: event, cwd, ...payload });
  return Promise.all(commands.map((h) => runOne(h.command!, body, h.timeout ?? 60, cwd)));
}

/** additionalContext from hookSpecificOutput, the form UserPromptSubmit/PostToolUse/SessionStart use. */
export function additionalContext(outcomes: HookOutcome[]): string[] {
  return outcomes.map((o) => (o.json?.hookSpecificOutput as { additionalContext?: unknown } | undefined)?.additionalContext).filter((c): c is string => typeof c === 'string' && c.length > 0);
}
