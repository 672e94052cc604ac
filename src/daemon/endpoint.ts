import { join } from 'node:path';

/** Where the daemon publishes "<port> <token>" for hooks and the CLI (mode 0600). */
export function endpointFile(stateDir: string): string {
  return join(stateDir, 'run', 'hook-endpoint');
}
