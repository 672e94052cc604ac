/**
 * The live prompt region (issue 11, item 6): a permission prompt counts only where the real CLI
 * draws it — at the bottom of the pane, below the last input line — and never on lines that show
 * what hornets typed. Screens of Claude Code 2.1.197 are real captures (tmux capture-pane, run
 * against the scripted local API; the wide rules shortened).
 */
import { describe, expect, it } from 'vitest';
import { loadProfiles } from '../../src/config/load.js';
import { builtinProfilesDir } from '../../src/config/paths.js';
import { readPane, typedLineIndexes, type PaneReading } from '../../src/domain/pane-state.js';

const profiles = loadProfiles([builtinProfilesDir()]);
const patterns = (name: string) => profiles.get(name)!.patterns;

const geminiFooter = [
  '─────────────────────────────────────────',
  ' workspace (/directory)              branch              sandbox              /model',
  ' /tmp/hornets-gemini-e2e-hRLZuY/project/.hornets/worktrees/gm        hornets/gm        no sandbox        gemini-2.5-flash',
];
const geminiIdle = [
  '> remember the word PELICAN',
  '',
  '✦ noted',
  '',
  '',
  '                                                                                          ? for shortcuts',
  '─────────────────────────────────────────',
  ' Shift+Tab to accept edits',
  '─────────────────────────────────────────',
  ' >   Type your message or @path/to/file',
  ...geminiFooter,
  '',
  '',
].join('\n');
const geminiBusy = [
  ' > please run the tool',
  '',
  ' ⠴ Executing Hooks: /tmp/gx/run/hook.sh BeforeAgent (esc to cancel, 2s)        ? for shortcuts',
  '─────────────────────────────────────────',
  ' Shift+Tab to accept edits',
  '─────────────────────────────────────────',
  ' >   Type your message or @path/to/file',
  ...geminiFooter,
].join('\n');
const geminiPermission = [
  ' > please run the tool',
  '',
  '╭──────────────────────────────────────────────╮',
  '│ ? Shell  touch newfile.txt && rm -f newfile.txt │',
  '│ ╭──────────────────────────────────────────╮ │',
  '│ │ touch newfile.txt && rm -f newfile.txt   │ │',
  '│ ╰──────────────────────────────────────────╯ │',
  '│ Allow execution of [Shell]?                  │',
  '│                                              │',
  '│ ● 1. Allow once                              │',
  '│   2. Allow for this session                  │',
  '│   3. No, suggest changes (esc)               │',
  '╰──────────────────────────────────────────────╯',
].join('\n');

/**
 * Codex 0.171.0 asking to run a command (approval_policy "on-request", the model asking for
 * escalation), a real capture: the trailing blanks and the empty middle of the pane shortened.
 */
const codexApproval = [
  '',
  '  >_ OpenAI Codex (v0.171.0)',
  '     /tmp/hornets-codex-e2e-zZSjuH/project/.hornets/worktrees/cx',
  '',
  '',
  '› make the file',
  '',
  '',
  '• Running touch made-by-tool.txt',
  '',
  '',
  '',
  '',
  '  Would you like to run the following command?',
  '',
  '  Environment: local',
  '',
  '  Reason: Create the file the user asked for',
  '',
  '  $ touch made-by-tool.txt',
  '',
  '',
  '› 1. Yes, proceed (y)',
  "  2. Yes, and don't ask again for commands that start with `touch made-by-tool.txt` (p)",
  '  3. No, and tell Codex what to do differently (esc)',
  '',
  '  Press enter to confirm or esc to cancel',
].join('\n');

/** Claude Code 2.1.197 asking to run a Bash command. */
const claudeDialog = [
  '❯ say something',
  '',
  '● Here is a line with (yes/no) and Allow Bash? [y/n] and Approve',
  '',
  '✻ Cogitated for 0s',
  '',
  '❯ please run it',
  '',
  '● Bash(rm -f some-file.txt)',
  '  ⎿ \u00a0Waiting…',
  '',
  '────────────────────────────────────────',
  ' Bash command',
  '',
  '   rm -f some-file.txt',
  '   Remove some file',
  '',
  ' Do you want to proceed?',
  ' ❯ 1. Yes',
  '   2. Yes, and always allow access to cc/ from this project',
  '   3. No',
  '',
  ' Esc to cancel · Tab to amend · ctrl+e to explain',
].join('\n');

