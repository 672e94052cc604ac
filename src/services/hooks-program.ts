import { join } from 'node:path';
import { packageRoot } from '../config/paths.js';

/**
 * argv of our command hook: the bash fast path (hands the payload to a running daemon) with the
 * node that runs hornets as its fallback for when no daemon answers.
 */
export function hookProgram(): string[] {
  return [join(packageRoot(), 'bin', 'hornets-hook'), process.execPath];
}
