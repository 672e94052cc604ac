/** What an agent changed in its worktree (the console's diff view): git status and diff against HEAD. */
import { Git } from '../git/git.js';

export interface WorktreeChanges {
  /** `git status --short`. */
  status: string;
  /** `git diff` against HEAD (untracked files are only in `status`). */
  diff: string;
}

export async function worktreeChanges(path: string): Promise<WorktreeChanges> {
  return { status: await Git.statusShort(path), diff: await Git.diff(path) };
}
