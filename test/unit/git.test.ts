/**
 * The git adapter's decisions over an injected runner (createGit): which commands run and how git's
 * failures are read. The real program is exercised by the integration tests that create worktrees.
 */
import { describe, expect, it } from 'vitest';
import { createGit, GitError, type GitRunner } from '../../src/git/git.js';

type Step = { args: string[]; cwd: string; stdout?: string; stderr?: string };

/** A strict scripted git: each call must be the next step exactly; anything else fails the test. */
function scripted(...steps: Step[]): { run: GitRunner; done: () => void } {
  let next = 0;
  const run: GitRunner = async (args, cwd) => {
    const step = steps[next++];
    expect({ args, cwd }, `git call #${next}`).toEqual({ args: step?.args, cwd: step?.cwd });
    if (step!.stderr !== undefined) throw new GitError(args, step!.stderr);
    return step!.stdout ?? '';
  };
  return { run, done: () => expect(next, 'every expected git call was made').toBe(steps.length) };
}

describe('git adapter (injected runner)', () => {
  it('toplevel: the path, or null outside a repository; other failures are errors', async () => {
    const g = scripted(
      { args: ['rev-parse', '--show-toplevel'], cwd: '/repo/sub', stdout: '/repo\n' },
      { args: ['rev-parse', '--show-toplevel'], cwd: '/tmp', stderr: 'fatal: not a git repository (or any of the parent directories): .git\n' },
      { args: ['rev-parse', '--show-toplevel'], cwd: '/odd', stderr: 'fatal: detected dubious ownership in repository at /odd\n' },
    );
    const git = createGit(g.run);
    expect(await git.toplevel('/repo/sub')).toBe('/repo');
    expect(await git.toplevel('/tmp')).toBeNull();
    await expect(git.toplevel('/odd')).rejects.toThrow(/dubious ownership/);
    g.done();
  });

  it('addWorktree tries again when a concurrent add of a sibling worktree was half written (git races with itself)', async () => {
    const race = "Preparing worktree (new branch 'hornets/anga')\nfatal: failed to read .git/worktrees/fabien/commondir: Success\n";
    const g = scripted(
      { args: ['worktree', 'add', '-b', 'hornets/anga', '/wt/anga', 'HEAD'], cwd: '/repo', stderr: race },
      // The first attempt made the branch before it died: the next one checks it out.
      { args: ['worktree', 'add', '-b', 'hornets/anga', '/wt/anga', 'HEAD'], cwd: '/repo', stderr: "fatal: a branch named 'hornets/anga' already exists\n" },
      { args: ['show-ref', '--verify', '--quiet', 'refs/heads/hornets/anga'], cwd: '/repo' },
      { args: ['worktree', 'add', '/wt/anga', 'hornets/anga'], cwd: '/repo' },
      // Five times in a row is not a race any more: the error stands.
      ...Array.from({ length: 5 }, () => ({ args: ['worktree', 'add', '-b', 'b', '/wt/b', 'HEAD'], cwd: '/repo', stderr: race })),
    );
    const git = createGit(g.run);
    await git.addWorktree('/repo', '/wt/anga', 'hornets/anga');
    await expect(git.addWorktree('/repo', '/wt/b', 'b')).rejects.toThrow(/failed to read .git\/worktrees\/fabien\/commondir/);
    g.done();
  });

  it('addWorktree creates a missing branch from HEAD in one call, and checks out an existing one', async () => {
    const g = scripted(
      { args: ['worktree', 'add', '-b', 'new', '/wt/new', 'HEAD'], cwd: '/repo' },
      { args: ['worktree', 'add', '-b', 'marie', '/wt/marie', 'HEAD'], cwd: '/repo', stderr: "fatal: a branch named 'marie' already exists\n" },
      { args: ['show-ref', '--verify', '--quiet', 'refs/heads/marie'], cwd: '/repo' },
      { args: ['worktree', 'add', '/wt/marie', 'marie'], cwd: '/repo' },
      // Any other failure is the error, not a reason to try again.
      { args: ['worktree', 'add', '-b', 'x', '/wt/x', 'HEAD'], cwd: '/repo', stderr: "fatal: '/wt/x' already exists\n" },
      { args: ['show-ref', '--verify', '--quiet', 'refs/heads/x'], cwd: '/repo', stderr: '' },
    );
    const git = createGit(g.run);
    await git.addWorktree('/repo', '/wt/new', 'new');
    await git.addWorktree('/repo', '/wt/marie', 'marie');
    await expect(git.addWorktree('/repo', '/wt/x', 'x')).rejects.toThrow(/already exists/);
    g.done();
  });

  it('listWorktrees reads the porcelain format, detached worktrees with no branch', async () => {
    const porcelain = [
      'worktree /repo',
      'HEAD 1111',
      'branch refs/heads/main',
      '',
      'worktree /wt/marie',
      'HEAD 2222',
      'branch refs/heads/feature/x',
      '',
      'worktree /wt/detached',
      'HEAD 3333',
      'detached',
      '',
    ].join('\n');
    const g = scripted({ args: ['worktree', 'list', '--porcelain'], cwd: '/repo', stdout: porcelain });
    expect(await createGit(g.run).listWorktrees('/repo')).toEqual([
      { path: '/repo', branch: 'main' },
      { path: '/wt/marie', branch: 'feature/x' },
      { path: '/wt/detached', branch: null },
    ]);
    g.done();
  });

  it('removeWorktree passes --force only when asked', async () => {
    const g = scripted({ args: ['worktree', 'remove', '/wt/a'], cwd: '/repo' }, { args: ['worktree', 'remove', '--force', '/wt/b'], cwd: '/repo' });
    const git = createGit(g.run);
    await git.removeWorktree('/repo', '/wt/a');
    await git.removeWorktree('/repo', '/wt/b', { force: true });
    g.done();
  });
});
