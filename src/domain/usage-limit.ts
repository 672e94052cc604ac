/**
 * Usage and rate limits (issue 17): which failures are limits, the reset time the CLI states, and
 * the note the agent carries as its last error while it is `limited`. The note holds the reset
 * time as an absolute instant, so the engine (and an engine started later) resumes the agent then,
 * without re-reading a "3pm" that would mean another day by then. Pure: text and a clock value in.
 */

import type { AgentRecord } from './agent.js';

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Claude Code's StopFailure `error` kinds that mean "wait for the limit", not "something broke". */
const LIMIT_KINDS: ReadonlySet<string> = new Set(['rate_limit', 'billing_error']);
const LIMIT_TEXT = /you've hit your|you've reached your|usage limit reached|limit reached[\s\S]*resets|rate limited/i;

export function isLimitFailure(kind: string | null, text: string): boolean {
  return (kind !== null && LIMIT_KINDS.has(kind)) || LIMIT_TEXT.test(text);
}

/** Milliseconds to add to UTC to read the wall clock of `zone` at `instant`; null for an unknown zone. */
function zoneOffset(instant: number, zone: string): number | null {
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    }).formatToParts(instant);
  } catch {
    return null;
  }
  const n = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const wall = Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second'));
  return wall - (instant - (instant % 1000));
}

/** The instant the wall clock of `zone` shows `wall` (given as if it were UTC). */
function fromWall(wall: number, zone: string): number | null {
  const first = zoneOffset(wall, zone);
  if (first === null) return null;
  // The offset at the guess can differ from the offset at the answer across a DST change: look again.
  const second = zoneOffset(wall - first, zone);
  return wall - (second ?? first);
}

function hour24(hour: number, meridiem: string): number | null {
  if (hour < 1 || hour > 12) return null;
  return (hour % 12) + (meridiem.toLowerCase() === 'pm' ? 12 : 0);
}

const ABSOLUTE = /resets (?:([A-Za-z]{3}) (\d{1,2}), (?:(\d{4}), )?)?(\d{1,2})(?::(\d{2}))?\s?(am|pm)(?: \(([^)]+)\))?/i;
const RELATIVE = /resets in ((?:\d+\s*[dhms]\s*)+)/i;
const EPOCH = /usage limit reached\|(\d{9,11})/i;

/**
 * When the limit stated in `text` resets, or null when the text states none (or nothing we read
 * for sure). A time of day without a date is the next one to come; a zone the text does not name
 * is taken as UTC.
 */
export function parseLimitReset(text: string, now: number): number | null {
  const epoch = EPOCH.exec(text);
  if (epoch) return Number(epoch[1]) * 1000;
  const rel = RELATIVE.exec(text);
  if (rel) {
    const unit: Record<string, number> = { d: DAY_MS, h: HOUR_MS, m: 60_000, s: 1000 };
    let ms = 0;
    for (const m of rel[1]!.matchAll(/(\d+)\s*([dhms])/gi)) ms += Number(m[1]) * unit[m[2]!.toLowerCase()]!;
    return now + ms;
  }
  const abs = ABSOLUTE.exec(text);
  if (!abs) return null;
  const [, mon, day, year, h, min, meridiem, zoneText] = abs;
  const hour = hour24(Number(h), meridiem!);
  const minute = min === undefined ? 0 : Number(min);
  if (hour === null || minute > 59) return null;
  const zone = zoneText ?? 'UTC';
  const nowOffset = zoneOffset(now, zone);
  if (nowOffset === null) return null;
  const today = new Date(now + nowOffset);
  if (mon !== undefined) {
    const month = MONTHS.indexOf(mon.toLowerCase());
    if (month < 0) return null;
    const y = year !== undefined ? Number(year) : today.getUTCFullYear();
    let at = fromWall(Date.UTC(y, month, Number(day), hour, minute), zone);
    // "Jan 2" read on Dec 30 is next year's.
    if (at !== null && year === undefined && at < now - DAY_MS) at = fromWall(Date.UTC(y + 1, month, Number(day), hour, minute), zone);
    return at;
  }
  const at = fromWall(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate(), hour, minute), zone);
  if (at === null) return null;
  return at > now ? at : fromWall(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() + 1, hour, minute), zone);
}

const NOTE = /^limited(?: until (\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z))?: /;

/** The last error of a `limited` agent: the reset time (when known) and the CLI's words. */
export function limitNote(until: number | null, text: string): string {
  return until === null ? `limited: ${text}` : `limited until ${new Date(until).toISOString()}: ${text}`;
}

export function isLimitNote(lastError: string | null | undefined): boolean {
  return typeof lastError === 'string' && NOTE.test(lastError);
}

/** The reset time a limit note carries; null when none is known (or it is no limit note). */
export function limitUntil(lastError: string | null | undefined): number | null {
  if (typeof lastError !== 'string') return null;
  const m = NOTE.exec(lastError);
  return m?.[1] ? Date.parse(m[1]) : null;
}

export interface LimitResumePlan {
  /** Limited agents whose reset time has come: resume them now. */
  due: string[];
  /** The next reset still ahead (wake then); null when none is. */
  wakeAt: number | null;
}

/**
 * Which limited agents the engine resumes at `now`, and when to look next. A paused agent waits for
 * its operator; one whose reset was not stated waits for its next working turn or a reset.
 */
export function limitResumePlan(agents: readonly Pick<AgentRecord, 'name' | 'state' | 'lastError' | 'paused'>[], now: number): LimitResumePlan {
  const due: string[] = [];
  let wakeAt: number | null = null;
  for (const a of agents) {
    if (a.state !== 'limited' || a.paused) continue;
    const until = limitUntil(a.lastError);
    if (until === null) continue;
    if (until <= now) due.push(a.name);
    else wakeAt = wakeAt === null ? until : Math.min(wakeAt, until);
  }
  return { due, wakeAt };
}

/**
 * Claude Code (2.1.x, a subscriber's limit) opens its limit options menu over the prompt ("Stop and
 * wait for limit to reset", /rate-limit-options); it stays until someone answers it, and a nudge
 * typed into it would be lost. Escape closes it (its "stop and wait" choice).
 */
export const LIMIT_MENU_RE = /Stop and wait for limit to reset/;
