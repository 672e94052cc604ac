/**
 * Text the demo agent prints to its terminal, made inert: message bodies arrive from anyone who
 * can queue a message, and raw they could retitle the pane (OSC 2), clear the screen, move the
 * cursor or switch charsets. Every control character becomes a visible stand-in (ESC -> ␛, BEL ->
 * ␇, CR -> ␍, DEL -> ␡, C1 -> ⟨9b⟩), so a reader still sees that it was there and no sequence
 * can start. Newlines and tabs stay (the caller turns newlines into CR LF).
 */
export function visible(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => {
    const code = c.charCodeAt(0);
    if (code < 0x20) return String.fromCharCode(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return `⟨${code.toString(16)}⟩`;
  });
}
