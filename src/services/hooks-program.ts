import { join } from 'node:path';
import { packageRoot } from '../config/paths.js';

/** argv of our command hook: the same node that runs hornets, and the hook entry script. */
export function hookProgram(): string[] {
  return [process.execPath, join(packageRoot(), 'bin', 'hornets-hook.js')];
}
