/** Where the panels go for a terminal size. Pure; recomputed on every resize. */

export interface Rect {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface Layout {
  header: Rect;
  agents: Rect;
  preview: Rect;
  queue: Rect;
  recovery: Rect;
  /** The tasks view: the whole body, in place of the team's four panels. */
  tasks: Rect;
  message: Rect;
  status: Rect;
}

const clamp = (v: number, lo: number, hi: number) => Math.max(lo, Math.min(hi, v));

export function computeLayout(width: number, height: number, agentCount: number): Layout {
  const w = Math.max(20, width);
  const h = Math.max(12, height);
  const body = h - 3; // header, message line, status bar
  // Agents: every row if it fits in 40 % of the body (borders + column header = 3 lines).
  const agentsH = clamp(agentCount + 3, 5, Math.max(5, Math.floor(body * 0.4)));
  const recoveryH = clamp(Math.floor(body * 0.2), 4, 10);
  const middleH = Math.max(4, body - agentsH - recoveryH);
  const previewW = Math.floor(w / 2);
  return {
    header: { top: 0, left: 0, width: w, height: 1 },
    agents: { top: 1, left: 0, width: w, height: agentsH },
    preview: { top: 1 + agentsH, left: 0, width: previewW, height: middleH },
    queue: { top: 1 + agentsH, left: previewW, width: w - previewW, height: middleH },
    recovery: { top: 1 + agentsH + middleH, left: 0, width: w, height: Math.max(3, h - 3 - agentsH - middleH) },
    tasks: { top: 1, left: 0, width: w, height: body },
    message: { top: h - 2, left: 0, width: w, height: 1 },
    status: { top: h - 1, left: 0, width: w, height: 1 },
  };
}
