/** git adapter: worktrees for agents. Runs git through src/proc/run.ts (argv only, never a shell). */
import { runProgram, type ProgramFailure } from '../proc/run.js';
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HornetsError, ExitCode } from '../errors.js';

export class GitError extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly argv: readonly string[],
    readonly stderr: string,
    message?: string,
  ) {
    super(message ?? `git ${argv.join(' ')} failed: ${stderr.trim() || 'no output'}`);
  }
}

/** Runs `git <args>` in `cwd` and resolves with stdout; rejects with a GitError. Injectable for unit tests. */
export type GitRunner = (args: string[], cwd: string) => Promise<string>;

/** The real one: git through src/proc/run.ts, never prompting for credentials. */
export const runGit: GitRunner = async (args, cwd) => {
  try {
    return await runProgram('git', args, { cwd, extraEnv: { GIT_TERMINAL_PROMPT: '0' }, timeoutMs: 120_000 });
  } catch (err) {
    const f = err as ProgramFailure;
    throw f.missing ? new GitError(args, '', 'git not found on PATH; install git to use worktrees') : new GitError(args, f.stderr);
  }
};

export interface WorktreeInfo {
  path: string;
  branch: string | null;
}

/** git's own race between concurrent worktree adds: a sibling's metadata read while being written. */
const SIBLING_BEING_WRITTEN = /failed to read .*worktrees[\\/][^\s]*[\\/](commondir|gitdir)/;

/** The git operations hornets uses, over `git` (default: the real program). */
export function createGit(git: GitRunner = runGit) {
  // New branch first: the common case costs one git process, not a look-up before it (`up` of a
  // team runs this once per agent). A branch left by an earlier attempt is checked out as it is.
  const addOnce = async (repo: string, path: string, branch: string): Promise<void> => {
    try {
      await git(['worktree', 'add', '-b', branch, path, 'HEAD'], repo);
    } catch (err) {
      if (!(err instanceof GitError && /already exists/i.test(err.stderr) && (await client.branchExists(repo, branch)))) throw err;
      await git(['worktree', 'add', path, branch], repo);
    }
  };
  const client = {
    /** Top-level directory of the repository containing `dir`, or null when it is not in one. */
    async toplevel(dir: string): Promise<string | null> {
      try {
        return (await git(['rev-parse', '--show-toplevel'], dir)).trim();
      } catch (err) {
        if (err instanceof GitError && /not a git repository/i.test(err.stderr)) return null;
        throw err;
      }
    },

    async hasCommits(repo: string): Promise<boolean> {
      try {
        await git(['rev-parse', '--verify', '--quiet', 'HEAD'], repo);
        return true;
      } catch {
        return false;
      }
    },

    async branchExists(repo: string, branch: string): Promise<boolean> {
      try {
        await git(['show-ref', '--verify', '--quiet', `refs/heads/${branch}`], repo);
        return true;
      } catch {
        return false;
      }
    },

    async checkBranchName(repo: string, branch: string): Promise<boolean> {
      try {
        await git(['check-ref-format', '--branch', branch], repo);
        return true;
      } catch {
        return false;
      }
    },

    async listWorktrees(repo: string): Promise<WorktreeInfo[]> {
      const out = await git(['worktree', 'list', '--porcelain'], repo);
      const result: WorktreeInfo[] = [];
      let current: WorktreeInfo | null = null;
      for (const line of out.split('\n')) {
        if (line.startsWith('worktree ')) {
          current = { path: line.slice('worktree '.length), branch: null };
          result.push(current);
        } else if (line.startsWith('branch ') && current) {
          current.branch = line.slice('branch '.length).replace(/^refs\/heads\//, '');
        }
      }
      return result;
    },

    /**
     * Creates `path` on `branch` (new from HEAD unless it exists). Safe to run for several worktrees
     * of one repository at once (`up` prepares agents side by side): git itself is not — an add
     * reads every sibling's metadata and dies on one another add is still writing ("failed to read
     * .git/worktrees/<other>/commondir"); that failure is tried again, a few times.
     */
    async addWorktree(repo: string, path: string, branch: string): Promise<void> {
      for (let attempt = 1; ; attempt++) {
        try {
          return await addOnce(repo, path, branch);
        } catch (err) {
          if (attempt >= 5 || !(err instanceof GitError && SIBLING_BEING_WRITTEN.test(err.stderr))) throw err;
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
    },

    async removeWorktree(repo: string, path: string, options: { force?: boolean } = {}): Promise<void> {
      await git(['worktree', 'remove', ...(options.force ? ['--force'] : []), path], repo);
    },

    async branch(dir: string): Promise<string | null> {
      try {
        return (await git(['rev-parse', '--abbrev-ref', 'HEAD'], dir)).trim();
      } catch {
        return null;
      }
    },

    /**
     * Adds `pattern` to the repository's info/exclude (shared by all its worktrees), so files we
     * write into a worktree (our hook settings, with absolute paths) never end up in an agent's commit.
     */
    async ensureExcluded(dir: string, pattern: string): Promise<boolean> {
      const common = (await git(['rev-parse', '--path-format=absolute', '--git-common-dir'], dir)).trim();
      const file = join(common, 'info', 'exclude');
      const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
      if (current.split('\n').some((l) => l.trim() === pattern)) return false;
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, `${current && !current.endsWith('\n') ? '\n' : ''}# added by hornets-tui: agent hook settings\n${pattern}\n`);
      return true;
    },

    async statusShort(dir: string): Promise<string> {
      return git(['status', '--short', '--branch'], dir);
    },

    async diff(dir: string): Promise<string> {
      return git(['diff', 'HEAD', '--stat', '--patch'], dir);
    },
  };
  return client;
}

export type GitClient = ReturnType<typeof createGit>;

export const Git: GitClient = createGit();
