/**
 * Typing into a pane, for agents without hooks and as the idle fallback: sanitise, refuse when the
 * agent is busy or asking permission, paste through a private buffer, check the text arrived,
 * press Enter separately and check it was taken, with bounded retries.
 */
import { HornetsError, ExitCode } from '../errors.js';
import { readPane, type PanePatterns, type PaneReading, type PaneVerdict } from '../domain/pane-state.js';
import type { TypedLog } from './typed-log.js';
import { sanitizeForPane } from '../tmux/sanitize.js';
import type { TmuxClient } from '../tmux/client.js';

export class PushRefused extends HornetsError {
  readonly exitCode = ExitCode.failure;
  constructor(
    readonly reason: 'busy' | 'permission' | 'dead' | 'empty',
    message: string,
    /** The screen line that showed the prompt or work, when the screen was the reason. */
    readonly line: string | null = null,
  ) {
    super(message);
  }
}

export class PushFailed extends HornetsError {
  readonly exitCode = ExitCode.failure;
}

export interface PushOptions {
  patterns: PanePatterns;
  /** Wait this long for the typed text to show up before giving up (default: 3 s + 20 ms per KiB). */
  arrivalTimeoutMs?: number;
  /** Wait this long after the first Enter for the pane to change, twice as long after the second (default 2 s). */
  enterTimeoutMs?: number;
  enterRetries?: number;
  /** Skip the screen check (the caller knows the agent is idle from its hooks). */
  knownIdle?: boolean;
  /** Multi-line text is bracketed-pasted; single lines are typed plainly. */
  now?: () => number;
  /** What was typed into panes lately (read past when judging the screen); this text is added. */
  typed?: TypedLog;
}

export interface PushResult {
  paneId: string;
  bytes: number;
  neutralised: number;
  enterPresses: number;
  ms: number;
  verdictBefore: PaneVerdict;
}

