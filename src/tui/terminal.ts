/**
 * Terminal hand-over: the console gives its terminal to a full `tmux attach` on an agent's pane
 * (through the agents service) and takes it back when the user detaches. Suspending blessed is what
 * blessed's own screen.spawn does: normal screen, cursor on, cooked input, output muted until the
 * restore redraws everything.
 */
import type blessed from 'blessed';
import type { AgentManager } from '../services/agents.js';
import type { AgentRow } from '../services/snapshot.js';
import type { ProjectContext } from '../services/context.js';
import { planRemoteAttach, runRemoteAttach, type AttachNode } from '../services/remote-attach.js';

interface Program {
  lsaveCursor(k: string): void;
  lrestoreCursor(k: string, hide: boolean): void;
  normalBuffer(): void;
  alternateBuffer(): void;
  showCursor(): void;
  hideCursor(): void;
  flush(): void;
  mouseEnabled?: boolean;
  disableMouse(): void;
  enableMouse(): void;
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

/** Hands the terminal over; the returned function (idempotent) takes it back, then `redraw` runs. */
export function suspendScreen(screen: blessed.Widgets.Screen, redraw: () => void): () => void {
  const program = screen.program as unknown as Program;
  program.lsaveCursor('attach');
  program.normalBuffer();
  program.showCursor();
  const mouse = Boolean(program.mouseEnabled);
  if (mouse) program.disableMouse();
  program.flush();
  const write = program.output.write;
  program.output.write = (() => true) as typeof write;
  program.input.pause();
  program.input.setRawMode?.(false);
  let done = false;
  return () => {
    if (done) return;
    done = true;
    program.input.setRawMode?.(true);
    program.input.resume();
    program.output.write = write;
    program.alternateBuffer();
    program.hideCursor();
    if (mouse) program.enableMouse();
    screen.alloc();
    redraw();
    program.lrestoreCursor('attach', true);
  };
}

export type AttachOutcome = { ok: true; message: string } | { ok: false; message: string } | { ok: false; error: unknown };

/**
 * Attaches to the agent's pane with the terminal handed over: `suspend` is called only once the
 * pane is known to live, its restore always runs. The answer is for the message line.
 */
export async function attachToAgent(agents: AgentManager, agent: AgentRow, suspend: () => () => void): Promise<AttachOutcome> {
  if (!agent.alive) return { ok: false, message: `${agent.name} is not running (${agent.display.label}); R starts it` };
  let pane;
  try {
    pane = await agents.paneOf(agent.name);
  } catch (error) {
    return { ok: false, error };
  }
  if (pane.dead) return { ok: false, message: `${agent.name} is not running (its pane is dead); R restarts it` };
  const restore = suspend();
  try {
    const code = await agents.attachPane(pane);
    restore();
    return code === 0 ? { ok: true, message: `back from ${agent.name}` } : { ok: false, message: `tmux attach exited with status ${code}` };
  } catch (error) {
    restore();
    return { ok: false, error };
  }
}

/**
 * An agent of another node: hornets.json `attach.remote` (ssh, kubectl exec…) runs with the
 * terminal handed over. `nodes` is the console's last registry read (no read of its own).
 */
export async function attachToRemoteAgent(team: ProjectContext, agent: AgentRow, nodes: readonly AttachNode[] | undefined, suspend: () => () => void): Promise<AttachOutcome> {
  if (agent.node === null) return { ok: false, message: `${agent.name} names no node` };
  let plan;
  try {
    plan = await planRemoteAttach(team, agent.name, agent.node, nodes && nodes.length > 0 ? nodes : undefined);
  } catch (error) {
    return { ok: false, error };
  }
  const restore = suspend();
  try {
    const code = await runRemoteAttach(plan);
    restore();
    return code === 0
      ? { ok: true, message: `back from ${agent.name} (node ${agent.node})` }
      : { ok: false, message: `${plan.argv[0]} exited with status ${code} (attach to ${agent.name} on node ${agent.node})` };
  } catch (error) {
    restore();
    return { ok: false, error };
  }
}
