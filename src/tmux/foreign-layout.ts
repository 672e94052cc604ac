/**
 * The windows of another tmux server (an old Tmux-Orchestrator installation's), read once for
 * `migrate tmux-orchestrator --from-tmux`: `session:window` → the active pane's working directory.
 * Only `list-windows`, which never starts a server or changes one. The user asked for exactly this
 * server; hornets' own work never looks at a server it did not start.
 */
import { createRunner, type TmuxRunner } from './runner.js';

export interface ForeignWindow {
  session: string;
  index: number;
  name: string;
  /** The active pane's current directory. */
  path: string;
}

/** `socket`: a `-L` name; null: the default server. Empty when no server runs there. */
export async function readForeignLayout(socket: string | null, run: TmuxRunner = createRunner()): Promise<ForeignWindow[]> {
  const argv = [...(socket ? ['-L', socket] : []), 'list-windows', '-a', '-F', '#{session_name}\t#{window_index}\t#{window_name}\t#{pane_current_path}'];
  let stdout: string;
  try {
    stdout = (await run(argv)).stdout;
  } catch {
    return [];
  }
  return stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => {
      const [session = '', index = '', name = '', path = ''] = l.split('\t');
      return { session, index: Number(index), name, path };
    })
    .filter((w) => w.session !== '' && Number.isInteger(w.index));
}
