/** deploy/node.json: the node container's command, environment and probes, shared by every artifact under deploy/. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NodeContract {
  command: string[];
  nodeEnv: string;
  metricsHostEnv: string;
  metricsHost: string;
  metricsPortEnv: string;
  metricsPort: number;
  liveness: { path: string };
  readiness: { path: string };
  stateDir: string;
  workDir: string;
  user: { name: string; uid: number };
  stopGracePeriodSeconds: number;
}

export function readNodeContract(repoRoot: string): NodeContract {
  return JSON.parse(readFileSync(join(repoRoot, 'deploy', 'node.json'), 'utf8')) as NodeContract;
}
