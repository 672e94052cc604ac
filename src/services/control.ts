/**
 * Operator actions (pause, resume, restart, reset, rebrief) for the CLI and the console. With a
 * daemon running they go through it (it owns timers and recovery state); without one they are
 * applied directly, so the commands work either way.
 */
import { UsageError } from '../errors.js';
import { pokeDaemon, readEndpoint } from '../engine-client/poke.js';
import { request } from 'node:http';
import type { ProjectContext } from './context.js';
import { AgentManager } from './agents.js';
import { composeRebrief } from './rebrief.js';

export const controlActions = ['pause', 'resume', 'restart', 'reset', 'rebrief'] as const;
export type ControlAction = (typeof controlActions)[number];

function viaDaemon(stateDir: string, action: string, agent: string): Promise<string | null> {
  const ep = readEndpoint(stateDir);
  if (!ep) return Promise.resolve(null);
  const data = JSON.stringify({ action, agent });
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port: ep.port, path: '/control', method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'x-hornets-token': ep.token }, timeout: 30_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode === 200) resolve(text);
          else resolve(`error: ${text}`);
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end(data);
  });
}

export async function control(ctx: ProjectContext, action: ControlAction, agent: string): Promise<string> {
  const manager = new AgentManager(ctx.project, ctx.store, ctx.log);
  manager.agentConfig(agent);
  const answer = await viaDaemon(ctx.project.paths.root, action, agent);
  if (answer !== null) {
    if (answer.startsWith('error: ')) throw new UsageError(answer.slice(7));
    return answer;
  }
  switch (action) {
    case 'pause':
      await ctx.store.updateAgent(agent, { paused: true, state: 'paused' });
      return `${agent} paused: nothing is delivered until resumed`;
    case 'resume':
      await ctx.store.updateAgent(agent, { paused: false, state: 'idle' });
      return `${agent} resumed`;
    case 'restart':
      await manager.restartAgent(agent, { resume: true });
      await ctx.store.recordEvent({ agent, kind: 'agent_restarted', detail: { byRecovery: false, manual: true } });
      return `${agent} restarted`;
    case 'reset':
      await ctx.store.updateAgent(agent, { state: 'idle', lastError: null });
      await ctx.store.recordEvent({ agent, kind: 'breaker_closed', detail: { manual: true } });
      return `${agent}: breaker closed`;
    case 'rebrief': {
      const id = await composeRebrief(ctx, agent);
      await pokeDaemon(ctx.project.paths.root, '/wake', { agent });
      return `rebrief queued for ${agent} as ${id}`;
    }
  }
}