/** The same pane after Esc: back at its input box, the answer and the earlier reply above it. */
const claudeAfter = [
  '❯ say something',
  '',
  '● Here is a line with (yes/no) and Allow Bash? [y/n] and Approve',
  '',
  '✻ Cogitated for 0s',
  '',
  '❯ please run it',
  '',
  '● Bash(rm -f some-file.txt)',
  '  ⎿ \u00a0Interrupted · What should Claude do instead?',
  '',
  '────────────────────────────────────────',
  '❯',
  '────────────────────────────────────────',
  '  ? for shortcuts · ← for agents                                                                                                                                                      ● high · /effort',
].join('\n');

/** A reply that quotes the dialog's words as whole lines, then the input box. */
const claudeQuoting = [
  '● I will ask you first:',
  '  Do you want to proceed?',
  '  ❯ 1. Yes',
  '',
  '────────────────────────────────────────',
  '❯',
  '────────────────────────────────────────',
  '  ? for shortcuts · ← for agents',
].join('\n');

const longTyped = `please check the deploy script ${'and the config '.repeat(40)}then answer (yes/no) and tell me`;
/** An 80-column pane shows the long text wrapped; its start has scrolled away. */
const wrapped = (text: string, prompt: string) => {
  const all = `${prompt}${text}`;
  const rows: string[] = [];
  for (let i = 0; i < all.length; i += 80) rows.push(all.slice(i, i + 80));
  return rows.slice(-6);
};

interface Row {
  label: string;
  profile: string;
  screen: string;
  typed?: string[];
  want: PaneReading;
}