/** Whitespace-free form, so wrapping and joined lines compare equal. */
function squash(s: string): string {
  return s.replace(/\s+/g, '');
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, intervalMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A keystroke into a permission prompt answers it, and one into a busy agent interrupts it: refuse both. */
function refuseUnsafe(paneId: string, reading: PaneReading): void {
  const shown = reading.line ? ` (line: ${reading.line.slice(0, 80)})` : '';
  if (reading.verdict === 'permission') throw new PushRefused('permission', `pane ${paneId} shows a permission prompt${shown}; typing would answer it, so nothing was typed`, reading.line);
  if (reading.verdict === 'busy') throw new PushRefused('busy', `pane ${paneId} is busy${shown}; nothing was typed`, reading.line);
}

export async function pushText(tmux: TmuxClient, paneId: string, text: string, options: PushOptions): Promise<PushResult> {
  const started = Date.now();
  const pane = await tmux.pane(paneId);
  if (!pane || pane.dead) throw new PushRefused('dead', `pane ${paneId} is ${pane ? 'dead' : 'gone'}; nothing was typed`);
  const before = await tmux.capture(paneId);
  const reading = readPane(options.patterns, before, { typed: options.typed?.recent(paneId) });
  const verdict = reading.verdict;
  if (!options.knownIdle) refuseUnsafe(paneId, reading);
  const { text: clean, neutralised } = sanitizeForPane(text);
  if (clean.trim() === '') throw new PushRefused('empty', 'nothing printable left to type after removing control characters');
  // Recorded before it shows: a screen read while it is being typed must already know it.
  options.typed?.add(paneId, clean);
  const multiLine = clean.includes('\n');
  await tmux.paste(paneId, clean, { bracketed: multiLine });

  // The end of the text is what is visible last; if it shows, the paste landed.
  const lastLine =
    clean
      .split('\n')
      .filter((l) => l.trim() !== '')
      .pop() ?? clean;
  const probe = squash(lastLine).slice(-24);
  // Agents echo what they receive, and a long line echoed key by key takes a while (100 KB: about
  // 1 s for the demo agent on an idle machine); a fixed 3 s would give up on big messages under
  // load and leave them typed without Enter, to be typed again on retry. Allow 20 ms per KiB more.
  const arrivalMs = options.arrivalTimeoutMs ?? 3000 + Math.ceil(Buffer.byteLength(clean) / 1024) * 20;
  const arrived = await waitUntil(async () => squash(await tmux.capture(paneId)).includes(probe), arrivalMs);
  if (!arrived) throw new PushFailed(`typed text did not appear in pane ${paneId} within ${arrivalMs} ms; Enter was not pressed`);

  const typed = await tmux.capture(paneId);
  const retries = options.enterRetries ?? 2;
  for (let press = 1; press <= retries + 1; press++) {
    await tmux.sendKey(paneId, 'Enter');
    // A slow agent on a loaded machine may take over a second to react; pressing again then submits an
    // extra, empty prompt. So the first wait is generous and each one after it longer still: a
    // swallowed Enter (what the re-press is for) costs a few seconds, a doubled one costs a turn.
    const taken = await waitUntil(async () => (await tmux.capture(paneId)) !== typed, (options.enterTimeoutMs ?? 2000) * press);
    if (taken) return { paneId, bytes: Buffer.byteLength(clean), neutralised, enterPresses: press, ms: Date.now() - started, verdictBefore: verdict };
  }
  throw new PushFailed(`pane ${paneId} did not react to Enter after ${retries + 1} presses; the text is still in its input line`);
}

/** Where a nudge's time went: the look before typing, typing, the agent drawing the line, Enter. */
export interface NudgeTyping {
  ms: number;
  lookMs: number;
  typeMs: number;
  drawnMs: number;
  enterMs: number;
}

export interface NudgeTypingOptions {
  patterns: PanePatterns;
  /** How long the agent may take to draw the typed line before the nudge counts as failed. */
  arrivalTimeoutMs?: number;
  /** How often the screen is read while waiting for the line to show. */
  pollMs?: number;
  typed?: TypedLog;
}

/**
 * The idle nudge for agents with hooks: lighter than pushText because the agent's UserPromptSubmit
 * hook is the proof it was taken (the nudger presses Enter again when that does not come). One
 * look before typing (dead flag and screen in one tmux call), the line typed literally, and Enter
 * as soon as the agent has drawn the line; no wait after Enter.
 *
 * Enter must not reach the agent in the same read as the text: Claude Code takes such a burst as a
 * paste and keeps the line unsent in its input box (checked with 2.1.197: 12 nudges of 12). A line
 * on screen has been read, so Enter then is a key press of its own. `probe` must be unique to this
 * nudge (its nonce): an earlier nudge still visible in the transcript must not count as arrived.
 */
export async function typeNudge(tmux: TmuxClient, paneId: string, line: string, probe: string, options: NudgeTypingOptions): Promise<NudgeTyping> {
  const started = Date.now();
  const look = await tmux.paneScreen(paneId);
  if (!look || look.dead) throw new PushRefused('dead', `pane ${paneId} is ${look ? 'dead' : 'gone'}; nothing was typed`);
  refuseUnsafe(paneId, readPane(options.patterns, look.screen, { typed: options.typed?.recent(paneId) }));
  const looked = Date.now();
  options.typed?.add(paneId, line);
  await tmux.typeLiteral(paneId, line);
  const typed = Date.now();
  const wanted = squash(probe);
  const arrivalMs = options.arrivalTimeoutMs ?? 3000;
  const arrived = await waitUntil(async () => squash(await tmux.capture(paneId)).includes(wanted), arrivalMs, options.pollMs ?? 5);
  if (!arrived) throw new PushFailed(`the nudge did not appear in pane ${paneId} within ${arrivalMs} ms; Enter was not pressed`);
  const drawn = Date.now();
  await tmux.sendKey(paneId, 'Enter');
  const end = Date.now();
  return { ms: end - started, lookMs: looked - started, typeMs: typed - looked, drawnMs: drawn - typed, enterMs: end - drawn };
}
