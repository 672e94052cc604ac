import { Git } from '../git/git.js';

/** Branch and short status of an agent's worktree, for snapshots and rebriefs. */
export async function gitInfo(cwd: string): Promise<{ branch: string | null; status: string | null }> {
  const [branch, status] = await Promise.all([Git.branch(cwd), Git.statusShort(cwd).catch(() => null)]);
  return { branch, status };
}
