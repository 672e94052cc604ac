/**
 * One face for the three real-CLI e2e harnesses (ClaudeE2E, CodexE2E, GeminiE2E): a project with
 * one agent running the real CLI in a pane started by `hornets-tui up`, talking to its stand-in
 * API. For code that does the same thing to every CLI (bench:push); the e2e suites use the harness
 * classes themselves.
 */
import { spawnSync } from 'node:child_process';
import { AGENT as CLAUDE_AGENT, ClaudeE2E, claudeBin, claudeRuns, newText as claudeText } from './claude-e2e.js';
import { AGENT as CODEX_AGENT, CodexE2E, newText as codexText } from './codex-e2e.js';
import { AGENT as GEMINI_AGENT, GeminiE2E, newText as geminiText } from './gemini-e2e.js';
import type { Project } from './cli.js';

export type E2ECliName = 'claude' | 'codex' | 'gemini';
export const e2eCliNames: readonly E2ECliName[] = ['claude', 'codex', 'gemini'];

/** A turn request as it reached the stand-in: when, and the text new in it (prompt, hook context, tool output). */
export interface Turn {
  at: number;
  text: string;
}

export interface AgentE2E {
  cli: E2ECliName;
  agent: string;
  binary: string;
  /** The project's CLI runner (send, daemon start, …) and its queue database. */
  project: Project;
  root: string;
  socket: string;
  paneId(): string;
  logFile: string;
  up(): Promise<string>;
  /** The CLI's idle prompt is on screen and no turn runs. */
  waitForPrompt(): Promise<void>;
  turns(): Turn[];
  diagnostics(): string;
  cleanup(): Promise<void>;
}

type Harness = ClaudeE2E | CodexE2E | GeminiE2E;

function face(cli: E2ECliName, agent: string, binary: string, h: Harness, turns: () => Turn[]): AgentE2E {
  return {
    cli,
    agent,
    binary,
    project: h.cli,
    root: h.root,
    socket: h.socket,
    paneId: () => h.paneId,
    logFile: h.logFile,
    up: () => h.up(),
    waitForPrompt: () => h.waitForPrompt(),
    turns,
    diagnostics: () => h.diagnostics(),
    cleanup: () => h.cleanup(),
  };
}

/** The agent answers every turn with "ok". */
export async function startAgentE2E(cli: E2ECliName): Promise<AgentE2E> {
  switch (cli) {
    case 'claude': {
      if (!claudeRuns()) throw new Error(`${claudeBin} does not run here: \`npm ci\` installs the pinned @anthropic-ai/claude-code`);
      const h = await ClaudeE2E.create(() => ({ text: 'ok' }));
      return face(cli, CLAUDE_AGENT, claudeBin, h, () => h.mainRequests().map((r) => ({ at: r.at, text: claudeText(r) })));
    }
    case 'codex': {
      const h = await CodexE2E.create(() => ({ text: 'ok' }));
      return face(cli, CODEX_AGENT, h.codexBin, h, () => h.mainRequests().map((r) => ({ at: r.at, text: codexText(r) })));
    }
    case 'gemini': {
      const h = await GeminiE2E.create(() => ({ text: 'ok' }));
      return face(cli, GEMINI_AGENT, h.geminiBin, h, () => h.mainRequests().map((r) => ({ at: r.at, text: geminiText(r) })));
    }
  }
}

export function cliVersion(binary: string): string {
  return spawnSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 }).stdout.trim();
}
