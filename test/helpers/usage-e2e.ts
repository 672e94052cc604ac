/**
 * What the usage end-to-end tests (issue 17) read back from hornets: an agent's totals in
 * `status --json` and in the engine's Prometheus metrics, and a wait until the totals are exactly
 * the figures the stand-in API stated.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Project } from './cli.js';
import { waitFor } from './tmux.js';

export interface Tokens {
  input: number;
  output: number;
  cacheRead: number;
  cacheCreation: number;
  total: number;
}

export interface StatusUsage {
  name: string;
  tokens: Tokens;
  costUsd: number;
}

export function tokens(t: Omit<Tokens, 'total'>): Tokens {
  return { ...t, total: t.input + t.output + t.cacheRead + t.cacheCreation };
}

export async function agentStatus(cli: Project, agent: string): Promise<StatusUsage> {
  const list = JSON.parse((await cli.ok(['status', '--json'])).stdout) as StatusUsage[];
  const s = list.find((a) => a.name === agent);
  if (!s) throw new Error(`status --json shows no ${agent}`);
  return s;
}

/** Waits until status --json shows exactly `expected`; a count taken twice or missed times out, with the last figures. */
export async function totalsReach(cli: Project, agent: string, expected: Tokens, timeoutMs = 30_000): Promise<StatusUsage> {
  return waitFor(
    `status --json to show ${JSON.stringify(expected)}`,
    async () => {
      const s = await agentStatus(cli, agent);
      return JSON.stringify(s.tokens) === JSON.stringify(expected) ? s : null;
    },
    timeoutMs,
    250,
  ).catch(async (err: Error) => {
    throw new Error(`${err.message}; last: ${JSON.stringify((await agentStatus(cli, agent)).tokens)}`);
  });
}

/** The agent's token and cost counters as the running engine's /metrics states them. */
export async function metricsOf(cli: Project, agent: string): Promise<{ tokens: Omit<Tokens, 'total'>; costUsd: number }> {
  const base = readFileSync(path.join(cli.dir, '.hornets', 'run', 'metrics-endpoint'), 'utf8').trim();
  const text = await (await fetch(`${base}/metrics`)).text();
  const value = (name: string, labels: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
    if (!line) throw new Error(`/metrics has no ${name}{${labels}}`);
    return Number(line.slice(line.lastIndexOf(' ') + 1));
  };
  const kind = (k: string) => value('hornets_agent_tokens_total', `agent="${agent}",kind="${k}"`);
  return {
    tokens: { input: kind('input'), output: kind('output'), cacheRead: kind('cache_read'), cacheCreation: kind('cache_creation') },
    costUsd: value('hornets_agent_cost_usd_total', `agent="${agent}"`),
  };
}
