/**
 * What hornets typed into each pane lately, so screen readers can tell its echo from the agent's own
 * output: a message saying "(yes/no)" sits on the input line of a shell, and is not a prompt. In
 * memory, per process (the engine does the typing that matters); bounded per pane and in age.
 */

/** Texts kept per pane, newest last. */
const PER_PANE = 8;
/** Older texts have long scrolled out of the live region. */
const MAX_AGE_MS = 10 * 60_000;

export class TypedLog {
  private readonly panes = new Map<string, { text: string; at: number }[]>();

  constructor(private readonly now: () => number = Date.now) {}

  add(paneId: string, text: string): void {
    const list = (this.panes.get(paneId) ?? []).filter((e) => e.text !== text);
    list.push({ text, at: this.now() });
    this.panes.set(paneId, list.slice(-PER_PANE));
  }

  recent(paneId: string): string[] {
    const list = this.panes.get(paneId);
    if (!list) return [];
    const cutoff = this.now() - MAX_AGE_MS;
    const kept = list.filter((e) => e.at >= cutoff);
    if (kept.length === 0) this.panes.delete(paneId);
    else if (kept.length !== list.length) this.panes.set(paneId, kept);
    return kept.map((e) => e.text);
  }
}