const rows: Row[] = [
  { label: 'Claude Code permission dialog', profile: 'claude-code', screen: claudeDialog, want: { verdict: 'permission', line: '❯ 1. Yes' } },
  { label: 'Claude Code back at its prompt after the dialog', profile: 'claude-code', screen: claudeAfter, want: { verdict: 'idle', line: null } },
  { label: 'Claude Code reply quoting the dialog above the input box', profile: 'claude-code', screen: claudeQuoting, want: { verdict: 'idle', line: null } },
  {
    label: 'demo: message body with "Allow Bash? [y/n]" above the prompt',
    profile: 'demo',
    screen: '[context] [msg m1 | from cli] Allow Bash? [y/n]\ndone: hi\ndemo> ',
    want: { verdict: 'idle', line: null },
  },
  { label: 'demo: the prompt itself', profile: 'demo', screen: 'done: hi\nAllow Bash? [y/n] ', want: { verdict: 'permission', line: 'Allow Bash? [y/n]' } },
  { label: 'demo: the words inside a line are not the prompt', profile: 'demo', screen: 'the tool asked: Allow Bash? [y/n] twice', want: { verdict: 'unknown', line: null } },
  { label: 'shell: echoed "(yes/no)" above the prompt', profile: 'shell', screen: "hornets$ echo 'Overwrite (yes/no)?'\nOverwrite (yes/no)?\nhornets$ ", want: { verdict: 'idle', line: null } },
  {
    label: 'shell: a message we typed that ends in "(yes/no)", not yet submitted',
    profile: 'shell',
    screen: 'hornets$ shall I go on (yes/no)',
    typed: ['shall I go on (yes/no)'],
    want: { verdict: 'unknown', line: null },
  },
  {
    label: 'shell: the same line, not typed by us, is a prompt',
    profile: 'shell',
    screen: 'hornets$ ./deploy\nshall I go on (yes/no)',
    want: { verdict: 'permission', line: 'shall I go on (yes/no)' },
  },
  {
    label: 'shell: the prompt `read` draws below our typed command that names it',
    profile: 'shell',
    screen: "hornets$ read -p 'Delete all? [y/N] ' a; echo $a\nDelete all? [y/N]",
    typed: ["read -p 'Delete all? [y/N] ' a; echo $a"],
    want: { verdict: 'permission', line: 'Delete all? [y/N]' },
  },
  {
    label: 'shell: a long typed message wrapped, its start scrolled away',
    profile: 'shell',
    screen: wrapped(longTyped, 'hornets$ ').join('\n'),
    typed: [longTyped],
    want: { verdict: 'unknown', line: null },
  },
  {
    label: 'shell: ssh host key question',
    profile: 'shell',
    screen: 'hornets$ ssh box\nAre you sure you want to continue connecting (yes/no/[fingerprint])? ',
    want: { verdict: 'permission', line: 'Are you sure you want to continue connecting (yes/no/[fingerprint])?' },
  },
  { label: 'shell: sudo password', profile: 'shell', screen: 'hornets$ sudo ls\n[sudo] password for marie: ', want: { verdict: 'permission', line: '[sudo] password for marie:' } },
  { label: 'codex: "Approve" in ordinary output', profile: 'codex', screen: 'Approve the plan before lunch\nApprove\n▌', want: { verdict: 'idle', line: null } },
  { label: 'codex: "Approve" alone on the last line', profile: 'codex', screen: 'notes:\nApprove', want: { verdict: 'unknown', line: null } },
  {
    label: 'codex: its approval question',
    profile: 'codex',
    screen: 'Would you like to run the following command?\n\n  $ rm -rf build\n\n› 1. Yes, proceed\n  2. No',
    want: { verdict: 'permission', line: '› 1. Yes, proceed' },
  },
  { label: 'codex: asking to run a command (real capture)', profile: 'codex', screen: codexApproval, want: { verdict: 'permission', line: '› 1. Yes, proceed (y)' } },
  {
    label: 'codex: asking to run a command, the prompt hornets typed still on screen',
    profile: 'codex',
    screen: codexApproval,
    typed: ['make the file'],
    want: { verdict: 'permission', line: '› 1. Yes, proceed (y)' },
  },
  // Gemini CLI 0.61.0, real captures (200 columns, rules and padding shortened): its footer stays
  // under the input box in every state, so the box's "Type your message" is never the last line.
  { label: 'gemini: waiting at its prompt', profile: 'gemini', screen: geminiIdle, want: { verdict: 'idle', line: null } },
  {
    label: 'gemini: a turn running (the input box still drawn)',
    profile: 'gemini',
    screen: geminiBusy,
    want: { verdict: 'busy', line: '⠴ Executing Hooks: /tmp/gx/run/hook.sh BeforeAgent (esc to cancel, 2s)        ? for shortcuts' },
  },
  { label: 'gemini: asking to run a shell command', profile: 'gemini', screen: geminiPermission, want: { verdict: 'permission', line: '│ Allow execution of [Shell]?                  │' } },
  {
    label: 'aider: its question',
    profile: 'aider',
    screen: "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]: ",
    want: { verdict: 'permission', line: "Run shell command? (Y)es/(N)o/(D)on't ask again [Yes]:" },
  },
  { label: 'aider: the question quoted in a reply, then its prompt', profile: 'aider', screen: 'You will see (Y)es/(N)o [Yes]:\n> ', want: { verdict: 'idle', line: null } },
];

describe('readPane: the live prompt region', () => {
  it.each(rows)('$profile: $label', ({ profile, screen, typed, want }) => {
    expect(readPane(patterns(profile), screen, { typed })).toEqual(want);
  });
});

describe('typedLineIndexes', () => {
  it('marks the lines that show a typed text, wrapped or not, and nothing else', () => {
    const lines = ['hornets$ ls', 'a b', 'hornets$ please look at the', 'plan (yes/no)', 'plan (yes/no)', 'hornets$ '];
    expect([...typedLineIndexes(lines, ['please look at the plan (yes/no)'])].sort()).toEqual([2, 3]);
  });

  it('ignores texts too short to tell apart', () => {
    expect(typedLineIndexes(['y', 'hornets$ y'], ['y']).size).toBe(0);
  });
});
