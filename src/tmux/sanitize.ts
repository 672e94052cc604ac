/**
 * Text typed into an agent's pane must not be able to press keys: no escape sequences (they could
 * end a bracketed paste early or drive the terminal), no control characters (C-c, C-d, C-z, ESC),
 * no carriage returns (each would be an Enter). Tabs become spaces so no completion fires.
 */

// CSI, OSC (BEL or ST terminated), DCS/SOS/PM/APC strings, and the other ESC sequences: ESC,
// optional intermediates (0x20-0x2f), one final byte (0x30-0x7e). The last covers ESC 7, ESC =,
// ESC c and charset switches like ESC ( B (in every `tput sgr0`): stripping only the ESC would
// leave their final bytes behind as stray text ("7", "(B").
// eslint-disable-next-line no-control-regex
const escapeSequences = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[PX^_][^\x1b]*(?:\x1b\\)?|\x1b[ -/]*[0-~]|\x9b[0-?]*[ -/]*[@-~]/g;
// C0 except \n, plus DEL and C1 controls.
// eslint-disable-next-line no-control-regex
const controls = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/g;

export interface SanitizeResult {
  text: string;
  /** How many characters were removed or replaced, for the log. */
  neutralised: number;
}

export function sanitizeForPane(input: string): SanitizeResult {
  let count = 0;
  let text = input.replace(/\r\n?/g, '\n');
  text = text.replace(escapeSequences, (m) => {
    count += m.length;
    return '';
  });
  text = text.replace(/\t/g, () => {
    count++;
    return '  ';
  });
  text = text.replace(controls, () => {
    count++;
    return '';
  });
  return { text, neutralised: count };
}

/** One line for a nudge or a single-line push: newlines folded into spaces. */
export function singleLine(input: string): string {
  return sanitizeForPane(input).text.replace(/\n+/g, ' ').trim();
}
