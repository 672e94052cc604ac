/**
 * A node started as its container starts it: deploy/node.json's command (the `hornets-tui` of it is
 * this checkout's launcher) with node.json's variables for the node name and the metrics address
 * and port. The tests give the address 127.0.0.1 and a free port where node.json says 0.0.0.0 and
 * 9464: every node shares this machine's network.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { binPath, cleanEnv, repoRoot } from './cli.js';
import { freePort } from './ports.js';
import { readNodeContract, type NodeContract } from '../../scripts/deploy/node-contract.js';

export const nodeSpec: NodeContract = readNodeContract(repoRoot);

export interface NodeProcess {
  name: string;
  child: ChildProcess;
  /** http://127.0.0.1:<port> of /metrics, /healthz, /readyz. */
  url: string;
  exited: Promise<number | null>;
  stderr(): string;
  /** SIGTERM (docker stop), resolves the exit code. */
  stop(): Promise<number | null>;
}

export async function startNodeCommand(o: { cwd: string; name: string; env: Record<string, string | undefined> }): Promise<NodeProcess> {
  if (nodeSpec.command[0] !== 'hornets-tui') throw new Error(`node.json's command starts with ${nodeSpec.command[0]}, not hornets-tui`);
  const port = await freePort();
  const env = cleanEnv({ ...o.env, [nodeSpec.nodeEnv]: o.name, [nodeSpec.metricsHostEnv]: '127.0.0.1', [nodeSpec.metricsPortEnv]: String(port) });
  const child = spawn(process.execPath, [binPath, ...nodeSpec.command.slice(1)], { cwd: o.cwd, env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name: o.name,
    child,
    url: `http://127.0.0.1:${port}`,
    exited,
    stderr: () => stderr,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Resolves once the node answers its readiness probe with 200; rejects with its stderr if it exits first. */
export async function waitReady(n: NodeProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (n.child.exitCode !== null) throw new Error(`node ${n.name} exited ${n.child.exitCode}: ${n.stderr()}`);
    const code = await fetch(`${n.url}${nodeSpec.readiness.path}`).then(
      (r) => r.status,
      () => 0,
    );
    if (code === 200) return;
    if (Date.now() > deadline) throw new Error(`node ${n.name} not ready within ${timeoutMs} ms (last ${code}): ${n.stderr()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
